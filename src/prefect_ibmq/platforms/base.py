"""What a platform offers the tasks: one async method per remote operation on a job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result

from prefect_ibmq.wire import JobRecord

#: Called by ``wait`` with every record it sees and the job's queue position (None when unknown).
Report = Callable[[JobRecord, "int | None"], None]


class JobPlatform(Protocol):
    """Where jobs run, as the tasks in :mod:`prefect_ibmq.tasks` use it.

    Every method is async and must stop at once when cancelled (Prefect's
    ``timeout_seconds``): await I/O, and run blocking calls with
    ``anyio.to_thread.run_sync(..., abandon_on_cancel=True)``.
    Errors are this package's exceptions; ``IBMQJobApiError`` means "transient, retry".
    """

    def job_link(self, job_id: str) -> str:
        """Where a person can look the job up."""
        ...

    async def submit(self, circuits: Sequence[QuantumCircuit], backend_name: str, idempotency_key: str,
                     **options: Any) -> str:
        """Submit one job and return its id; the same key must give back the same job."""
        ...

    async def wait(self, job_id: str, timeout: float | None, report: Report) -> JobRecord:
        """Wait until the job is final, reporting each change; IBMQJobTimeoutError after ``timeout``."""
        ...

    async def record(self, job_id: str) -> JobRecord:
        """The job's record now."""
        ...

    async def result(self, job_id: str, partial: bool) -> Result:
        """The final job's result."""
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
