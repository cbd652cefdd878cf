"""Bulk fills for figure 14: many jobs inserted as rows, fast, into a store the service opened.

Filling 100,000 jobs through ``POST /v1/jobs`` would take longer than every other figure
together, so the rows go in with one multi-row INSERT per batch. They are the rows
``Store.create_job`` and the executor leave: a job's ``jobs`` row (owner, tags, status and,
when queued, ``queued_at``), its ``job_tags`` and, for jobs that are to run, its circuits.
Claims, positions and listings then go through the service's own code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from prefect_ibmq.circuits import bell
from prefect_ibmq.server.schema import circuits, job_tags, jobs
from prefect_ibmq.server.store import Store
from prefect_ibmq.wire import Identity, RunOptions, circuits_to_qpy

BATCH = 5_000
BACKEND = "aer_simulator"
#: The projects sharing the queue (round robin: each project's jobs interleave in submission order).
PROJECTS = [Identity(user=f"user{i}", hub="h1", group="g1", project=f"p{i}") for i in range(10)]
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class Filler:
    """Appends jobs to one store; job ids, creation dates and ``queued_at`` keep increasing."""

    def __init__(self, store: Store, shots: int = 16) -> None:
        self.store = store
        self.count = 0
        self._options = RunOptions(shots=shots).model_dump_json()
        self._qpy = circuits_to_qpy([bell()])

    def add(self, n: int, status: str, owners: list[Identity] = PROJECTS,
            tags: Any = lambda index: [], with_circuits: bool = False) -> list[str]:
        """Insert ``n`` jobs in ``status`` owned round robin by ``owners``; returns their ids, oldest first."""
        ids: list[str] = []
        for batch in _batches(range(self.count, self.count + n)):
            rows = [self._row(index, owners[index % len(owners)], status, tags(index)) for index in batch]
            with self.store.engine.begin() as conn:
                made = conn.execute(insert(jobs).returning(jobs.c.seq, sort_by_parameter_order=True), rows)
                tag_rows = [{"job_id": row["job_id"], "tag": tag, "seq": seq}
                            for row, seq in zip(rows, made.scalars(), strict=True) for tag in json.loads(row["tags"])]
                if tag_rows:
                    conn.execute(insert(job_tags), tag_rows)
                if with_circuits:
                    conn.execute(insert(circuits), [{"job_id": r["job_id"], "qpy": self._qpy} for r in rows])
            ids.extend(row["job_id"] for row in rows)
        self.count += n
        return ids

    def _row(self, index: int, owner: Identity, status: str, tags: list[str]) -> dict[str, Any]:
        created = _EPOCH + timedelta(milliseconds=index)
        return {
            "job_id": f"job{index:08d}", "backend": BACKEND, "status": status,
            "creation_date": created.isoformat(timespec="microseconds"), "name": f"sweep_{index // 1000}_{index}",
            "tags": json.dumps(tags), "share_level": "none", "experiment_id": None, "client_info": "{}",
            "options": self._options, "header": "{}", "private": 0, "owner_user": owner.user,
            "owner_hub": owner.hub, "owner_group": owner.group, "owner_project": owner.project,
            "num_experiments": 1, "idempotency_key": None,
            **self._times(status),
        }

    @staticmethod
    def _times(status: str) -> dict[str, float | None]:
        """``queued_at``, ``started_at`` and ``finished_at`` as the service leaves them (a run of 10 ms)."""
        now = time.time()
        if status == "COMPLETED":
            return {"queued_at": now - 0.02, "started_at": now - 0.01, "finished_at": now}
        return {"queued_at": now if status in ("QUEUED", "RUNNING") else None, "started_at": None,
                "finished_at": None}


def _batches(indexes: range) -> Iterator[range]:
    for start in range(indexes.start, indexes.stop, BATCH):
        yield range(start, min(start + BATCH, indexes.stop))
