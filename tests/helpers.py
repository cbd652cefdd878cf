"""Helpers shared by the whole suite: the suite's identities and its job server's configuration.

Tests import helpers one way: ``from tests.<area>.helpers import name`` (this module is
``tests.helpers``). conftest.py files hold fixtures only and are never imported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from prefect_ibmq.circuits import bell
from prefect_ibmq.server import BackendSpec, ServerConfig
from prefect_ibmq.wire import Identity, circuits_to_base64

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
    fail follows from the job's name, not from luck), a slow one for cancel/queue tests and one
    whose every job fails."""
    backends = [spec for spec in BackendSpec.defaults() if spec.kind != "flaky"] + [
        BackendSpec(name="flaky_simulator", kind="flaky", seed=FLAKY_SEED),
        BackendSpec(name="slow_simulator", kind="ideal", n_qubits=5, experiment_delay_s=0.5),
        BackendSpec(name="doomed_simulator", kind="flaky", n_qubits=5, failure_probability=1.0),
    ]
    settings = dict(
        data_dir=data_dir,
        tokens={token: identity for token, identity in TOKENS.values()},
        backends=backends,
        workers=2,
    )
    settings.update(overrides)
    return ServerConfig(**settings)


def token_of(user: str) -> str:
    """The token of one of the suite's identities (alice, bob, carol, dave)."""
    return TOKENS[user][0]


#: Experiments of a job that holds a worker: 0.5 s each on slow_simulator, far longer than a test waits.
HOLD_EXPERIMENTS = 240
#: How long holding or freeing the workers may take before the helper gives up.
HOLD_LIMIT_S = 60.0


def _long_poll(api: requests.Session, url: str, job_id: str, statuses: set[str]) -> str:
    """Wait on the server's long-poll until the job is in one of ``statuses``; its status then."""
    deadline = time.monotonic() + HOLD_LIMIT_S
    status = ""
    while time.monotonic() < deadline:
        # The first question asks for the status now; each later one waits for a change from it.
        params = {"wait": 5, "known": status} if status else {}
        answer = api.get(f"{url}/v1/jobs/{job_id}/status", params=params, timeout=30)
        answer.raise_for_status()
        status = answer.json()["status"]
        if status in statuses:
            return status
        if status in ("COMPLETED", "CANCELLED", "ERROR_VALIDATING_JOB", "ERROR_RUNNING_JOB"):
            break  # final: it will never be one of them
    raise AssertionError(f"job {job_id} is {status}, not in {sorted(statuses)} (waited up to {HOLD_LIMIT_S} s)")


@contextmanager
def workers_held(url: str, token: str, workers: int) -> Iterator[list[str]]:
    """Every worker of the server busy with a job of ``slow_simulator`` until the block ends.

    Yields the holding jobs' ids (each RUNNING); any other job submitted meanwhile stays
    QUEUED, so a test sees a job before it runs without racing a busy machine. At the
    end the holding jobs are cancelled and their workers are free again.
    """
    url = url.rstrip("/")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    qpy = circuits_to_base64([bell(f"hold{i}") for i in range(HOLD_EXPERIMENTS)])
    held: list[str] = []
    try:
        for index in range(workers):
            body = {"backend": "slow_simulator", "qpy": qpy, "options": {"shots": 1}, "name": f"hold-{index}"}
            created = api.post(f"{url}/v1/jobs", json=body, timeout=30)
            created.raise_for_status()
            held.append(created.json()["job_id"])
        for job_id in held:
            _long_poll(api, url, job_id, {"RUNNING"})
        yield held
    finally:
        for job_id in held:
            api.post(f"{url}/v1/jobs/{job_id}/cancel", timeout=30)  # 409 if a test cancelled it already
        for job_id in held:
            _long_poll(api, url, job_id, {"CANCELLED"})
        api.close()
