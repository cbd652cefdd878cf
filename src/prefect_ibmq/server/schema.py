"""The store's tables, as SQLAlchemy Core metadata (the same on SQLite and PostgreSQL).

The migrations in :mod:`prefect_ibmq.server.migrations` build exactly this; a test
compares the two. Times that are only ever shown are ISO 8601 text (as they always
were); times the queue computes with (queued, started, finished, leases) are epoch
seconds, so SQL can subtract and compare them on both engines.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String, nullable=False, unique=True),
    Column("backend", String, nullable=False),
    Column("status", String, nullable=False),
    Column("creation_date", String, nullable=False),
    Column("name", Text),
    Column("tags", Text, nullable=False),
    Column("share_level", String, nullable=False),
    Column("experiment_id", String),
    Column("client_info", Text, nullable=False),
    Column("options", Text, nullable=False),
    Column("header", Text, nullable=False),
    Column("private", Integer, nullable=False),
    Column("owner_user", String, nullable=False),
    Column("owner_hub", String, nullable=False),
    Column("owner_group", String, nullable=False),
    Column("owner_project", String, nullable=False),
    Column("num_experiments", Integer, nullable=False),
    Column("run_mode", String),
    Column("error_code", Integer),
    Column("error_message", Text),
    Column("result_consumed", Integer, nullable=False, server_default=text("0")),
    Column("requeued", Integer, nullable=False, server_default=text("0")),
    Column("idempotency_key", String),
    # Qiskit Runtime jobs (server/runtime): their program and session; NULL for /v1 jobs.
    Column("program_id", String),
    Column("session_id", String),
    # The queue in the database: when the job (last) entered the queue, which replica
    # runs it, and when its run started and ended (epoch seconds).
    Column("queued_at", Float),
    Column("claimed_by", String),
    Column("started_at", Float),
    Column("finished_at", Float),
    # How many times a replica claimed the job to run it (1 unless it was requeued).
    Column("runs", Integer, nullable=False, server_default=text("0")),
    # The same key from the same identity makes one job, even from concurrent requests.
    Index(
        "jobs_idempotency",
        "owner_user", "owner_hub", "owner_group", "owner_project", "idempotency_key",
        unique=True,
        sqlite_where=text("idempotency_key IS NOT NULL"),
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    Index("jobs_status", "status"),
    Index("jobs_session", "session_id"),
    Index("jobs_claimed_by", "claimed_by"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String, nullable=False),
    Column("status", String, nullable=False),
    Column("at", String, nullable=False),
    Index("steps_job", "job_id"),
)

circuits = Table(
    "circuits",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("qpy", LargeBinary, nullable=False),
    # The circuits as they run (transpiled where needed); NULL until validated.
    Column("runnable_qpy", LargeBinary),
)

results = Table(
    "results",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("result", Text, nullable=False),
)

#: A private job's result held for the one reader (its read key) that has it, until acknowledged.
result_reads = Table(
    "result_reads",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("read_key", String, nullable=False),
)

#: One row per (job, tag): tag filters in plain SQL on both engines (jobs.tags keeps the order).
job_tags = Table(
    "job_tags",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("tag", String, primary_key=True),
    Index("job_tags_tag", "tag"),
)

#: Qiskit Runtime jobs: the program parameters as the client sent them.
runtime_params = Table(
    "runtime_params",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("params", Text, nullable=False),
)

#: Qiskit Runtime sessions and batches; their jobs carry jobs.session_id.
sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String, primary_key=True),
    Column("mode", String, nullable=False),
    Column("backend", String, nullable=False),
    Column("owner_user", String, nullable=False),
    Column("owner_hub", String, nullable=False),
    Column("owner_group", String, nullable=False),
    Column("owner_project", String, nullable=False),
    Column("max_ttl", Integer, nullable=False),
    Column("created", String, nullable=False),
    Column("accepting_jobs", Integer, nullable=False, server_default=text("1")),
    Column("closed", String),
)

#: The live job-service processes sharing this database, each with a lease it renews.
replicas = Table(
    "replicas",
    metadata,
    Column("replica_id", String, primary_key=True),
    Column("workers", Integer, nullable=False),
    Column("lease_until", Float, nullable=False),
    Column("started", String, nullable=False),
)

#: Per backend and project: when it last had a job claimed (its turn in the round robin).
fairshare_turns = Table(
    "fairshare_turns",
    metadata,
    Column("backend", String, primary_key=True),
    Column("owner_hub", String, primary_key=True),
    Column("owner_group", String, primary_key=True),
    Column("owner_project", String, primary_key=True),
    Column("last_claimed", Float, nullable=False),
)
