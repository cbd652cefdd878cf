"""Long polls: a job's status at once, or as soon as it changes (or is final), held on the event loop.

A wait holds no thread: the store is read in worker threads and the wait itself
is an event of the :class:`.notify.StatusNotifier`, set by every change of the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from prefect_ibmq.wire import ApiJobStatus, JobStatusResponse, StatusUntil, WakeReason

from .errors import not_found
from .notify import StatusNotifier


async def wait_status(
    notifier: StatusNotifier,
    job_id: str,
    read: Callable[[str], JobStatusResponse | None],
    wait: float,
    known: ApiJobStatus | None = None,
    known_position: int | None = None,
    until: StatusUntil = "change",
) -> JobStatusResponse:
    """``read(job_id)`` at once, or (``wait`` > 0) as soon as it changes (``until="final"``: is final).

    Answers after ``wait`` seconds at the latest, marked ``timed_out``. A change is a
    status other than ``known`` (or than the first one read), or a queue position
    other than ``known_position`` when given. 404 once the job is gone.
    """
    # Subscribe before reading, so a change between the read and the wait is not missed.
    event = notifier.subscribe(job_id, watch_queue=until == "change" and known_position is not None)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        baseline = known
        reason: WakeReason = "immediate"
        while True:
            event.clear()
            snapshot = await run_in_threadpool(read, job_id)
            if snapshot is None:
                raise not_found(f"job {job_id!r}")
            snapshot.wake_reason = reason
            if wait <= 0 or snapshot.status.is_final:
                return snapshot  # a final job can never change again: waiting would only cost time
            if until == "change":
                if baseline is None:
                    baseline = snapshot.status
                position = snapshot.queue_info.position if snapshot.queue_info else None
                if snapshot.status != baseline or (known_position is not None and position != known_position):
                    return snapshot
            # until=final: an intermediate change only woke us; read again at the next one.
            remaining = deadline - loop.time()
            if remaining <= 0 or notifier.closed:
                snapshot.timed_out = True
                snapshot.wake_reason = "deadline"
                return snapshot
            try:
                await asyncio.wait_for(event.wait(), remaining)
                reason = "notified"
            except TimeoutError:
                reason = "deadline"
    finally:
        notifier.unsubscribe(job_id, event)
