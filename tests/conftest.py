"""Fixtures shared by the whole suite: one real job server on 127.0.0.1 for the session.

Tests talk HTTP to it exactly as users do; nothing of ours is mocked.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist's workers are given COLUMNS=80 and LINES=24; without them the command-line
    # programs the tests start (rich tables) format as under a plain pytest run.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

from prefect_ibmq.server import JobServer  # noqa: E402
from tests.helpers import TOKENS, server_config  # noqa: E402


@pytest.fixture(scope="session")
def job_server(tmp_path_factory):
    """A running job server shared by the session (stopped at the end)."""
    server = JobServer(server_config(tmp_path_factory.mktemp("job-server")))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def alice_token():
    return TOKENS["alice"][0]


@pytest.fixture(scope="session")
def prefect_harness():
    """The session's one Prefect test server (starting one costs ~10 s), for the tests that ask for it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster for the session (initdb in a temporary folder, removed at the end).

    Debian's PostgreSQL when installed, else the pgserver wheel's (tests/pgcluster.py): the
    PostgreSQL cases always run. Should neither be there, they fail saying so; none is skipped.
    """
    from tests.pgcluster import PostgresCluster, PostgresMissing

    try:
        cluster = PostgresCluster()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with cluster:
        yield cluster


_databases = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request):
    """The store's URL on each engine: None (SQLite in the data dir) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_cluster").create_database(f"store_{next(_databases)}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine_job_server(request, tmp_path_factory):
    """The suite's server on each store engine, for the modules that say ``job_server = engine_job_server``."""
    store_url = None
    if request.param == "postgresql":
        store_url = request.getfixturevalue("pg_cluster").create_database(f"server_{next(_databases)}")
    server = JobServer(server_config(tmp_path_factory.mktemp("job-server"), store_url=store_url))
    server.start()
    yield server
    server.stop()
