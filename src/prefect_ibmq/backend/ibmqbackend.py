"""``IBMQBackend``: a backend of the job service as a qiskit ``BackendV2``."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import qiskit
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import CouplingMap, Target

from prefect_ibmq.api import AccountClient
from prefect_ibmq.backend.run_options import JOB_FIELDS, RUN_OPTION_DEFAULTS, check_option_names, run_options
from prefect_ibmq.backend.target import build_target
from prefect_ibmq.backend.validation import (
    check_each_circuit,
    check_experiment_count,
    check_job_fields,
    checked_circuits,
    circuit_list,
)
from prefect_ibmq.backend.wire_circuits import circuits_for_wire
from prefect_ibmq.job import IBMQJob
from prefect_ibmq.properties import BackendProperties
from prefect_ibmq.wire import (
    BackendConfiguration,
    BackendStatus,
    JobSubmission,
    ShareLevel,
    circuits_to_base64,
)

logger = logging.getLogger("prefect_ibmq.backend")


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
        self._delays_logged = False

    def __repr__(self) -> str:
        return f"<IBMQBackend('{self.name}')>"

    @property
    def target(self) -> Target:
        """The backend's qubits, basis gates and coupling map."""
        return self._target

    @property
    def coupling_map(self) -> CouplingMap:
        """Which qubit pairs take two-qubit gates: the target's, or on an all-to-all backend every pair.

        A ``Target`` whose gates act on any qubits builds no coupling map (None), which code
        that reads ``backend.coupling_map`` cannot use (``AerSimulator.from_backend`` calls
        ``get_edges()`` on it); every pair says the same thing in a form it reads. The
        transpiler reads ``target``, not this.
        """
        built = self._target.build_coupling_map()
        return built if built is not None else CouplingMap.from_full(self._target.num_qubits)

    @property
    def max_circuits(self) -> int:
        """Most circuits one job may hold (the configuration's ``max_experiments``)."""
        return self._configuration.max_experiments

    @classmethod
    def _default_options(cls) -> Options:
        """The run options and their defaults (see :meth:`run`)."""
        return Options(**RUN_OPTION_DEFAULTS)

    def set_options(self, **fields: Any) -> None:
        """Change the defaults of :meth:`run`'s options, checked as ``run`` checks them.

        Raises:
            IBMQBackendValueError: For an option the backend does not take (the message lists
                those it takes), or a value it cannot honour.
        """
        check_option_names(fields, self.name, RUN_OPTION_DEFAULTS)
        run_options({**self._current_options(), **fields}, self._configuration)
        super().set_options(**fields)

    def _current_options(self) -> dict[str, Any]:
        return {name: getattr(self.options, name) for name in RUN_OPTION_DEFAULTS}

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

    def run(self, circuits: QuantumCircuit | Sequence[QuantumCircuit], **options: Any) -> IBMQJob:
        """Submit circuits as one job and return it (it runs on the service).

        Every option is checked before anything is sent; those not given are ``backend.options``'.

        Args:
            circuits: One circuit or a list; each must measure and fit the backend.
            **options: Run options, as IBM's and qiskit-aer's backends take them:
                ``shots`` (1..max_shots), ``memory`` (per-shot outcomes), ``seed_simulator``,
                ``meas_level`` (2, classified counts: the only level a simulator has),
                ``meas_return`` (``"single"`` or ``"avg"``; no effect on counts), ``rep_delay``
                (seconds, within ``configuration().rep_delay_range``; every shot starts in
                ``|0>`` anyway), ``init_qubits`` (True), ``noise_model`` (a qiskit-aer
                ``NoiseModel``, on backends without noise of their own) and ``method`` (one
                of ``configuration().methods``). And the job's fields: ``job_name``,
                ``job_tags``, ``share_level`` (global, hub, group, project or none),
                ``experiment_id``, ``header`` (kept with the job), ``private`` (the result
                can be read once) and ``idempotency_key`` (the same key gives back the same
                job; a fresh one is made when None, and reused by this call's own retries).

        Raises:
            IBMQBackendValueError: If an option is unknown or invalid (nothing is submitted).
            IBMQJobApiError: If the service could not be reached.
        """
        check_option_names(options, self.name, [*RUN_OPTION_DEFAULTS, *JOB_FIELDS])
        idempotency_key = options.pop("idempotency_key", None)
        check_job_fields(None, None, None, None, None, idempotency_key, False)
        submission = self.prepare_submission(circuits, **options)
        record = self._api.submit_job(submission, idempotency_key or uuid.uuid4().hex)
        return IBMQJob.from_record(self, self._api, record)

    def prepare_submission(
        self,
        circuits: QuantumCircuit | Sequence[QuantumCircuit],
        circuits_checked: bool = False,
        **options: Any,
    ) -> JobSubmission:
        """Check circuits and options as :meth:`run` does and build the body it sends (circuits as QPY).

        ``options``: those of :meth:`run` but ``idempotency_key``. ``circuits_checked``: the
        caller has run :meth:`validate_circuits` on these circuits already (a sweep checks all
        its circuits before the first job), so they are not checked twice.

        Raises:
            IBMQBackendValueError: If an argument is invalid.
        """
        job_fields = [name for name in JOB_FIELDS if name != "idempotency_key"]
        check_option_names(options, self.name, [*RUN_OPTION_DEFAULTS, *job_fields])
        chosen = run_options({**self._current_options(), **_given(options, RUN_OPTION_DEFAULTS)}, self._configuration)
        fields = {name: options.get(name) for name in job_fields}
        batch = circuit_list(circuits)
        check_experiment_count(batch, self._configuration)
        if not circuits_checked:
            check_each_circuit(batch, self._configuration)
        private = False if fields["private"] is None else fields["private"]
        check_job_fields(fields["job_name"], fields["job_tags"], fields["share_level"], fields["experiment_id"],
                         fields["header"], None, private)
        batch, conversions = circuits_for_wire(batch, self._configuration.dt)
        if conversions.count and not self._delays_logged:
            self._delays_logged = True  # once per backend: a sweep would repeat it for every job
            logger.info(
                "%s: delays converted to dt=%g s before sending (QPY keeps no delay unit), rounded as qiskit's "
                "scheduling rounds; e.g. %s (this job: %d converted, %d rounded)",
                self.name, self._configuration.dt, conversions.example, conversions.count, conversions.rounded,
            )
        return JobSubmission(
            backend=self.name,
            qpy=circuits_to_base64(batch),
            options=chosen,
            header=fields["header"] or {},
            name=fields["job_name"],
            tags=fields["job_tags"] or [],
            share_level=cast(ShareLevel, fields["share_level"] or "none"),  # checked by check_job_fields
            experiment_id=fields["experiment_id"],
            client_info=dict(_client_info()),
            private=private,
        )


def _given(options: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The options among ``names`` given as something else than None (None: ``backend.options``' value)."""
    return {name: options[name] for name in names if options.get(name) is not None}


@functools.cache
def _client_info() -> dict[str, str]:
    """Versions of the submitting client, kept with the job (``IBMQJob.client_version``); read once per process."""
    try:
        ours = version("prefect-ibmq")
    except PackageNotFoundError:
        ours = "unknown"
    return {"qiskit": qiskit.__version__, "prefect-ibmq": ours}
