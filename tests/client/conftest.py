"""Fixtures of the client tests: services of the suite's identities on the session's job server."""

from __future__ import annotations

import pytest
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQJob, IBMQService
from prefect_ibmq.api import RetryPolicy
from prefect_ibmq.circuits import bell  # noqa: F401  (the tests import it from here)
from tests.conftest import TOKENS
from tests.faultproxy import FaultProxy


def token_of(user: str) -> str:
    return TOKENS[user][0]


@pytest.fixture(scope="module")
def service(job_server):
    """Alice's service (hub h1, group g1, project p1)."""
    with IBMQService(url=job_server.url, token=token_of("alice")) as alice:
        yield alice


@pytest.fixture(scope="module")
def bob(job_server):
    """Bob's service: same hub and group as alice, another project."""
    with IBMQService(url=job_server.url, token=token_of("bob")) as bob_service:
        yield bob_service


@pytest.fixture(scope="module")
def aer(service):
    return service.backend("aer_simulator")


@pytest.fixture(scope="module")
def slow(service):
    """Each experiment takes 0.5 s: jobs stay queued or running long enough to look at."""
    return service.backend("slow_simulator")


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


@pytest.fixture()
def proxy(job_server):
    with RecordingProxy(job_server.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture()
def proxied(proxy):
    with IBMQService(url=proxy.url, token=token_of("alice"), retry=FAST_RETRY) as service:
        yield service
