"""Mock devices and dry runs: ``run(..., dry_run=True)`` as IBM documents it.

The stock client makes a dry run by sending the job to the backend's mock twin, named
as IBM names them (the first ``_``-separated part replaced: ``ibm_torino`` ->
``mock_torino``), which it finds in ``GET /backends?include_mocks=true`` (``class:
"mock"``). Here a mock device is its backend's twin: the same configuration, properties
and checks, under the mock name. Backends whose names map to one mock name (our
``aer_simulator`` and ``noisy_simulator`` both give ``mock_simulator``) share the twin of
the first configured.

A dry-run job is checked in full, stored on the real backend and run through the queue
like any job, but its program answers random data in the real schema instead of
simulating (IBM: "randomized mock data"); its usage does not count. Two marks say so: the
job's header names the mock device (what the job shows as its backend, and what usage
skips), and the stored params are wrapped (:func:`wrap`), which is what the simulator
process running the program sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MOCK_CLASS = "mock"
#: The header key of a dry-run job: the mock device it was sent to.
DRY_RUN_HEADER = "mock_backend"
#: The stored params of a dry run: ``_PREFIX + <the client's params> + "}"``.
_PREFIX = '{"prefect_ibmq_dry_run":true,"params":'


def mock_name(backend: str) -> str:
    """The mock twin's name of ``backend``, as the stock client derives it."""
    return re.sub(r"^[^_]+", "mock", backend)


def mock_twins(backends: Iterable[str]) -> dict[str, str]:
    """Mock name -> the backend it is the twin of (the first configured one with that mock name)."""
    twins: dict[str, str] = {}
    for name in backends:
        if not name.startswith("mock_"):
            twins.setdefault(mock_name(name), name)
    return twins


def wrap(params: str) -> str:
    """A dry run's params, as stored."""
    return _PREFIX + params + "}"


def unwrap(stored: str) -> tuple[str, bool]:
    """Stored params -> (the client's params, whether the job is a dry run)."""
    if stored.startswith(_PREFIX) and stored.endswith("}"):
        return stored[len(_PREFIX) : -1], True
    return stored, False
