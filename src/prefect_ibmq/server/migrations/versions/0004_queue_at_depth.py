"""A queue that costs the same at any depth, and listings that walk indexes.

- ``fairshare_turns`` counts each project's queued jobs and experiments (``queued``,
  ``experiments``), kept by triggers on ``jobs``: whichever code moves a job into or out of
  QUEUED (the executor, a claim, the reaper, a cancel, a delete), the count follows in the
  same transaction. Projects with jobs queued before this revision get their row and counts.
- Partial indexes over the queued rows (each project's jobs in order, and by when they
  entered), over the completed ones (the estimates' latest runs), and indexes for listings:
  an owner's jobs and the shared ones newest first, ``job_tags`` by (tag, seq) with the job's
  ``seq`` copied in, and ``(status, seq)`` in place of ``(status)``.
- A queued job without ``queued_at`` (none is made so since 0002) gets its ``seq``, as in 0002.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

QUEUED_ROWS = "status = 'QUEUED'"
ENTERED_ROWS = "status = 'QUEUED' AND queued_at IS NOT NULL"
COMPLETED_ROWS = "status = 'COMPLETED' AND started_at IS NOT NULL AND finished_at IS NOT NULL"
SHARED_ROWS = "share_level <> 'none'"
PARTITION = ("backend", "owner_hub", "owner_group", "owner_project")

_SQLITE_ENTER = """
    INSERT INTO fairshare_turns (backend, owner_hub, owner_group, owner_project, last_claimed, queued, experiments)
    VALUES (NEW.backend, NEW.owner_hub, NEW.owner_group, NEW.owner_project, 0, 1, NEW.num_experiments)
    ON CONFLICT (backend, owner_hub, owner_group, owner_project)
    DO UPDATE SET queued = queued + 1, experiments = experiments + excluded.experiments;
"""
_SQLITE_LEAVE = """
    UPDATE fairshare_turns SET queued = queued - 1, experiments = experiments - OLD.num_experiments
    WHERE backend = OLD.backend AND owner_hub = OLD.owner_hub AND owner_group = OLD.owner_group
      AND owner_project = OLD.owner_project;
