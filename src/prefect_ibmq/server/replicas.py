"""Replicas sharing one database: each holds a lease it renews; a reaper takes over the jobs of lapsed ones.

A replica's row in ``replicas`` says until when it is alive (``lease_until``). A
thread renews it every third of the lease and then reaps. Every job not yet final
has an owner in ``jobs.claimed_by``: the replica that stored it owns it through
validation (a QUEUED job is the queue's, any replica may claim it), and the one
that claimed it owns it while it RUNS. A job whose owner's lease ran out
(SIGKILLed, its machine gone) is taken over by a live replica: RUNNING jobs go back
to the queue, counted in ``requeued``, their RUNNING step dropped; jobs still to be
validated (CREATING to VALIDATED) change owner and are validated by the new one
(``on_taken_over``). A replica that stops cleanly deletes its row, so its jobs are
taken over at the next reap rather than after the lease. A SQLite file has one
replica: at start every other row is stale, so its work is taken over at once.

Each round also deletes the private results held for a reader that never
acknowledged them, ``held_result_ttl_s`` after that read (:mod:`.stored_results`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

from sqlalchemy import Connection, delete, insert, or_, select, update

from prefect_ibmq.timestamps import now_iso
from prefect_ibmq.wire import ApiJobStatus

from .engine import guarded
from .errors import StoreUnavailable
from .executor import BEFORE_VALIDATION
from .schema import jobs, replicas, steps
from .store import Store
from .stored_results import expire_held_results

logger = logging.getLogger("prefect_ibmq.server.replicas")

RUNNING = ApiJobStatus.RUNNING.value
QUEUED = ApiJobStatus.QUEUED.value
#: Statuses in which a job belongs to the replica that stored it (it validates the job).
BEFORE_QUEUE = [status.value for status in BEFORE_VALIDATION]


def new_replica_id() -> str:
    """A fresh id for this process's replica."""
    return f"r-{secrets.token_hex(6)}"


