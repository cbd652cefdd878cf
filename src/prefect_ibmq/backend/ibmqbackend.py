"""``IBMQBackend``: a backend of the job service as a qiskit ``BackendV2``."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import qiskit
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target

from prefect_ibmq.api import AccountClient
from prefect_ibmq.backend.properties import BackendProperties
from prefect_ibmq.backend.target import build_target
from prefect_ibmq.backend.validation import (
    check_each_circuit,
    check_experiment_count,
    check_job_fields,
    check_run_options,
    checked_circuits,
    circuit_list,
)
from prefect_ibmq.job import IBMQJob
from prefect_ibmq.wire import (
    BackendConfiguration,
    BackendStatus,
    JobSubmission,
    RunOptions,
    ShareLevel,
    circuits_to_base64,
)


class IBMQBackend(BackendV2):
    """A simulator of the job service; ``transpile(circuits, backend)`` and ``backend.run(...)`` work.

    Made by :meth:`IBMQService.backend` / :meth:`IBMQService.backends`.
    """

    def __init__(
        self, configuration: BackendConfiguration, service: object, api_client: AccountClient
    ) -> None:
        super().__init__(
            provider=service,
            name=configuration.backend_name,
            description=configuration.description,
            backend_version=configuration.backend_version,
        )
        self._configuration = configuration
        self._api = api_client
        self._target = build_target(configuration)

    def __repr__(self) -> str:
        return f"<IBMQBackend('{self.name}')>"

    @property
    def target(self) -> Target:
        """The backend's qubits, basis gates and coupling map."""
        return self._target

    @property
    def max_circuits(self) -> int:
        """Most circuits one job may hold (the configuration's ``max_experiments``)."""
        return self._configuration.max_experiments

    @classmethod
    def _default_options(cls) -> Options:
        defaults = RunOptions()
        return Options(shots=defaults.shots, memory=defaults.memory, seed_simulator=defaults.seed_simulator)

    def configuration(self) -> BackendConfiguration:
        """The configuration the service publishes for this backend."""
        return self._configuration.model_copy(deep=True)

    def properties(self) -> BackendProperties | None:
        """The backend's published noise, or None for an ideal backend."""
        published = self._configuration.properties
        return BackendProperties.from_published(self.name, published) if published else None

    def status(self) -> BackendStatus:
        """Whether the backend is operational and how many jobs on it are not final yet.

        Raises:
            IBMQJobApiError: If the service could not be reached.
        """
        return self._api.get_backend_status(self.name)

    def validate_circuits(
        self, circuits: QuantumCircuit | Sequence[QuantumCircuit], shots: int | None = None
    ) -> list[QuantumCircuit]:
        """Check circuits (and shots, when given) as :meth:`run` would, without the ``max_experiments`` limit.

        So a batch that will be split into jobs can be checked whole before any
        job is submitted.

        Returns:
            The circuits as a list.

        Raises:
            IBMQValueError: Naming the first bad circuit or value.
        """
        return checked_circuits(circuits, self._configuration, shots)

    def run(
        self,
        circuits: QuantumCircuit | Sequence[QuantumCircuit],
        shots: int | None = None,
        memory: bool | None = None,
        seed_simulator: int | None = None,
        job_name: str | None = None,
        job_tags: list[str] | None = None,
        share_level: str | None = None,
        experiment_id: str | None = None,
        header: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        private: bool = False,
    ) -> IBMQJob:
        """Submit circuits as one job and return it (it runs on the service).

        Every argument is checked before anything is sent.

        Args:
            circuits: One circuit or a list; each must measure and fit the backend.
            shots: Shots per circuit, 1..max_shots (default: ``backend.options.shots``).
            memory: Keep per-shot outcomes (default: ``backend.options.memory``).
            seed_simulator: Seed for the simulator (default: ``backend.options.seed_simulator``).
            job_name: A name for the job.
            job_tags: Tags for the job.
            share_level: Who else may see it: global, hub, group, project or none (default none).
            experiment_id: Id of the experiment the job is part of.
            header: A user header kept with the job.
            idempotency_key: Makes the submission safe to repeat: the same key
                gives back the same job. A fresh key is made when None, and is
                reused by this call's own retries.
            private: The job's result can then be read only once.

        Raises:
            IBMQBackendValueError: If an argument is invalid (nothing is submitted).
            IBMQJobApiError: If the service could not be reached.
        """
        check_job_fields(None, None, None, None, None, idempotency_key, False)
        submission = self.prepare_submission(
            circuits, shots, memory, seed_simulator, job_name, job_tags, share_level, experiment_id, header, private
        )
        record = self._api.submit_job(submission, idempotency_key or uuid.uuid4().hex)
        return IBMQJob.from_record(self, self._api, record)

    def prepare_submission(
        self,
        circuits: QuantumCircuit | Sequence[QuantumCircuit],
        shots: int | None = None,
        memory: bool | None = None,
        seed_simulator: int | None = None,
        job_name: str | None = None,
        job_tags: list[str] | None = None,
        share_level: str | None = None,
        experiment_id: str | None = None,
        header: dict[str, Any] | None = None,
        private: bool = False,
        circuits_checked: bool = False,
    ) -> JobSubmission:
        """Check every argument as :meth:`run` does and build the body it sends (circuits as QPY).

        ``circuits_checked``: the caller has run :meth:`validate_circuits` on these circuits
        already (a sweep checks all its circuits before the first job), so they are not checked twice.

        Raises:
            IBMQBackendValueError: If an argument is invalid.
        """
        shots = self.options.shots if shots is None else shots
        memory = self.options.memory if memory is None else memory
        seed_simulator = self.options.seed_simulator if seed_simulator is None else seed_simulator
        batch = circuit_list(circuits)
        check_experiment_count(batch, self._configuration)
        if not circuits_checked:
            check_each_circuit(batch, self._configuration)
        check_run_options(shots, memory, seed_simulator, self._configuration)
        check_job_fields(job_name, job_tags, share_level, experiment_id, header, None, private)
        return JobSubmission(
            backend=self.name,
            qpy=circuits_to_base64(batch),
            options=RunOptions(shots=shots, memory=memory, seed_simulator=seed_simulator),
            header=header or {},
            name=job_name,
            tags=job_tags or [],
            share_level=cast(ShareLevel, share_level or "none"),  # checked by check_job_fields
            experiment_id=experiment_id,
            client_info=dict(_client_info()),
            private=private,
        )


@functools.cache
def _client_info() -> dict[str, str]:
    """Versions of the submitting client, kept with the job (``IBMQJob.client_version``); read once per process."""
    try:
        ours = version("prefect-ibmq")
    except PackageNotFoundError:
        ours = "unknown"
    return {"qiskit": qiskit.__version__, "prefect-ibmq": ours}
