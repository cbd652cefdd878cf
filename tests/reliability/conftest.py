"""Fixtures of the reliability tests: the figures they record, job server processes, Prefect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.helpers import Figures, ServerProcess, free_port


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    """Figures the tests record; merged into out/reliability.json at the end of the session."""
    collected = Figures()
    yield collected
    collected.write()


@pytest.fixture
def server_process(tmp_path) -> Iterator[Any]:
    """A factory of ServerProcess; every one it made is stopped (killed if need be) afterwards."""
    made: list[ServerProcess] = []

    def make(config_text: str, preexec: Any = None) -> ServerProcess:
        index = len(made)
        config = tmp_path / f"server-{index}.toml"
        config.write_text(config_text, encoding="utf-8")
        server = ServerProcess(config, free_port(), tmp_path / f"server-{index}.log", preexec)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()
            server.kill()


@pytest.fixture
def prefect_api_url(prefect_harness) -> str:
    """The URL of the session's Prefect test server, for flows run in a subprocess."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test harness sets PREFECT_API_URL"
    return url
