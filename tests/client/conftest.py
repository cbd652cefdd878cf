"""Fixtures of the client tests: services of the suite's identities on the session's job server."""

from __future__ import annotations

import pytest

from prefect_ibmq import IBMQService
from tests.client.helpers import FAST_RETRY, RecordingProxy
from tests.helpers import token_of


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


@pytest.fixture()
def proxy(job_server):
    with RecordingProxy(job_server.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture()
def proxied(proxy):
    with IBMQService(url=proxy.url, token=token_of("alice"), retry=FAST_RETRY) as service:
        yield service
