"""A private job's result held for its reader's key until acknowledged (read, then acknowledge).

A database of the SQLite-only server that already made the table (it created it with
``CREATE TABLE IF NOT EXISTS``) keeps it.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the table of private results held for a read key."""
    if "result_reads" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "result_reads",
        sa.Column("job_id", sa.String, primary_key=True),
        sa.Column("read_key", sa.String, nullable=False),
    )

