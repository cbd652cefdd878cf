"""When a private job's result was first read for its key: a held result expires from then.

Rows held before this revision have none (NULL); they expire from their job's end, as
they did.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``result_reads.held_at`` (epoch seconds of the read that took the result)."""
    op.add_column("result_reads", sa.Column("held_at", sa.Float, nullable=True))
