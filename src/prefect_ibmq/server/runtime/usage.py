"""Instance usage: the quantum seconds an instance's runtime jobs ran in the plan period, and its limit.

A job's quantum seconds are the time it ran (claimed to finished, on whichever replica ran
it), as :meth:`.service.RuntimeJobs.quantum_seconds` shows per job; an instance's usage
is their sum over its project's runtime jobs that finished in the period (dry runs excluded:
they run on mock devices). ``GET /api/v1/instances/usage`` answers IBM's fields; at the
limit, submits are refused (:func:`check_not_exhausted`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect_ibmq.timestamps import to_iso
from prefect_ibmq.wire import Identity

from ..store import Store
from .crn import PLAN_ID
from .errors import IBMApiError
from .instances import Instance
from .schemas import zulu
from .store_ops import consumed_seconds


def _zulu(epoch: float) -> str | None:
    return zulu(to_iso(datetime.fromtimestamp(epoch, UTC)))


def usage(store: Store, who: Identity, instance: Instance, period_days: int) -> dict[str, Any]:
    """``GET /api/v1/instances/usage``: IBM's fields, plus the remaining seconds (the client computes them too)."""
    now = time.time()
    start = now - timedelta(days=period_days).total_seconds()
    consumed = round(consumed_seconds(store, who, start), 3)
    limit = instance.usage_limit_s
    return {
        "instance_id": instance.crn,
        "plan_id": PLAN_ID,
        "usage_period": {"start_time": _zulu(start), "end_time": _zulu(now)},
        "usage_consumed_seconds": consumed,
        "usage_limit_seconds": limit,
        "usage_allocation_seconds": limit,
        "usage_limit_reached": limit is not None and consumed >= limit,
        "usage_remaining_seconds": None if limit is None else round(max(0.0, limit - consumed), 3),
    }


def check_not_exhausted(store: Store, who: Identity, instance: Instance, period_days: int) -> None:
    """403 ``usage_limit_reached`` when the instance has used its plan's seconds for the period."""
    if instance.usage_limit_s is None:
        return
    current = usage(store, who, instance, period_days)
    if current["usage_limit_reached"]:
        raise IBMApiError(
            403,
            "usage_limit_reached",
            f"instance {instance.name!r} has used {current['usage_consumed_seconds']} of its "
            f"{instance.usage_limit_s} quantum seconds in the last {period_days} days; "
            "jobs are refused until time is available again (dry runs still run)",
        )
