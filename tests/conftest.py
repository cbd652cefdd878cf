"""Fixtures shared by the whole suite: one real job server on 127.0.0.1 for the session.

Tests talk HTTP to it exactly as users do; nothing of ours is mocked.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig  # noqa: E402
from prefect_ibmq.wire import Identity  # noqa: E402

# Four identities: alice and bob share hub h1 and group g1 (different projects),
# carol is in hub h1 but group g2, dave is in another hub.
TOKENS = {
    "alice": ("tok-alice-0123456789", Identity(user="alice", hub="h1", group="g1", project="p1")),
    "bob": ("tok-bob-0123456789", Identity(user="bob", hub="h1", group="g1", project="p2")),
    "carol": ("tok-carol-0123456789", Identity(user="carol", hub="h1", group="g2", project="p3")),
    "dave": ("tok-dave-0123456789", Identity(user="dave", hub="h2", group="g9", project="p9")),
}

#: Seed of the suite's flaky backend (``BackendSpec.seed``): its draws follow from it and the job name.
FLAKY_SEED = 13


def server_config(data_dir, **overrides) -> ServerConfig:
    """The suite's server: the default backends (the flaky one seeded, so which experiments
    fail follows from the job's name, not from luck) plus a slow one for cancel/queue tests."""
    backends = [spec for spec in BackendSpec.defaults() if spec.kind != "flaky"] + [
        BackendSpec(name="flaky_simulator", kind="flaky", seed=FLAKY_SEED),
        BackendSpec(name="slow_simulator", kind="ideal", n_qubits=5, experiment_delay_s=0.5),
    ]
    settings = dict(
        data_dir=data_dir,
        tokens={token: identity for token, identity in TOKENS.values()},
        backends=backends,
        workers=2,
    )
    settings.update(overrides)
    return ServerConfig(**settings)


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

    Missing PostgreSQL fails the PostgreSQL cases with the install command; nothing is skipped.
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
