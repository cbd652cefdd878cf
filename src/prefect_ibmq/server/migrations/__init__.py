"""Alembic migrations of the job store (applied at start by :func:`prefect_ibmq.server.migrate.upgrade`)."""
