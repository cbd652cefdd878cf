"""What one PostgreSQL spends per job, and what a million jobs weigh: the figures behind docs/scaling.md.

Not a ``make bench`` figure (it takes minutes and has no baseline): ``python -m
benchmarks.queue_scaling [max_jobs]`` prints

- per job of the lifecycle (created, validating, validated, queued, claimed, completed, as the
  service's own code does it): write transactions, WAL bytes and NOTIFY messages;
- the size of the jobs table and of each of its indexes with ``max_jobs`` jobs stored (default
  1,000,000, 10 projects, the last 10% queued), and the claim and position of the last job then.

On the throwaway cluster of tests/pgcluster.py (``fsync=off``): the counts and sizes do not
depend on it, the times do.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from sqlalchemy import text

from benchmarks.common import ROOT, tmp_dir
from benchmarks.queue_fill import BACKEND, PROJECTS, Filler
from prefect_ibmq.server.queue import FairshareQueue
from prefect_ibmq.server.rows import NewJob
from prefect_ibmq.server.store import CHANNEL, Store
from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import RunOptions

LIFECYCLES = 500


def _stat(store: Store) -> tuple[int, int]:
    """(transactions committed in this database, WAL position in bytes)."""
    with store.engine.connect() as conn:
        commits = conn.execute(text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))
        lsn = conn.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one()
        return int(commits.scalar_one()), int(lsn)


def per_job(store: Store) -> dict[str, float]:
    """Commits, WAL bytes and notifications per job, through Store and FairshareQueue."""
    queue = FairshareQueue(store, {BACKEND: 0.01}, workers=1)
    listener = store.engine.raw_connection()
    listener.execute(f"LISTEN {CHANNEL}")  # type: ignore[attr-defined]
    listener.commit()
    time.sleep(1)  # let the statistics collector settle
    commits, wal = _stat(store)
    for index in range(LIFECYCLES):
        job_id = f"life{index:05d}"
        store.create_job(NewJob(job_id=job_id, backend=BACKEND, owner=PROJECTS[index % len(PROJECTS)],
                                qpy=b"q" * 400, num_experiments=1, options=RunOptions()))
        store.transition(job_id, S.VALIDATING, (S.CREATED,))
        store.transition(job_id, S.VALIDATED, (S.VALIDATING,))
        store.transition(job_id, S.QUEUED, (S.VALIDATED,), queued_at=time.time())
        claimed = queue.claim("scaling")
        assert claimed is not None
        store.finish_run(claimed.job_id, S.COMPLETED, '{"results": [{"success": true}]}', None, time.time(),
                         claimed_by="scaling")
    time.sleep(1)
    commits_after, wal_after = _stat(store)
    heard = len(list(listener.driver_connection.notifies(timeout=1, stop_after=10 * LIFECYCLES)))  # type: ignore
    listener.close()
    return {"commits": (commits_after - commits) / LIFECYCLES, "wal_bytes": (wal_after - wal) / LIFECYCLES,
            "notifications": heard / LIFECYCLES}


def sizes(store: Store, stored: int) -> dict[str, Any]:
    """Table and index sizes (MB) with ``stored`` jobs, the last tenth queued; claim and position then (ms)."""
    filler = Filler(store)
    done = stored - stored // 10
    filler.add(done, "COMPLETED", tags=lambda index: [f"ibmq_jobset_{index // 1000}"])
    last = filler.add(stored - done, "QUEUED")[-1]
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        rows = conn.execute(text(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY 2 DESC"
        )).all()
    queue = FairshareQueue(store, {BACKEND: 0.01}, workers=1)
    info = [_ms(lambda: queue.info(last)) for _ in range(5)]
    claim = [_ms(lambda: queue.claim("scaling")) for _ in range(20)]
    return {"MB": {name: round(size / 2**20, 1) for name, size in rows if size > 2**20},
            "info_ms": statistics.median(info), "claim_ms": statistics.median(claim)}


def _ms(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.pgcluster import PostgresCluster

    stored = int(argv[0]) if argv else 1_000_000
    with PostgresCluster() as cluster:
        store = Store(tmp_dir("scaling"), cluster.create_database("lifecycle"), origin="scaling")
        print("per job:", per_job(store), flush=True)
        store.close()
        store = Store(tmp_dir("scaling"), cluster.create_database("sizes"), origin="scaling")
        print(f"{stored:,} jobs stored:", sizes(store, stored), flush=True)
        store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
