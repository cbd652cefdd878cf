"""``RuntimeBackend``: a backend of IBM Quantum Platform with the ``IBMQBackend`` surface the tasks use.

``run`` submits one job of a program (``sampler`` by default) and never spends
QPU time twice for one idempotency key: IBM Quantum Platform has no
Idempotency-Key header, so the job carries the tag ``idempotency:<key>`` and the
platform is asked for a job with that tag before every submission (a retried
task, or a rerun of a flow, finds the job its first attempt made).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit

from prefect_ibmq.backend.validation import check_experiment_count, checked_circuits
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.runtime.errors import retrying, transient_as_api_error
from prefect_ibmq.runtime.job import RuntimeJob, facts_from_document
from prefect_ibmq.runtime.programs import get_program
from prefect_ibmq.runtime.records import IDEMPOTENCY_TAG, NAME_TAG, RuntimeJobFacts
from prefect_ibmq.wire import BackendConfiguration

if TYPE_CHECKING:
    from prefect_ibmq.runtime.platform import RuntimePlatform

#: IBM limits the length of a tag; a long key is replaced by its digest.
MAX_KEY_LENGTH = 64


class RuntimeBackend:
    """A runtime backend (``IBMBackend``) seen through the legacy backend's checks and ``run``."""

    def __init__(self, platform: RuntimePlatform, backend: Any) -> None:
        self._platform = platform
        self.backend = backend  # the stock IBMBackend, for transpiling and primitives
        self.name: str = backend.name
        config = backend.configuration()
        self._configuration = BackendConfiguration(
            backend_name=backend.name,
            simulator=bool(getattr(config, "simulator", False)),
            n_qubits=backend.num_qubits,
            basis_gates=list(getattr(config, "basis_gates", []) or []),
            max_experiments=int(getattr(config, "max_experiments", None) or 300),
            max_shots=int(getattr(config, "max_shots", None) or 100_000),
        )

    def __repr__(self) -> str:
        return f"<RuntimeBackend {self.name}>"

    @property
    def max_circuits(self) -> int:
        """The most circuits (PUBs) one job may hold."""
        return self._configuration.max_experiments

    def configuration(self) -> BackendConfiguration:
        """The backend's configuration, as the legacy backend gives it."""
        return self._configuration

    def validate_circuits(self, circuits: QuantumCircuit | Sequence[QuantumCircuit],
                          shots: int | None = None) -> list[QuantumCircuit]:
        """Check plain circuits (and shots) as the legacy backend does, before any job is submitted."""
        return checked_circuits(circuits, self._configuration, shots)

    def run(
        self,
        circuits: Sequence[Any],
        shots: int | None = None,
        job_name: str | None = None,
        job_tags: list[str] | None = None,
        share_level: str | None = None,
        experiment_id: str | None = None,
        header: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        private: bool = False,
        circuits_checked: bool = False,
        program: str = "sampler",
        optimization_level: int | None = 1,
        session_id: str | None = None,
        session_mode: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> RuntimeJob:
        """Submit one job of ``program`` (PUBs or plain circuits), or return the one this key made.

        ``header`` is not sent (IBM Quantum Platform keeps none). ``share_level``,
        ``experiment_id`` and ``private`` do not exist there and are refused. Plain circuits
        are checked against the backend unless ``circuits_checked`` says the caller did.

        Raises:
            IBMQValueError: A bad or unsupported argument (nothing is submitted).
            IBMQJobApiError: A transient fault (retrying is safe: the key is looked up first).
        """
        _refuse_legacy_only(share_level=share_level, experiment_id=experiment_id, private=private)
        runner = get_program(program)
        items = list(circuits)
        if program == "sampler" and all(isinstance(item, QuantumCircuit) for item in items):
            if not circuits_checked:
                self.validate_circuits(items, shots)
            check_experiment_count(items, self._configuration)
        key_tag = IDEMPOTENCY_TAG + _short_key(idempotency_key or uuid.uuid4().hex)
        tags = [*(job_tags or []), *([NAME_TAG + job_name] if job_name else []), key_tag]
        existing = self._job_with_tag(key_tag)
        if existing is not None:
            return existing
        pubs = runner.prepare(items, self.backend, optimization_level)
        mode = self._platform.execution_mode(self.backend, session_id, session_mode)
        with transient_as_api_error(f"submitting a {program} job to {self.name}"):
            job = runner.run(mode, pubs, tags, {"shots": shots, **(options or {})})
        facts = RuntimeJobFacts(
            job_id=job.job_id(), backend=self.name, status="QUEUED", program=program,
            instance=self._platform.instance, tags=tags, session_id=session_id, num_pubs=len(pubs),
        )
        return RuntimeJob(self._platform, facts)

    def _job_with_tag(self, tag: str) -> RuntimeJob | None:
        client = self._platform.client
        answer = retrying(f"looking up jobs tagged {tag}", lambda: client.jobs_get(limit=1, job_tags=[tag]))
        found = answer.get("jobs") or []
        return RuntimeJob(self._platform, facts_from_document(found[0], self._platform.instance)) if found else None


def _short_key(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:MAX_KEY_LENGTH]


def _refuse_legacy_only(**values: Any) -> None:
    for argument, value in values.items():
        if value not in (None, False, "none"):
            raise IBMQValueError(
                f"{argument}={value!r} is not available on IBM Quantum Platform; leave it unset "
                "(it exists only on the legacy IBMQ platform)."
            )
