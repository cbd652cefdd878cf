"""Alembic migrations at start: from an empty database (both engines) and from a SQLite file of today's server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from prefect_ibmq.server.engine import DB_FILE
from prefect_ibmq.server.filters import JobFilter
from prefect_ibmq.server.migrate import current_revision
from prefect_ibmq.server.queue import FairshareQueue
from prefect_ibmq.server.replicas import Replica
from prefect_ibmq.server.schema import metadata
from prefect_ibmq.server.store import Store
from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import Identity, RunOptions

ALICE = Identity(user="alice", hub="h1", group="g1", project="p1")

#: The tables as the SQLite-only server (before SQLAlchemy and Alembic) made them, verbatim.
TODAYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    creation_date TEXT NOT NULL,
    name TEXT,
    tags TEXT NOT NULL,
    share_level TEXT NOT NULL,
    experiment_id TEXT,
    client_info TEXT NOT NULL,
    options TEXT NOT NULL,
    header TEXT NOT NULL,
    private INTEGER NOT NULL,
    owner_user TEXT NOT NULL,
    owner_hub TEXT NOT NULL,
    owner_group TEXT NOT NULL,
    owner_project TEXT NOT NULL,
    num_experiments INTEGER NOT NULL,
    run_mode TEXT,
    error_code INTEGER,
    error_message TEXT,
    result_consumed INTEGER NOT NULL DEFAULT 0,
    requeued INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT
);
-- The same key from the same identity makes one job, even from concurrent requests.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency
    ON jobs(owner_user, owner_hub, owner_group, owner_project, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_job ON steps(job_id);
CREATE TABLE IF NOT EXISTS circuits (
    job_id TEXT PRIMARY KEY,
    qpy BLOB NOT NULL,
    -- The circuits as they run (transpiled where needed); NULL until validated.
    runnable_qpy BLOB
);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
);
"""

#: What the server with the Qiskit Runtime API (still before Alembic) added on open, verbatim.
RUNTIME_ADDITIONS = """
CREATE TABLE IF NOT EXISTS runtime_params (
    job_id TEXT PRIMARY KEY,
    params TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    backend TEXT NOT NULL,
    owner_user TEXT NOT NULL,
    owner_hub TEXT NOT NULL,
    owner_group TEXT NOT NULL,
    owner_project TEXT NOT NULL,
    max_ttl INTEGER NOT NULL,
    created TEXT NOT NULL,
    accepting_jobs INTEGER NOT NULL DEFAULT 1,
    closed TEXT
);
ALTER TABLE jobs ADD COLUMN program_id TEXT;
ALTER TABLE jobs ADD COLUMN session_id TEXT;
CREATE INDEX IF NOT EXISTS jobs_session ON jobs(session_id);
"""


def test_an_empty_database_is_migrated_to_exactly_the_schema(tmp_path: Path, store_url):
    store = Store(tmp_path, store_url)
    try:
        assert current_revision(store.engine) == "0005"
        with store.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
        Store(tmp_path, store_url).close()  # opening again migrates nothing and keeps working
        assert current_revision(store.engine) == "0005"
    finally:
        store.close()


def _todays_file(data_dir: Path, with_runtime: bool) -> None:
    """A jobs.sqlite3 as today's server leaves it: a queued, a running and a completed job."""
    conn = sqlite3.connect(data_dir / DB_FILE)
    conn.executescript(TODAYS_SCHEMA)
    if with_runtime:
        conn.executescript(RUNTIME_ADDITIONS)
    for seq, (job_id, status, tags) in enumerate(
        [("done", "COMPLETED", ["old"]), ("running", "RUNNING", []), ("waiting", "QUEUED", ["old", "x"])], start=1
    ):
        conn.execute(
            """INSERT INTO jobs (seq, job_id, backend, status, creation_date, name, tags, share_level,
               client_info, options, header, private, owner_user, owner_hub, owner_group, owner_project,
               num_experiments) VALUES (?, ?, 'aer_simulator', ?, ?, ?, ?, 'none', '{}', ?, '{}', 0,
               'alice', 'h1', 'g1', 'p1', 1)""",
            (seq, job_id, status, f"2026-01-01T00:00:0{seq}.000000+00:00", job_id, json.dumps(tags),
             RunOptions().model_dump_json()),
        )
        conn.execute("INSERT INTO circuits (job_id, qpy) VALUES (?, x'00')", (job_id,))
        conn.execute("INSERT INTO steps (job_id, status, at) VALUES (?, ?, '2026-01-01T00:00:09.000000+00:00')",
                     (job_id, status))
    conn.execute("""INSERT INTO results (job_id, result) VALUES ('done', '{"results": []}')""")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("with_runtime", [False, True], ids=["v1-only", "with-runtime-tables"])
