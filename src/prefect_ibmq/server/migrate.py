"""Bring a store's database to the current schema with Alembic, at start.

An empty database gets every migration. A database made by the SQLite-only server
(its tables, no ``alembic_version``) is stamped as revision 0001 first, then
migrated. On PostgreSQL an advisory lock makes replicas that start together
migrate one after the other (the later ones find nothing left to do).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

#: The revision of the tables the SQLite-only server made (see migrations/versions/0001).
PRE_ALEMBIC_REVISION = "0001"
#: Any constant: the key of the advisory lock migrations hold on PostgreSQL.
MIGRATION_LOCK_KEY = 7_011_011


def alembic_config(connection: Connection) -> Config:
    """Alembic's config for our migrations, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Apply the migrations the database lacks (none: nothing happens)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "jobs" in tables and "alembic_version" not in tables:
            command.stamp(config, PRE_ALEMBIC_REVISION)
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        if "alembic_version" not in inspect(connection).get_table_names():
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
