"""Each identity's share of the queue: at most ``limits.max_jobs_in_flight`` jobs not yet final.

Counted in the store at each submission (on both APIs), so the bound holds across
replicas; concurrent submissions of one identity may pass it by the few in flight
at that instant, no more (each identity's request rate is bounded too, by the gate).
"""

from __future__ import annotations

from sqlalchemy import func, select

from prefect_ibmq.wire import NOT_FINAL, ErrorCode, Identity

from .engine import guarded
from .errors import ApiError
from .limits import Limits
from .schema import jobs
from .store import Store

#: Seconds to wait before submitting again once the bound is reached (a job takes about that to run).
RETRY_AFTER_S = 5
_NOT_FINAL = [status.value for status in NOT_FINAL]


@guarded
def jobs_in_flight(store: Store, who: Identity) -> int:
    """Jobs of ``who`` (this very identity) not yet final."""
    c = jobs.c
    query = select(func.count()).select_from(jobs).where(
        c.status.in_(_NOT_FINAL), c.owner_user == who.user, c.owner_hub == who.hub,
        c.owner_group == who.group, c.owner_project == who.project,
    )
    with store.reading() as conn:
        return int(conn.execute(query).scalar_one())


def check_jobs_in_flight(store: Store, who: Identity, limits: Limits) -> None:
    """429 (with ``Retry-After``) when ``who`` already has ``limits.max_jobs_in_flight`` jobs not yet final."""
    count = jobs_in_flight(store, who)
    if count >= limits.max_jobs_in_flight:
        raise ApiError(
            429, ErrorCode.SERVICE_UNAVAILABLE,
            f"{who.user} ({who.hub}/{who.group}/{who.project}) has {count} jobs not yet final; "
            f"limits.max_jobs_in_flight={limits.max_jobs_in_flight}: wait for some to finish "
            f"(retry in {RETRY_AFTER_S} s)",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