def test_a_sqlite_file_of_todays_server_is_migrated_and_its_work_resumed(tmp_path: Path, with_runtime: bool):
    _todays_file(tmp_path, with_runtime)
    store = Store(tmp_path)
    try:
        assert current_revision(store.engine) == "0005"
        # Every table and column of the schema (the legacy file keeps its TEXT types: same in SQLite).
        inspector = inspect(store.engine)
        for table in metadata.sorted_tables:
            columns = {column["name"] for column in inspector.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
        assert store.get_job("done").status is S.COMPLETED
        assert store.read_result("done", consume=False) == '{"results": []}'
        tagged = store.list_jobs(ALICE, JobFilter(tags=["old", "x"], tags_and=True), 10, 0)[0]
        assert [job.job_id for job in tagged] == ["waiting"]
        # The restarted server requeues what was running, in its place: a project's jobs in submission order.
        assert Replica(store, workers=1, lease_s=30).reap() == ["running"]
        queue = FairshareQueue(store, {"aer_simulator": 0.1}, workers=1)
        assert queue.info("running").position == 1 and queue.info("waiting").position == 2
        assert [queue.claim("r").job_id, queue.claim("r").job_id] == ["running", "waiting"]
        assert store.get_job("running").requeued == 1
    finally:
        store.close()


def test_a_sqlite_file_that_already_holds_a_private_result_keeps_it_through_the_migrations(tmp_path: Path):
    """The SQLite-only server of the read-then-acknowledge change made ``result_reads`` itself."""
    _todays_file(tmp_path, with_runtime=False)
    conn = sqlite3.connect(tmp_path / DB_FILE)
    conn.execute("CREATE TABLE result_reads (job_id TEXT PRIMARY KEY, read_key TEXT NOT NULL)")
    conn.execute("UPDATE jobs SET private = 1 WHERE job_id = 'done'")
    conn.execute("INSERT INTO result_reads (job_id, read_key) VALUES ('done', 'key-a')")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    try:
        assert current_revision(store.engine) == "0005"
        assert store.read_result("done", consume=True, read_key="key-b") is None  # held for key-a
        assert store.read_result("done", consume=True, read_key="key-a") == '{"results": []}'
        assert store.acknowledge_result("done", "key-a") is True
        assert store.read_result("done", consume=True, read_key="key-a") is None
        assert store.get_job("done").result_consumed is True
    finally:
        store.close()


def test_a_store_of_revision_0003_holding_queued_jobs_is_migrated_and_keeps_its_queue(tmp_path: Path, store_url):
    """Revision 0004 (counters, triggers, indexes, job_tags.seq) on a store of the previous schema, both engines."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from prefect_ibmq.server.engine import sqlite_url
    from prefect_ibmq.server.migrate import alembic_config

    engine = create_engine(store_url or sqlite_url(tmp_path))
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        at = 1_800_000_000.0
        jobs = [  # job id, project, status, queued_at (None: a queued job 0002 left without one)
            ("done", "p1", "COMPLETED", None), ("a1", "p1", "QUEUED", at), ("a2", "p1", "QUEUED", at),
            ("b1", "p2", "QUEUED", at + 5), ("c1", "p3", "QUEUED", at + 1), ("d1", "p4", "QUEUED", None),
        ]
        for seq, (job_id, project, status, queued_at) in enumerate(jobs, start=1):
            conn.execute(text(
                "INSERT INTO jobs (seq, job_id, backend, status, creation_date, tags, share_level, client_info,"
                " options, header, private, owner_user, owner_hub, owner_group, owner_project, num_experiments,"
                " queued_at) VALUES (:seq, :job_id, 'aer_simulator', :status, :created, '[\"old\"]', 'none', '{}',"
                " :options, '{}', 0, 'alice', 'h1', 'g1', :project, :seq, :queued_at)"
            ), {"seq": seq, "job_id": job_id, "status": status, "created": f"2026-01-01T00:00:0{seq}.000000+00:00",
                "options": RunOptions().model_dump_json(), "project": project, "queued_at": queued_at})
            conn.execute(text("INSERT INTO job_tags (job_id, tag) VALUES (:job_id, 'old')"), {"job_id": job_id})
        # p1 had a job claimed after the others entered: it waits for the others' first jobs.
        conn.execute(text("INSERT INTO fairshare_turns VALUES ('aer_simulator', 'h1', 'g1', 'p1', :at)"),
                     {"at": at + 10})
    engine.dispose()
    store = Store(tmp_path, store_url)
    try:
        assert current_revision(store.engine) == "0005"
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        owner = Identity(user="alice", hub="h1", group="g1", project="p1")
        listed = store.list_jobs(owner, JobFilter(tags=["old"]), 10, 0)
        assert ([j.job_id for j in listed.records], listed.total) == (["a2", "a1", "done"], 3)
        queue = FairshareQueue(store, {"aer_simulator": 0.1}, workers=1)
        order = ["d1", "c1", "b1", "a1", "a2"]  # d1's queued_at became its seq: the oldest turn
        assert [queue.info(job_id).position for job_id in order] == [1, 2, 3, 4, 5]
        assert [queue.claim("r").job_id for _ in order] == order
        assert store.pending_counts() == {"aer_simulator": 5}  # the five, RUNNING now
    finally:
        store.close()
