"""The fairshare queue: per backend, round robin across projects.

Each backend keeps one FIFO per (hub, group, project) and a rotation of those
projects; the next job is the head of the first project in the rotation, and a
project that just had a job dispatched goes to the back. Workers are shared by
all backends and take the backend whose next job is oldest.

Positions are 1-based per backend. Estimates come from the recent run time per
experiment on each backend; priorities are fairshare floats in [0, 1]: one
minus the share of recent run time a hub/group/project used.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from prefect_ibmq.wire import QueueInfoModel

Project = tuple[str, str, str]  # hub, group, project


@dataclass
class QueuedJob:
    job_id: str
    backend: str
    project: Project
    num_experiments: int
    #: Creation time (ISO): FIFO order within a project follows submission, not the
    #: order in which concurrent validations happened to finish.
    created: str = ""


@dataclass
class _BackendQueue:
    per_project: dict[Project, deque[QueuedJob]] = field(default_factory=dict)
    rotation: list[Project] = field(default_factory=list)
    recent_seconds_per_experiment: deque[float] = field(default_factory=lambda: deque(maxlen=20))

    def order(self) -> Iterator[QueuedJob]:
        """Jobs in the order they will run: round r takes each project's r-th job."""
        depth = max((len(q) for q in self.per_project.values()), default=0)
        for r in range(depth):
            for project in self.rotation:
                jobs = self.per_project[project]
                if r < len(jobs):
                    yield jobs[r]

    def head(self) -> QueuedJob | None:
        for project in self.rotation:
            return self.per_project[project][0]
        return None

    def pop_head(self) -> QueuedJob:
        project = self.rotation.pop(0)
        jobs = self.per_project[project]
        job = jobs.popleft()
        if jobs:
            self.rotation.append(project)  # had its turn: to the back
        else:
            del self.per_project[project]
        return job

    def remove(self, job_id: str) -> bool:
        for project, jobs in self.per_project.items():
            for job in jobs:
                if job.job_id == job_id:
                    jobs.remove(job)
                    if not jobs:
                        del self.per_project[project]
                        self.rotation.remove(project)
                    return True
        return False


@dataclass
class _Running:
    job: QueuedJob
    started: float  # time.monotonic()


class FairshareQueue:
    """Thread-safe; ``on_change`` gets the ids whose queue position may have changed."""

    def __init__(
        self,
        backends: dict[str, float],
        workers: int,
        on_change: Callable[[list[str]], None] = lambda ids: None,
    ) -> None:
        """``backends`` maps each backend name to its first guess of seconds per experiment."""
        self._cond = threading.Condition()
        self._queues = {name: _BackendQueue() for name in backends}
        self._first_guess = dict(backends)
        self._workers = workers
        self._on_change = on_change
        self._running: dict[str, _Running] = {}
        self._usage: deque[tuple[Project, float]] = deque(maxlen=200)
        self._closed = False

    # --- producers and consumers -----------------------------------------------------

    def put(self, job: QueuedJob) -> None:
        with self._cond:
            if any(j.job_id == job.job_id for j in self._queues[job.backend].order()):
                return
            queue = self._queues[job.backend]
            if job.project not in queue.per_project:
                queue.per_project[job.project] = deque()
                queue.rotation.append(job.project)
            jobs = queue.per_project[job.project]
            index = len(jobs)
            while index > 0 and jobs[index - 1].created > job.created:
                index -= 1
            jobs.insert(index, job)
            self._cond.notify()
            changed = [j.job_id for j in queue.order()]
        self._on_change(changed)

    def take(self) -> QueuedJob | None:
        """The next job to run (blocking); None once the queue is closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                heads = [q.head() for q in self._queues.values()]
                waiting = [h for h in heads if h is not None]
                if waiting:
                    first = min(waiting, key=lambda j: j.created)
                    queue = self._queues[first.backend]
                    job = queue.pop_head()
                    self._running[job.job_id] = _Running(job, time.monotonic())
                    changed = [j.job_id for j in queue.order()]
                    break
                self._cond.wait()
        self._on_change(changed)
        return job

    def remove(self, job_id: str) -> bool:
        """Take a job out of the queue (cancelled or deleted); False if it was not queued."""
        with self._cond:
            for queue in self._queues.values():
                if queue.remove(job_id):
                    changed = [j.job_id for j in queue.order()]
                    break
            else:
                return False
        self._on_change(changed)
        return True

    def done(self, job_id: str, completed: bool) -> None:
        """A taken job stopped running; a completed run teaches the estimates."""
        with self._cond:
            running = self._running.pop(job_id, None)
            if running is None or not completed:
                return
            seconds = time.monotonic() - running.started
            job = running.job
            self._queues[job.backend].recent_seconds_per_experiment.append(
                seconds / max(1, job.num_experiments)
            )
            self._usage.append((job.project, seconds))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # --- reporting -------------------------------------------------------------------

    def info(self, job_id: str) -> QueueInfoModel | None:
        """Position, estimates and priorities of a queued job; None when not queued."""
        with self._cond:
            for name, queue in self._queues.items():
                ahead_work = 0.0
                for position, job in enumerate(queue.order(), start=1):
                    if job.job_id == job_id:
                        return self._info(name, queue, job, position, ahead_work)
                    ahead_work += job.num_experiments
        return None

    def _info(
        self, backend: str, queue: _BackendQueue, job: QueuedJob, position: int, ahead_experiments: float
    ) -> QueueInfoModel:
        recent = queue.recent_seconds_per_experiment
        per_experiment = sum(recent) / len(recent) if recent else self._first_guess[backend]
        now = time.monotonic()
        running_left = sum(
            max(0.0, r.job.num_experiments * per_experiment - (now - r.started))
            for r in self._running.values()
            if r.job.backend == backend
        )
        wait_s = (running_left + ahead_experiments * per_experiment) / self._workers
        start = datetime.now(timezone.utc) + timedelta(seconds=wait_s)
        complete = start + timedelta(seconds=job.num_experiments * per_experiment)
        hub, group, project = self._priorities(job.project)
        return QueueInfoModel(
            position=position,
            status="PENDING_IN_QUEUE",
            estimated_start_time=start.isoformat(timespec="microseconds"),
            estimated_complete_time=complete.isoformat(timespec="microseconds"),
            hub_priority=hub,
            group_priority=group,
            project_priority=project,
        )

    def _priorities(self, who: Project) -> tuple[float, float, float]:
        total = sum(seconds for _, seconds in self._usage)
        if total <= 0:
            return 1.0, 1.0, 1.0
        shares = []
        for depth in (1, 2, 3):  # hub, then hub+group, then hub+group+project
            used = sum(seconds for p, seconds in self._usage if p[:depth] == who[:depth])
            shares.append(round(1.0 - used / total, 6))
        return shares[0], shares[1], shares[2]
