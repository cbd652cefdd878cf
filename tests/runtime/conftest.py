"""The runtime tests' own job server (a backend that always fails, a slow one)."""

from __future__ import annotations

import pytest

from prefect_ibmq.server import JobServer
from tests.runtime.helpers import runtime_config


@pytest.fixture(scope="module")
def runtime_server(tmp_path_factory):
    with JobServer(runtime_config(tmp_path_factory.mktemp("runtime-server"))) as server:
        yield server
