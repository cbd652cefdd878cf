"""One Prefect test server for the whole session: starting one costs ~10 s."""

from __future__ import annotations

import pytest
from prefect.events.clients import AssertingPassthroughEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.utilities import prefect_test_harness

from prefect_ibmq.blocks import IBMQServiceCredentials


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def credentials(job_server, alice_token) -> IBMQServiceCredentials:
    """Credentials block for alice on the session's job server."""
    return IBMQServiceCredentials(url=job_server.url, token=alice_token)


@pytest.fixture
def recorded_events(monkeypatch):
    """Prefect events emitted during a test, recorded on their way to the server (which gets them too)."""
    worker = EventsWorker.instance(AssertingPassthroughEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)

    def events(prefix: str = "") -> list:
        worker.drain()
        return [e for e in AssertingPassthroughEventsClient.last.events if e.event.startswith(prefix)]

    yield events
    worker.drain()
