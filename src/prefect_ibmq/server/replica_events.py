"""What one replica does when the others act: their changes heard, their lapsed jobs taken over.

On PostgreSQL every status change is announced on :data:`.store.CHANNEL`; a
:class:`.notify.ReplicaListener` hears the other replicas' and this module acts on
them here (wake waiters, interrupt a job cancelled elsewhere, take a job queued
elsewhere). :class:`.replicas.Replica` calls back when it requeues lapsed runs or
takes over lapsed validations.
"""

from __future__ import annotations

from prefect_ibmq.wire import ApiJobStatus as S

from .executor import Executor
from .notify import ReplicaListener, StatusNotifier
from .queue import FairshareQueue
from .store import CHANNEL, Store


class ReplicaEvents:
    """The other replicas' changes and lapses, acted on by this replica's queue, notifier and executor."""

    def __init__(self, store: Store, queue: FairshareQueue, notifier: StatusNotifier, executor: Executor) -> None:
        self._store = store
        self._queue = queue
        self._notifier = notifier
        self._executor = executor
        self._listener: ReplicaListener | None = None

    def listen(self) -> None:
        """Hear the other replicas' changes (PostgreSQL; one SQLite file has no other replica to hear)."""
        if self._store.is_sqlite:
            return
        conninfo = self._store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener = ReplicaListener(
            conninfo, CHANNEL, self._store.origin, self.changed_elsewhere, on_reconnect=self.resync
        )
        self._listener.start()

    def stop(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.stop()

    def requeued(self, job_ids: list[str]) -> None:
        """Lapsed runs went back to the queue: wake their waiters and a worker."""
        self._notifier.notify(job_ids)
        self._queue.put(job_ids[0])

    def taken_over(self, job_ids: list[str]) -> None:
        """Lapsed validations are ours now: validate them again."""
        for job_id in job_ids:
            self._executor.validate_later(job_id)

    def resync(self) -> None:
        """The listener was away: act on whatever it may have missed, as if told of every change."""
        self._notifier.wake_all()  # every long poll reads its job again
        self._queue.poke()
        for job_id in self._executor.running_job_ids():
            if self._store.get_status(job_id) in (S.CANCELLED, None):
                self._executor.interrupt(job_id)

    def changed_elsewhere(self, job_id: str, status: str) -> None:
        """Another replica changed ``job_id``: wake its waiters here, stop it if it runs here."""
        self._notifier.notify(job_id)
        if status in (S.CANCELLED.value, "DELETED"):
            self._executor.interrupt(job_id)
        if status == S.QUEUED.value:
            self._queue.put(job_id)
        elif status in (S.RUNNING.value, S.CANCELLED.value, "DELETED"):
            self._notifier.notify_queue()
