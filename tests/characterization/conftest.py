"""Fixtures of the characterization tests: a lab server of their own, its service and its noisy backend."""

from __future__ import annotations

import pytest

from prefect_ibmq import IBMQService
from prefect_ibmq.server import JobServer
from tests.characterization.helpers import lab_config
from tests.helpers import token_of


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """The default backends (and a heavy one) on warmed simulator processes, for the whole folder."""
    with JobServer(lab_config(tmp_path_factory.mktemp("lab-server"))) as server:
        yield server


@pytest.fixture(scope="session")
def lab(lab_server):
    with IBMQService(lab_server.url, token_of("alice")) as service:
        yield service


@pytest.fixture(scope="session")
def noisy(lab):
    return lab.backend("noisy_simulator")


@pytest.fixture(scope="session")
def ideal(lab):
    return lab.backend("aer_simulator")


@pytest.fixture()
def one_worker_server(tmp_path):
    """A lab server with one worker: a second job waits for the first one's worker and process."""
    with JobServer(lab_config(tmp_path, workers=1)) as server:
        yield server
