"""Helpers shared by the whole suite: the suite's identities and its job server's configuration.

Tests import helpers one way: ``from tests.<area>.helpers import name`` (this module is
``tests.helpers``). conftest.py files hold fixtures only and are never imported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from prefect_ibmq.circuits import bell
from prefect_ibmq.server import BackendSpec, ServerConfig
from prefect_ibmq.server.limits import Limits
from prefect_ibmq.server.simulators import flaky_failures
from prefect_ibmq.wire import Identity, circuits_to_base64

# Four identities: alice and bob share hub h1 and group g1 (different projects),
# carol is in hub h1 but group g2, dave is in another hub.
TOKENS = {
    "alice": ("tok-alice-0123456789", Identity(user="alice", hub="h1", group="g1", project="p1")),
    "bob": ("tok-bob-0123456789", Identity(user="bob", hub="h1", group="g1", project="p2")),
    "carol": ("tok-carol-0123456789", Identity(user="carol", hub="h1", group="g2", project="p3")),
    "dave": ("tok-dave-0123456789", Identity(user="dave", hub="h2", group="g9", project="p9")),
}

#: The suite's servers are one lab's server used by four identities at machine speed, test after test:
#: the per-identity share of server time (``server_share``) would then refuse a test for what the
#: tests before it cost, sooner on a slow machine or PostgreSQL (CI saw 429s in test_submit). The
#: share is tested on servers of its own (tests/reliability/test_fairness.py); here each identity
#: may take the whole server. Every other bound keeps its default.
SUITE_LIMITS = Limits(server_share=1.0, server_share_burst_s=60.0)

#: Seed of the suite's flaky backend (``BackendSpec.seed``): its draws follow from it and the job name.
FLAKY_SEED = 13
#: The suite's flaky backend: experiments fail with probability 0.2, which ones following from the job's name.
FLAKY = BackendSpec(name="flaky_simulator", kind="flaky", seed=FLAKY_SEED)


def server_config(data_dir, **overrides) -> ServerConfig:
    """The suite's server: the default backends (the flaky one seeded, so which experiments
    fail follows from the job's name, not from luck), a slow one for cancel/queue tests and one
    whose every job fails."""
    backends = [spec for spec in BackendSpec.defaults() if spec.kind != "flaky"] + [
        FLAKY,
        BackendSpec(name="slow_simulator", kind="ideal", n_qubits=5, experiment_delay_s=0.5),
        BackendSpec(name="doomed_simulator", kind="flaky", n_qubits=5, failure_probability=1.0),
    ]
    settings = dict(
        data_dir=data_dir,
        tokens={token: identity for token, identity in TOKENS.values()},
        backends=backends,
        workers=2,
        limits=SUITE_LIMITS,
    )
    settings.update(overrides)
    return ServerConfig(**settings)


def flaky_failed(job_name: str, count: int) -> list[int]:
    """The experiments (indices) that the suite's flaky backend fails in a job of ``count`` named ``job_name``.

    Derived from the server's own draws (``flaky_failures``), so no test hard-codes them.
    """
    return [index for index, failed in enumerate(flaky_failures(FLAKY, "", job_name, count)) if failed]


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


class HeldWorkers:
    """Jobs of ``slow_simulator`` keeping every worker of a server busy until released.

    ``ids`` are the holding jobs (each RUNNING once held). While held, any other job
    submitted stays QUEUED, so a test sees a job before it runs without racing a busy
    machine. ``release()`` cancels them (their workers are free when it returns);
    ``release_once_parked(n)`` does so from a thread as soon as the server counts ``n``
    long-polls parked, for a wait that must start while its job is still queued.
    """

    def __init__(self, url: str, token: str, workers: int) -> None:
        self.url = url.rstrip("/")
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {token}"
        self.workers = workers
        self.ids: list[str] = []
        self._released = threading.Lock()
        self._releaser: threading.Thread | None = None

    def hold(self) -> HeldWorkers:
        qpy = circuits_to_base64([bell(f"hold{i}") for i in range(HOLD_EXPERIMENTS)])
        for index in range(self.workers):
            body = {"backend": "slow_simulator", "qpy": qpy, "options": {"shots": 1}, "name": f"hold-{index}"}
            created = self.api.post(f"{self.url}/v1/jobs", json=body, timeout=30)
            created.raise_for_status()
            self.ids.append(created.json()["job_id"])
        for job_id in self.ids:
            _long_poll(self.api, self.url, job_id, {"RUNNING"})
        return self

    def release(self) -> None:
        """Cancel the holding jobs (once); returns when they are CANCELLED."""
        if not self._released.acquire(blocking=False):
            return
        for job_id in self.ids:
            self.api.post(f"{self.url}/v1/jobs/{job_id}/cancel", timeout=30)  # 409 if a test cancelled it
        for job_id in self.ids:
            _long_poll(self.api, self.url, job_id, {"CANCELLED"})

    def release_once_parked(self, at_least: int = 1) -> None:
        """Release from a thread once ``at_least`` status requests are parked in a long-poll."""

        def release_when_parked() -> None:
            deadline = time.monotonic() + HOLD_LIMIT_S
            stats = f"{self.url}/v1/stats"
            while self.api.get(stats, timeout=30).json()["long_polls_waiting"] < at_least:
                if time.monotonic() > deadline:
                    break  # released anyway: the test's own assertions then say what went wrong
                time.sleep(0.02)  # a look at the server's state, again until it holds
            self.release()

        self._releaser = threading.Thread(target=release_when_parked, name="release-held-workers", daemon=True)
        self._releaser.start()

    def close(self) -> None:
        if self._releaser is not None:
            self._releaser.join(HOLD_LIMIT_S + 30)
        self.release()
        self.api.close()


@contextmanager
def workers_held(url: str, token: str, workers: int) -> Iterator[HeldWorkers]:
    """Every worker of the server busy with a job of ``slow_simulator`` until the block ends (``HeldWorkers``)."""
    held = HeldWorkers(url, token, workers)
    try:
        yield held.hold()
    finally:
        held.close()
