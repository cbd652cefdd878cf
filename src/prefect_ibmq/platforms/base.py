"""``JobPlatform``: where jobs run, as the tasks and the flows use it (one protocol for both).

A platform is one class with the methods below; each credentials block hands out
its own (``block.platform()``), and nothing above this layer asks which one it
got. Every method is async and must stop at once when cancelled (Prefect's
``timeout_seconds``): await I/O, and run blocking calls with
``anyio.to_thread.run_sync(..., abandon_on_cancel=True)``. Errors are this
package's exceptions; ``IBMQJobApiError`` means "transient, retry"; a bad
argument is an ``IBMQValueError`` raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from prefect_ibmq.wire import JobRecord

#: Called by ``wait`` with every record it sees and the job's queue position (None when unknown).
Report = Callable[[JobRecord, "int | None"], None]
#: Execution modes a flow may ask for; a platform runs jobs in some of them (``JobPlatform.modes``).
MODES = ("job", "batch", "session")


@dataclass(frozen=True)
class BackendLimits:
    """What a backend accepts, as a flow plans its jobs."""

    name: str
    #: Qubits of the backend: a wider circuit is refused.
    n_qubits: int
    #: The most circuits (or PUBs) one job may hold.
    max_circuits: int


class JobPlatform(Protocol):
    """Where jobs run: backends' limits, submit/wait/fetch/cancel/tags, a job set's jobs, batches and sessions."""

    #: The execution modes it runs jobs in (``MODES``); ``job`` (each job on its own) always.
    modes: tuple[str, ...]
    #: The programs it runs (``sampler``: counts of circuits; ``estimator``: expectation values of PUBs).
    programs: tuple[str, ...]

    async def identity(self) -> str:
        """A name of the platform that is the same in every process (and not a secret): cache keys use it."""
        ...

    def job_link(self, job_id: str) -> str:
        """Where a person can look the job up."""
        ...

    async def limits(self, backend_name: str) -> BackendLimits:
        """The backend's limits; ``IBMQBackendNotFoundError`` names the backends there are."""
        ...

    async def check_circuits(self, circuits: Sequence[QuantumCircuit], backend_name: str,
                             shots: int) -> list[QuantumCircuit]:
        """Check every circuit and the shots against the backend, as a submit would (no job-size limit)."""
        ...

    async def submit(self, circuits: Sequence[Any], backend_name: str, idempotency_key: str,
                     runtime: Any = None, **options: Any) -> str:
        """Submit one job and return its id; the same key must give back the same job.

        ``options`` are ``submit_job``'s (shots, job_name, job_tags, ...); ``runtime`` its
        ``RuntimeOptions`` (program, session), refused by a platform that has none.
        """
        ...

    async def wait(self, job_id: str, timeout: float | None, report: Report) -> JobRecord:
        """Wait until the job is final, reporting each change; IBMQJobTimeoutError after ``timeout``."""
        ...

    async def record(self, job_id: str) -> JobRecord:
        """The job's record now."""
        ...

    async def result(self, job_id: str, partial: bool) -> Any:
        """The final job's result (a ``Result``; an estimator's ``PrimitiveResult``)."""
        ...

    async def result_data(self, job_id: str, partial: bool, final: JobRecord | None = None) -> Any:
        """The final job's result in the form the tables read fastest (the wire's columns, else ``result``'s).

        ``final``: the job's final record when the caller has it (its wait ended with it), so it is not read again.
        """
        ...

    async def status(self, job_id: str) -> JobStatus:
        """The job's status now."""
        ...

    async def cancel(self, job_id: str) -> bool:
        """Cancel the job; False when it was final already."""
        ...

    async def update_tags(self, job_id: str, replacement_tags: list[str] | None,
                          additional_tags: list[str] | None, removal_tags: list[str] | None) -> list[str]:
        """Replace, then add, then remove tags; the new tags."""
        ...

    async def update_name(self, job_id: str, name: str) -> str:
        """Rename the job; the new name."""
        ...

    async def find_jobs(self, tag: str) -> list[JobRecord]:
        """Every job carrying ``tag`` (a job set's), newest first."""
        ...

    async def quantum_seconds(self, record: JobRecord) -> float | None:
        """The quantum seconds the final job used (None when the platform does not tell)."""
        ...

    async def remaining_seconds(self) -> float | None:
        """The quantum seconds the instance's plan has left in its period (None: no limit, or unknown)."""
        ...

    async def open_session(self, backend_name: str, mode: str, max_time: int | None = None) -> str | None:
        """Open a batch or session on the backend, living at most ``max_time`` s; its id (None when none opened)."""
        ...

    async def close_session(self, session_id: str) -> None:
        """Stop the batch or session accepting jobs (the jobs in it still run)."""
        ...


@runtime_checkable
class PlatformSource(Protocol):
    """What hands out a platform: the credentials blocks (``IBMQServiceCredentials``, ...)."""

    def platform(self) -> JobPlatform:
        """The platform these credentials reach."""
        ...
