"""Helpers of the client tests: waiting for a status on the way, fast retries, a recording proxy."""

from __future__ import annotations

from qiskit.providers import JobStatus

from prefect_ibmq import IBMQJob
from prefect_ibmq.api import RetryPolicy
from tests.faultproxy import FaultProxy


class _Reached(Exception):
    """Ends a wait at the status a test was waiting for."""


def wait_for_status(job: IBMQJob, wanted: set[JobStatus], timeout: float = 60.0) -> JobStatus:
    """Wait until the job shows one of ``wanted`` (for states a test must catch on the way, like QUEUED).

    Waits on the service's long-poll: ``wait_for_final_state`` with a callback hears every change.
    """
    status = job.status()
    if status in wanted:
        return status

    def stop_at_wanted(job_id: str, status: JobStatus, job: IBMQJob, queue_info=None) -> None:
        if status in wanted:
            raise _Reached(status)

    try:
        job.wait_for_final_state(timeout=timeout, callback=stop_at_wanted)
    except _Reached as reached:
        return reached.args[0]
    raise AssertionError(f"job {job.job_id()} is {job.status().name}, never reached {wanted}")


FAST_RETRY = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_max=0.05)


class RecordingProxy(FaultProxy):
    """The fault proxy, also keeping the method and path (with query) of every request."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.requests: list[tuple[str, str]] = []

    def choose_fault(self, method: str, path: str) -> str | None:
        self.requests.append((method, path))
        return super().choose_fault(method, path)
