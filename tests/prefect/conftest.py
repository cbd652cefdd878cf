"""Fixtures of the Prefect-layer tests: they all share the session's Prefect test server."""

from __future__ import annotations

import pytest
from prefect.events.clients import AssertingPassthroughEventsClient
from prefect.events.worker import EventsWorker

from prefect_ibmq.blocks import IBMQServiceCredentials


@pytest.fixture(autouse=True)
def _in_prefect_harness(prefect_harness):
    """Every test here runs against the session's one Prefect test server (tests/conftest.py)."""


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
