"""The queue in the database, shared by replicas; tags as rows; Qiskit Runtime jobs and sessions.

Jobs already queued keep their order: their ``queued_at`` becomes their ``seq``,
older than any epoch time a new job gets. A SQLite file of the server that already
had the Qiskit Runtime tables and columns (added on open, before Alembic) keeps them:
what exists is not made again.

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add what a queue shared by replicas needs (only what is missing)."""
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    present = {column["name"] for column in inspector.get_columns("jobs")}
    indexes = {index["name"] for index in inspector.get_indexes("jobs")}
    with op.batch_alter_table("jobs") as batch:
        for name, kind in (
            ("program_id", sa.String), ("session_id", sa.String), ("queued_at", sa.Float),
            ("claimed_by", sa.String), ("started_at", sa.Float), ("finished_at", sa.Float),
        ):
            if name not in present:
                batch.add_column(sa.Column(name, kind))
        batch.add_column(sa.Column("runs", sa.Integer, nullable=False, server_default=sa.text("0")))
    if "jobs_session" not in indexes:
        op.create_index("jobs_session", "jobs", ["session_id"])
    op.create_index("jobs_claimed_by", "jobs", ["claimed_by"])
    op.create_table(
        "job_tags",
        sa.Column("job_id", sa.String, primary_key=True),
        sa.Column("tag", sa.String, primary_key=True),
    )
    op.create_index("job_tags_tag", "job_tags", ["tag"])
    _create_runtime_tables(tables)
    op.create_table(
        "replicas",
        sa.Column("replica_id", sa.String, primary_key=True),
        sa.Column("workers", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False),
        sa.Column("started", sa.String, nullable=False),
    )
    op.create_table(
        "fairshare_turns",
        sa.Column("backend", sa.String, primary_key=True),
        sa.Column("owner_hub", sa.String, primary_key=True),
        sa.Column("owner_group", sa.String, primary_key=True),
        sa.Column("owner_project", sa.String, primary_key=True),
        sa.Column("last_claimed", sa.Float, nullable=False),
    )
    _fill_from_existing_jobs()


def _create_runtime_tables(tables: set[str]) -> None:
    """Qiskit Runtime parameters and sessions (present already in a file of the pre-Alembic server)."""
    if "runtime_params" not in tables:
        op.create_table(
            "runtime_params",
            sa.Column("job_id", sa.String, primary_key=True),
            sa.Column("params", sa.Text, nullable=False),
        )
    if "sessions" not in tables:
        op.create_table(
            "sessions",
            sa.Column("session_id", sa.String, primary_key=True),
            sa.Column("mode", sa.String, nullable=False),
            sa.Column("backend", sa.String, nullable=False),
            sa.Column("owner_user", sa.String, nullable=False),
            sa.Column("owner_hub", sa.String, nullable=False),
            sa.Column("owner_group", sa.String, nullable=False),
            sa.Column("owner_project", sa.String, nullable=False),
            sa.Column("max_ttl", sa.Integer, nullable=False),
            sa.Column("created", sa.String, nullable=False),
            sa.Column("accepting_jobs", sa.Integer, nullable=False, server_default=sa.text("1")),
            sa.Column("closed", sa.String),
        )


def _fill_from_existing_jobs() -> None:
    bind = op.get_bind()
    jobs = sa.table("jobs", sa.column("seq"), sa.column("job_id"), sa.column("tags"),
                    sa.column("status"), sa.column("queued_at"))
    tags = sa.table("job_tags", sa.column("job_id"), sa.column("tag"))
    rows = [
        {"job_id": job_id, "tag": tag}
        for job_id, text in bind.execute(sa.select(jobs.c.job_id, jobs.c.tags))
        for tag in dict.fromkeys(json.loads(text))
    ]
    if rows:
        bind.execute(tags.insert(), rows)
    bind.execute(
        jobs.update()
        .where(jobs.c.status.in_(("QUEUED", "RUNNING")))
        .values(queued_at=sa.cast(jobs.c.seq, sa.Float))
    )
