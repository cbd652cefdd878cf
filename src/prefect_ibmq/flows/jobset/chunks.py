"""A job set's names and chunks: which items go into which job, and what the jobs are called.

A sweep's jobs are tagged ``ibmq_jobset_<sweep_id>`` and named ``<sweep_id>_<index>_``
(resubmissions ``<sweep_id>_<index>_r<round>``), so a rerun with the same sweep id
finds the jobs that exist and submits only the rest.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from prefect_ibmq.arguments import check_int, rejected
from prefect_ibmq.wire import JOBSET_TAG_PREFIX

_SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


class SweepError(RuntimeError):
    """Some jobs of a sweep could not be submitted, waited on or read; rerun with the same sweep id."""


@dataclass(frozen=True)
class Chunk:
    """The items (circuits, PUBs) of one job of the sweep: first submission (round 0) or a resubmission."""

    index: int
    round: int
    circuit_indices: tuple[int, ...]

    def job_name(self, sweep_id: str) -> str:
        """The job's name: ``<sweep_id>_<index>_``, with ``r<round>`` for a resubmission."""
        return f"{sweep_id}_{self.index}_" + (f"r{self.round}" if self.round else "")

    def label(self) -> str:
        """What a person reads for the job: ``job 3: circuits 900-1199``, ``job 3 retry 1: 2 circuits``."""
        indices = self.circuit_indices
        if self.round:
            count = len(indices)
            return f"job {self.index} retry {self.round}: {count} circuit{'s' if count != 1 else ''}"
        if len(indices) == 1:
            return f"job {self.index}: circuit {indices[0]}"
        return f"job {self.index}: circuits {indices[0]}-{indices[-1]}"

    def retried(self, circuit_indices: tuple[int, ...]) -> Chunk:
        """The next round of this chunk, for ``circuit_indices`` (those without a result)."""
        return Chunk(self.index, self.round + 1, circuit_indices)


def first_round(n_items: int, size: int) -> list[Chunk]:
    """Items ``0..n_items-1`` in as few consecutive chunks of at most ``size`` as there can be, round 0.

    The chunks are as equal as they can be (1,000 items of at most 300: four of 250, not three of
    300 and one of 100): jobs of one size share a service's parallel workers evenly, and none is
    left running alone at the end.
    """
    if n_items <= 0:
        return []
    count = -(-n_items // size)
    bounds = [n_items * index // count for index in range(count + 1)]
    return [Chunk(index, 0, tuple(range(bounds[index], bounds[index + 1]))) for index in range(count)]


def jobset_tag(sweep_id: str) -> str:
    """The tag every job of the sweep carries."""
    return f"{JOBSET_TAG_PREFIX}_{sweep_id}"


def checked_sweep_id(sweep_id: str | None) -> str:
    """``sweep_id`` itself, or a new random one when None.

    Raises:
        IBMQValueError: If it is not 1-64 letters, digits and dashes starting with a letter or digit.
    """
    if sweep_id is None:
        return uuid.uuid4().hex[:12]
    if not isinstance(sweep_id, str) or not _SWEEP_ID.match(sweep_id):
        raise rejected("sweep_id", sweep_id, "1-64 letters, digits and dashes, starting with a letter or digit")
    return sweep_id


def items_per_job(requested: int | None, backend_max: int, name: str) -> int:
    """Items per job: ``requested`` capped at the backend's maximum (the maximum when None).

    Raises:
        IBMQValueError: If ``requested`` is not None and not an int >= 1 (``name`` is the argument's name).
    """
    if requested is None:
        return backend_max
    return min(check_int(name, requested, 1), backend_max)
