"""A sweep's progress as its jobs end: one log line per job and the ``<sweep_id>-progress`` artifact."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger

from prefect_ibmq.flows.artifacts import Progress, artifact_key, percent_done
from prefect_ibmq.flows.job import FinishedJob
from prefect_ibmq.flows.jobset.chunks import Chunk


class SweepProgress:
    """A :class:`~prefect_ibmq.flows.jobset.runner.JobSetHook` that logs and publishes how far the sweep is."""

    def __init__(self, sweep_id: str, what: str = "Sweep") -> None:
        self.sweep_id, self.what = sweep_id, what
        self._creating: asyncio.Future[Progress] | None = None
        self._last: asyncio.Future[float] | None = None
        self._logged_done = -1

    def start(self, done: int, planned: int) -> None:
        """Create the artifact while the first jobs are submitted, not before (a Prefect API call each way)."""
        self._creating = asyncio.ensure_future(
            Progress.create(artifact_key(self.sweep_id, "progress"), planned, "jobs", done=done))

    async def after_job(self, chunk: Chunk, job: FinishedJob | None, done: int, planned: int) -> None:
        """Log ``done`` of ``planned``, then update the artifact (at most once a second, and at the end).

        A chunk the budget did not admit ends with nothing done and one job less planned: no line
        for it (its own warning says why), unless it is the last, which logs the end.
        """
        # Logged before awaiting the artifact: jobs end concurrently, and a call that waited
        # for the artifact's creation would log its 1/4 after a later call's 3/4.
        if done != self._logged_done or done >= planned:
            self._logged_done = done
            get_run_logger().info("%s %s: %s %d/%d jobs done", self.what, self.sweep_id,
                                  _bar(percent_done(done, planned)), done, planned)
        if self._creating is None:
            return
        if done < planned:
            await (await asyncio.shield(self._creating)).update(done, planned)
        else:  # the last job: its update goes out while the sweep draws and publishes its tables
            self._last = asyncio.ensure_future(self._update(done, planned))

    async def _update(self, done: int, planned: int) -> float:
        progress = await asyncio.shield(self._creating) if self._creating is not None else None
        return await progress.update(done, planned) if progress is not None else 100.0

    async def close(self) -> Progress | None:
        """The artifact, once created and complete (None when no job ran: every one came from the cache)."""
        if self._last is not None:
            await self._last
        return await self._creating if self._creating is not None else None


def _bar(percent: float, width: int = 24) -> str:
    filled = round(width * percent / 100)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {percent:5.1f}%"
