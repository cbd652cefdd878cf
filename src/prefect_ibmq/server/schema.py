"""The store's tables, as SQLAlchemy Core metadata (the same on SQLite and PostgreSQL).

The migrations in :mod:`prefect_ibmq.server.migrations` build exactly this; a test
compares the two. Times that are only ever shown are ISO 8601 text (as they always
were); times the queue computes with (queued, started, finished, leases) are epoch
seconds, so SQL can subtract and compare them on both engines.

Besides the tables, revision 0004 adds triggers on ``jobs`` that keep each project's
queued jobs and experiments counted in ``fairshare_turns`` (whichever code changes a
job's status). Metadata cannot hold triggers; a migration that makes SQLite rebuild
``jobs`` (``batch_alter_table`` with a column change) drops them and must create them
again (``tests/server/test_migrations.py`` checks the counts at head).
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

from prefect_ibmq.wire import NOT_FINAL

metadata = MetaData()

#: The conditions of the partial indexes. Queries state them with the constant inline
#: (``literal_column``), not as a bound parameter: SQLite uses a partial index only then.
QUEUED_ROWS = "status = 'QUEUED'"
#: Queued rows by when they entered: a condition of its own, so that no query of the order (which
#: does not say it) can pick this index instead of jobs_queue_order, whatever the planner's statistics.
ENTERED_ROWS = "status = 'QUEUED' AND queued_at IS NOT NULL"
#: Runs that teach the estimates: completed with both times (a job completed before 0002 has none).
COMPLETED_ROWS = "status = 'COMPLETED' AND started_at IS NOT NULL AND finished_at IS NOT NULL"
SHARED_ROWS = "share_level <> 'none'"
#: Jobs not yet final: an identity's are counted at every submission (revision 0005 keeps a frozen copy).
IN_FLIGHT_ROWS = "status IN ({})".format(", ".join(f"'{status.value}'" for status in NOT_FINAL))

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
    Index("jobs_status_seq", "status", "seq"),
    Index("jobs_session", "session_id"),
    Index("jobs_claimed_by", "claimed_by"),
    # The queue (see queue.py): per backend and project, its queued jobs in their order (with their
    # experiments, so sums need no table read) and by when they entered. Partial: only queued rows,
    # however many finished jobs the table holds.
    Index(
        "jobs_queue_order",
        "backend", "owner_hub", "owner_group", "owner_project", "creation_date", "seq", "num_experiments",
        sqlite_where=text(QUEUED_ROWS), postgresql_where=text(QUEUED_ROWS),
    ),
    Index(
        "jobs_queue_entered",
        "backend", "owner_hub", "owner_group", "owner_project", "queued_at",
        sqlite_where=text(ENTERED_ROWS), postgresql_where=text(ENTERED_ROWS),
    ),
    # The estimates: the latest completed runs, per backend and over all.
    Index(
        "jobs_completed_backend", "backend", "finished_at",
        sqlite_where=text(COMPLETED_ROWS), postgresql_where=text(COMPLETED_ROWS),
    ),
    Index("jobs_completed", "finished_at", sqlite_where=text(COMPLETED_ROWS), postgresql_where=text(COMPLETED_ROWS)),
    # Listings, newest first: an owner's jobs, and the (few) jobs shared with others.
    Index("jobs_owner", "owner_hub", "owner_group", "owner_project", "owner_user", "seq"),
    # An identity's jobs in flight: counted at each submission without walking its history.
    Index(
        "jobs_in_flight", "owner_user", "owner_hub", "owner_group", "owner_project",
        sqlite_where=text(IN_FLIGHT_ROWS), postgresql_where=text(IN_FLIGHT_ROWS),
    ),
    Index(
        "jobs_shared", "share_level", "owner_hub", "owner_group", "owner_project", "seq",
        sqlite_where=text(SHARED_ROWS), postgresql_where=text(SHARED_ROWS),
    ),
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
    #: When the read that took the result happened (epoch seconds); NULL for rows held before 0005.
    Column("held_at", Float, nullable=True),
)

#: One row per (job, tag): tag filters in plain SQL on both engines (jobs.tags keeps the order).
#: ``seq`` is the job's: a tag's jobs newest first are one walk of ``job_tags_tag_seq``.
job_tags = Table(
    "job_tags",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("tag", String, primary_key=True),
    Column("seq", Integer, nullable=False),
    Index("job_tags_tag_seq", "tag", "seq"),
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

#: Per backend and project: when it last had a job claimed (its turn in the round robin; 0:
#: never), and how many jobs and experiments it has queued (kept by the triggers of 0004).
fairshare_turns = Table(
    "fairshare_turns",
    metadata,
    Column("backend", String, primary_key=True),
    Column("owner_hub", String, primary_key=True),
    Column("owner_group", String, primary_key=True),
    Column("owner_project", String, primary_key=True),
    Column("last_claimed", Float, nullable=False),
    Column("queued", Integer, nullable=False, server_default=text("0")),
    Column("experiments", Integer, nullable=False, server_default=text("0")),
)
