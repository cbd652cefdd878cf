"""When a private job's result was first read for its key, and an index of each identity's jobs in flight.

- ``result_reads.held_at``: a held result expires from the read that took it. Rows held
  before this revision have none (NULL); they expire from their job's end, as they did.
- ``jobs_in_flight``: a partial index of the jobs not yet final by owner, so counting an
  identity's at each submission reads those rows only, not its whole history.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


IN_FLIGHT_ROWS = "status IN ('CREATING', 'CREATED', 'VALIDATING', 'VALIDATED', 'QUEUED', 'RUNNING')"


def upgrade() -> None:
    """Add ``result_reads.held_at`` (epoch seconds of the read that took the result) and ``jobs_in_flight``."""
    op.add_column("result_reads", sa.Column("held_at", sa.Float, nullable=True))
    op.create_index(
        "jobs_in_flight", "jobs", ["owner_user", "owner_hub", "owner_group", "owner_project"],
        sqlite_where=sa.text(IN_FLIGHT_ROWS), postgresql_where=sa.text(IN_FLIGHT_ROWS),
    )