class Replica:
    """This process's lease and the reaper.

    ``on_requeued`` gets the ids of RUNNING jobs put back in the queue, ``on_taken_over``
    those of jobs to validate that this replica now owns; ``held_result_ttl_s`` (when
    given) is how long after its job finished an unacknowledged private result is kept.
    """

    def __init__(
        self,
        store: Store,
        workers: int,
        lease_s: float,
        on_requeued: Callable[[list[str]], None] = lambda ids: None,
        on_taken_over: Callable[[list[str]], None] = lambda ids: None,
        held_result_ttl_s: float | None = None,
    ) -> None:
        self.replica_id = store.origin
        self._store = store
        self._workers = workers
        self.lease_s = lease_s
        self._on_requeued = on_requeued
        self._on_taken_over = on_taken_over
        self._held_result_ttl_s = held_result_ttl_s
        self._registered = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the lease (unless :meth:`register` did), take over what lapsed replicas left, keep renewing.

        Call it once this process can validate (``on_taken_over`` is called at once).
        """
        if not self._registered:
            self.register()
        self._round()
        self._thread = threading.Thread(target=self._keep, name="prefect-ibmq-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Give the lease back: this replica's unfinished jobs are requeued by the next reap."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self._store.write(
                lambda conn: conn.execute(delete(replicas).where(replicas.c.replica_id == self.replica_id))
            )
        except Exception:  # the database is gone: the lease simply runs out
            logger.warning("could not give back the lease of %s", self.replica_id, exc_info=True)

    @guarded
    def register(self) -> None:
        """Take this replica's lease (on SQLite, the only replica: the rows of earlier ones go)."""
        def apply(conn: Connection) -> None:
            if self._store.is_sqlite:
                conn.execute(delete(replicas))  # one replica per SQLite file: the others are gone
            self._take_lease(conn)

        self._store.write(apply)
        self._registered = True

    def _take_lease(self, conn: Connection) -> None:
        conn.execute(
            insert(replicas).values(
                replica_id=self.replica_id, workers=self._workers,
                lease_until=time.time() + self.lease_s, started=now_iso(),
            )
        )

    @guarded
    def renew(self) -> None:
        """Extend the lease; a replica found declared dead takes a new one."""
        def apply(conn: Connection) -> None:
            renewed = conn.execute(
                update(replicas).where(replicas.c.replica_id == self.replica_id)
                .values(lease_until=time.time() + self.lease_s)
            )
            if renewed.rowcount == 0:  # declared dead after a long stall: its jobs were requeued
                logger.warning("replica %s had lost its lease; taking a new one", self.replica_id)
                self._take_lease(conn)

        self._store.write(apply)

    @guarded
    def reap(self) -> list[str]:
        """Requeue the jobs RUNNING under no live replica; returns their ids."""
        store = self._store

        def apply(conn: Connection) -> list[str]:
            now = time.time()
            live = select(replicas.c.replica_id).where(replicas.c.lease_until >= now)
            orphaned = or_(jobs.c.claimed_by.is_(None), jobs.c.claimed_by.not_in(live))
            ids = list(
                conn.execute(
                    select(jobs.c.job_id).where(jobs.c.status == RUNNING, orphaned)
                    .with_for_update(of=jobs, skip_locked=True)
                ).scalars()
            )
            for job_id in ids:
                conn.execute(
                    update(jobs).where(jobs.c.job_id == job_id, jobs.c.status == RUNNING)
                    .values(status=QUEUED, claimed_by=None, started_at=None, requeued=jobs.c.requeued + 1)
                )
                conn.execute(delete(steps).where(steps.c.job_id == job_id, steps.c.status == RUNNING))
                store.enter_step(conn, job_id, QUEUED, now_iso())
                store.announce(conn, job_id, QUEUED)
            conn.execute(delete(replicas).where(replicas.c.lease_until < now))
            return ids

        return store.write(apply)

    @guarded
    def take_over(self) -> list[str]:
        """Become the owner of the jobs to validate whose owner is gone; returns their ids.

        Only once this replica's own lease is in the table (a replica's jobs are never taken
        from it while it renews), and ``FOR UPDATE SKIP LOCKED``: two replicas taking over at
        once split the jobs, none is taken twice.
        """

        def apply(conn: Connection) -> list[str]:
            live = select(replicas.c.replica_id).where(replicas.c.lease_until >= time.time())
            orphaned = or_(jobs.c.claimed_by.is_(None), jobs.c.claimed_by.not_in(live))
            ids = list(
                conn.execute(
                    select(jobs.c.job_id).where(jobs.c.status.in_(BEFORE_QUEUE), orphaned)
                    .with_for_update(of=jobs, skip_locked=True)
                ).scalars()
            )
            if ids:
                conn.execute(update(jobs).where(jobs.c.job_id.in_(ids)).values(claimed_by=self.replica_id))
            return ids

        return self._store.write(apply)

    def _round(self) -> None:
        """One round of the reaper: requeue lapsed runs, take over lapsed validations, expire held results."""
        ids = self.reap()
        if ids:
            logger.info("requeued %d job(s) left running by a stopped replica: %s", len(ids), ids)
            self._on_requeued(ids)
        taken = self.take_over()
        if taken:
            logger.info("took over %d job(s) to validate from a stopped replica: %s", len(taken), taken)
            self._on_taken_over(taken)
        if self._held_result_ttl_s is not None:
            expired = expire_held_results(self._store, self._held_result_ttl_s)
            if expired:
                logger.info("deleted %d private result(s) held but never acknowledged: %s", len(expired), expired)

    def _keep(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.renew()
                self._round()
            except StoreUnavailable as exc:  # renewed at the next tick; the lease has slack for it
                logger.warning("lease of %s not renewed this time: %s", self.replica_id, exc)
            except Exception:
                logger.exception("lease keeper of %s failed a round", self.replica_id)
