"""The store as the SQLite-only server made it (before Alembic): jobs, steps, circuits, results.

A database made by that server has these tables and no ``alembic_version``; it is
stamped with this revision at start and migrated onwards from here.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of the SQLite-only server's store."""
    op.create_table(
        "jobs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String, nullable=False, unique=True),
        sa.Column("backend", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("creation_date", sa.String, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("share_level", sa.String, nullable=False),
        sa.Column("experiment_id", sa.String),
        sa.Column("client_info", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("header", sa.Text, nullable=False),
        sa.Column("private", sa.Integer, nullable=False),
        sa.Column("owner_user", sa.String, nullable=False),
        sa.Column("owner_hub", sa.String, nullable=False),
        sa.Column("owner_group", sa.String, nullable=False),
        sa.Column("owner_project", sa.String, nullable=False),
        sa.Column("num_experiments", sa.Integer, nullable=False),
        sa.Column("run_mode", sa.String),
        sa.Column("error_code", sa.Integer),
        sa.Column("error_message", sa.Text),
        sa.Column("result_consumed", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("requeued", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("idempotency_key", sa.String),
    )
    op.create_index(
        "jobs_idempotency", "jobs",
        ["owner_user", "owner_hub", "owner_group", "owner_project", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index("jobs_status", "jobs", ["status"])
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("at", sa.String, nullable=False),
    )
    op.create_index("steps_job", "steps", ["job_id"])
    op.create_table(
        "circuits",
        sa.Column("job_id", sa.String, primary_key=True),
        sa.Column("qpy", sa.LargeBinary, nullable=False),
        sa.Column("runnable_qpy", sa.LargeBinary),
    )
    op.create_table(
        "results",
        sa.Column("job_id", sa.String, primary_key=True),
        sa.Column("result", sa.Text, nullable=False),
    )
