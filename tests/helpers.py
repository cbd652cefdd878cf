"""Helpers shared by the whole suite: the suite's identities and its job server's configuration.

Tests import helpers one way: ``from tests.<area>.helpers import name`` (this module is
``tests.helpers``). conftest.py files hold fixtures only and are never imported.
"""

from __future__ import annotations

from prefect_ibmq.server import BackendSpec, ServerConfig
from prefect_ibmq.wire import Identity

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