"""
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER jobs_queue_insert AFTER INSERT ON jobs WHEN NEW.status = 'QUEUED' BEGIN {_SQLITE_ENTER} END",
    "CREATE TRIGGER jobs_queue_enter AFTER UPDATE OF status ON jobs "
    f"WHEN NEW.status = 'QUEUED' AND OLD.status <> 'QUEUED' BEGIN {_SQLITE_ENTER} END",
    "CREATE TRIGGER jobs_queue_leave AFTER UPDATE OF status ON jobs "
    f"WHEN OLD.status = 'QUEUED' AND NEW.status <> 'QUEUED' BEGIN {_SQLITE_LEAVE} END",
    f"CREATE TRIGGER jobs_queue_delete AFTER DELETE ON jobs WHEN OLD.status = 'QUEUED' BEGIN {_SQLITE_LEAVE} END",
]
POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION jobs_queue_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'QUEUED' THEN
        UPDATE fairshare_turns SET queued = queued - 1, experiments = experiments - OLD.num_experiments
        WHERE backend = OLD.backend AND owner_hub = OLD.owner_hub AND owner_group = OLD.owner_group
          AND owner_project = OLD.owner_project;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'QUEUED' THEN
        INSERT INTO fairshare_turns AS t
          (backend, owner_hub, owner_group, owner_project, last_claimed, queued, experiments)
        VALUES (NEW.backend, NEW.owner_hub, NEW.owner_group, NEW.owner_project, 0, 1, NEW.num_experiments)
        ON CONFLICT (backend, owner_hub, owner_group, owner_project)
        DO UPDATE SET queued = t.queued + 1, experiments = t.experiments + excluded.experiments;
      END IF;
      RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER jobs_queue_insert AFTER INSERT ON jobs FOR EACH ROW WHEN (NEW.status = 'QUEUED') "
    "EXECUTE FUNCTION jobs_queue_count()",
    "CREATE TRIGGER jobs_queue_update AFTER UPDATE OF status ON jobs FOR EACH ROW "
    "WHEN ((OLD.status = 'QUEUED') <> (NEW.status = 'QUEUED')) EXECUTE FUNCTION jobs_queue_count()",
    "CREATE TRIGGER jobs_queue_delete AFTER DELETE ON jobs FOR EACH ROW WHEN (OLD.status = 'QUEUED') "
    "EXECUTE FUNCTION jobs_queue_count()",
]


def upgrade() -> None:
    """Counters, triggers and indexes; the counts of what is queued now."""
    bind = op.get_bind()
    jobs = sa.table("jobs", *(sa.column(name) for name in ("seq", "job_id", "status", "queued_at", "num_experiments",
                                                             *PARTITION)))
    bind.execute(jobs.update().where(sa.text(QUEUED_ROWS), jobs.c.queued_at.is_(None))
                 .values(queued_at=sa.cast(jobs.c.seq, sa.Float)))
    with op.batch_alter_table("fairshare_turns") as batch:
        batch.add_column(sa.Column("queued", sa.Integer, nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("experiments", sa.Integer, nullable=False, server_default=sa.text("0")))
    # Triggers first: on PostgreSQL creating them locks ``jobs`` against writes until this
    # migration commits, so nothing a replica of the previous version does escapes the count.
    for statement in SQLITE_TRIGGERS if bind.dialect.name == "sqlite" else POSTGRESQL_TRIGGERS:
        op.execute(statement)
    _count_queued(jobs)
    _tags_with_seq()
    op.drop_index("jobs_status", "jobs")
    op.create_index("jobs_status_seq", "jobs", ["status", "seq"])
    _partial_index("jobs_queue_order", [*PARTITION, "creation_date", "seq", "num_experiments"], QUEUED_ROWS)
    _partial_index("jobs_queue_entered", [*PARTITION, "queued_at"], ENTERED_ROWS)
    _partial_index("jobs_completed_backend", ["backend", "finished_at"], COMPLETED_ROWS)
    _partial_index("jobs_completed", ["finished_at"], COMPLETED_ROWS)
    op.create_index("jobs_owner", "jobs", ["owner_hub", "owner_group", "owner_project", "owner_user", "seq"])
    _partial_index("jobs_shared", ["share_level", "owner_hub", "owner_group", "owner_project", "seq"], SHARED_ROWS)


def _partial_index(name: str, columns: list[str], where: str) -> None:
    op.create_index(name, "jobs", columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def _count_queued(jobs: sa.TableClause) -> None:
    """Each project's row in ``fairshare_turns`` counts what it has queued (a row made if it had none)."""
    bind = op.get_bind()
    turns = sa.table("fairshare_turns", *(sa.column(name) for name in (*PARTITION, "last_claimed", "queued",
                                                                         "experiments")))
    groups = bind.execute(
        sa.select(*(jobs.c[name] for name in PARTITION), sa.func.count(), sa.func.sum(jobs.c.num_experiments))
        .where(sa.text(QUEUED_ROWS)).group_by(*(jobs.c[name] for name in PARTITION))
    ).all()
    for *key, queued, experiments in groups:
        where = [turns.c[name] == value for name, value in zip(PARTITION, key, strict=True)]
        counts = {"queued": queued, "experiments": experiments}
        if bind.execute(turns.update().where(*where).values(**counts)).rowcount == 0:
            bind.execute(turns.insert().values(**dict(zip(PARTITION, key, strict=True)), last_claimed=0.0, **counts))


def _tags_with_seq() -> None:
    """``job_tags.seq``: the job's, so a tag's jobs walk newest first from one index."""
    with op.batch_alter_table("job_tags") as batch:
        batch.add_column(sa.Column("seq", sa.Integer))
    op.execute("UPDATE job_tags SET seq = (SELECT jobs.seq FROM jobs WHERE jobs.job_id = job_tags.job_id)")
    op.execute("DELETE FROM job_tags WHERE seq IS NULL")  # tags of a job deleted (none expected)
    with op.batch_alter_table("job_tags") as batch:
        batch.alter_column("seq", existing_type=sa.Integer, nullable=False)
        batch.drop_index("job_tags_tag")
        batch.create_index("job_tags_tag_seq", ["tag", "seq"])
