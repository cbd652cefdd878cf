"""What ``circuit_sweep`` and ``estimator_sweep`` share: a job set's name, its jobs, argument checks.

A sweep's jobs are tagged ``ibmq_jobset_<sweep_id>`` and named ``<sweep_id>_<index>_``
(resubmissions ``<sweep_id>_<index>_r<round>``), so a rerun with the same sweep id
finds the jobs that exist (:func:`existing_jobs`) and submits only the rest.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prefect_ibmq.wire import JOBSET_TAG_PREFIX, JobRecord

_SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


class JobLister(Protocol):
    """What lists a sweep's jobs: an ``IBMQService`` or IBM Quantum Platform's ``RuntimePlatform``."""

    def jobs(self, *, limit: int = ..., skip: int = ..., job_tags: list[str] | None = ...) -> Sequence[Any]:
        """Jobs (newest first), each with ``record`` and ``job_id()``."""
        ...


class SweepError(RuntimeError):
    """Some jobs of a sweep could not be submitted, waited on or read; rerun with the same sweep id."""


@dataclass(frozen=True)
class Chunk:
    """The circuits of one job of the sweep: first submission (round 0) or a resubmission."""

    index: int
    round: int
    circuit_indices: tuple[int, ...]

    def job_name(self, sweep_id: str) -> str:
        """The job's name: ``<sweep_id>_<index>_``, with ``r<round>`` for a resubmission."""
        return f"{sweep_id}_{self.index}_" + (f"r{self.round}" if self.round else "")

    def retried(self, circuit_indices: tuple[int, ...]) -> Chunk:
        """The next round of this chunk, for ``circuit_indices`` (those that failed)."""
        return Chunk(self.index, self.round + 1, circuit_indices)


def first_round(n_items: int, size: int) -> list[Chunk]:
    """Items ``0..n_items-1`` in consecutive chunks of at most ``size``, round 0."""
    return [Chunk(index, 0, tuple(range(start, min(start + size, n_items))))
            for index, start in enumerate(range(0, n_items, size))]


def jobset_tag(sweep_id: str) -> str:
    """The tag every job of the sweep carries."""
    return f"{JOBSET_TAG_PREFIX}_{sweep_id}"


def existing_jobs(service: JobLister, tag: str) -> dict[str, JobRecord]:
    """The sweep's jobs already on the service, by name (the newest when a name repeats)."""
    found: dict[str, JobRecord] = {}
    skip, page = 0, 500
    while True:
        jobs = service.jobs(limit=page, skip=skip, job_tags=[tag])
        for job in jobs:  # newest first: keep the first seen of each name
            found.setdefault(job.record.name or job.job_id(), job.record)
        if len(jobs) < page:
            return found
        skip += page


def checked_sweep_id(sweep_id: str | None) -> str:
    """``sweep_id`` itself, or a new random one when None.

    Raises:
        ValueError: If it is not 1-64 letters, digits and dashes starting with a letter or digit.
    """
    if sweep_id is None:
        return uuid.uuid4().hex[:12]
    if not isinstance(sweep_id, str) or not _SWEEP_ID.match(sweep_id):
        raise ValueError(
            f"sweep_id {sweep_id!r} is not valid: use 1-64 letters, digits and dashes, starting with a letter or digit"
        )
    return sweep_id


def check_at_least(minimum: int, **values: int) -> None:
    """Check that each named value is an int (not a bool) of at least ``minimum``.

    Raises:
        ValueError: Naming the first value that is not.
    """
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")


def chunk_size(requested: int | None, backend_max: int, name: str) -> int:
    """Items per job: ``requested`` capped at the backend's maximum (the maximum when None).

    Raises:
        ValueError: If the size is not an integer >= 1 (``name`` is the argument's name).
    """
    size = min(requested or backend_max, backend_max)
    check_at_least(1, **{name: size})
    return size
