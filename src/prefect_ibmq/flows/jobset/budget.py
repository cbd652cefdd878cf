"""``QuantumBudget``: a job set's guard against spending more quantum seconds than it may (``max_quantum_seconds``).

Its budget is ``max_quantum_seconds``, or the instance's remaining plan seconds
(``usage_remaining_seconds``) when fewer. Before a chunk is submitted the runner asks
:meth:`QuantumBudget.admit`: the chunk's cost is estimated from the seconds the set's
finished jobs used per item (the platform's usage of each job), and the chunk is
admitted only when what was spent, what jobs in flight are expected to spend and
its own estimate stay within the budget. Until a first job has been measured there
is no estimate: one job goes first and the others wait for its usage. A chunk not
admitted is not submitted; it is logged and reported as not run (a rerun with the
same sweep id and a larger budget goes on from there).
"""

from __future__ import annotations

import asyncio

from prefect import get_run_logger

from prefect_ibmq.arguments import rejected
from prefect_ibmq.flows.job import FinishedJob
from prefect_ibmq.flows.jobset.chunks import Chunk
from prefect_ibmq.platforms import JobPlatform


class QuantumBudget:
    """A :class:`~prefect_ibmq.flows.jobset.runner.JobSetHook` that admits chunks while the budget lasts."""

    def __init__(self, platform: JobPlatform, max_quantum_seconds: float, remaining: float | None) -> None:
        self.platform = platform
        #: The seconds the set may spend: ``max_quantum_seconds``, or the instance's remaining seconds if fewer.
        self.budget = max_quantum_seconds if remaining is None else min(max_quantum_seconds, remaining)
        self.limited_by = "max_quantum_seconds" if remaining is None or max_quantum_seconds <= remaining else (
            "the instance's usage_remaining_seconds")
        self.spent = 0.0
        self._items_measured = 0
        self._in_flight: dict[tuple[int, int], float] = {}
        self._measured = asyncio.Event()

    def estimate(self, chunk: Chunk) -> float:
        """The chunk's expected quantum seconds: the measured seconds per item times its items (0 before any)."""
        if not self._items_measured:
            return 0.0
        return self.spent / self._items_measured * len(chunk.circuit_indices)

    async def admit(self, chunk: Chunk) -> bool:
        """Whether the chunk may be submitted: its estimate fits in what the budget has left."""
        if not self._items_measured and self._in_flight:
            await self._measured.wait()  # the first job's usage gives the estimate
        expected = self.estimate(chunk)
        committed = self.spent + sum(self._in_flight.values())
        if self.budget <= 0 or committed + expected > self.budget:
            get_run_logger().warning(
                "%s not submitted: %.3f quantum seconds spent or expected in flight, and its estimated %.3f would "
                "exceed the budget of %.3f s (%s)", chunk.label(), committed, expected, self.budget, self.limited_by)
            return False
        self._in_flight[(chunk.index, chunk.round)] = expected
        return True

    def start(self, done: int, planned: int) -> None:
        """Nothing to do before the jobs start."""

    async def after_job(self, chunk: Chunk, job: FinishedJob | None, done: int, planned: int) -> None:
        """Count the job's quantum seconds (the platform's usage of it)."""
        if self._in_flight.pop((chunk.index, chunk.round), None) is None:
            return  # not admitted here: nothing ran
        seconds = await self.platform.quantum_seconds(job.record) if job is not None and not job.cached else None
        if seconds is not None:
            self.spent += seconds
            self._items_measured += len(chunk.circuit_indices)
        self._measured.set()  # measured, or nothing to measure: the waiting chunks go on either way


async def quantum_budget(platform: JobPlatform, max_quantum_seconds: float | None) -> QuantumBudget | None:
    """The guard of ``max_quantum_seconds`` (None when not given), bounded by the instance's remaining seconds.

    Raises:
        IBMQValueError: If ``max_quantum_seconds`` is not a number >= 0.
    """
    if max_quantum_seconds is None:
        return None
    if isinstance(max_quantum_seconds, bool) or not isinstance(max_quantum_seconds, (int, float)) or not (
            max_quantum_seconds >= 0):
        raise rejected("max_quantum_seconds", max_quantum_seconds, "a number of seconds >= 0, or None for no limit")
    return QuantumBudget(platform, float(max_quantum_seconds), await platform.remaining_seconds())
