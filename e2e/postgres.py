"""The e2e's PostgreSQL: the tests' throwaway cluster (``tests/pgcluster.py``) and what a whole run adds.

The cluster (``initdb`` in a temporary folder, ``pg_ctl`` on 127.0.0.1, as the
``postgres`` user under root) is the tests' own. Around it the e2e records the
folder in ``<out>/postgres-dir`` (``e2e/run.sh`` stops and deletes it should the
driver die hard), gives URLs for either driver (Prefect's asyncpg, our psycopg),
asks it plain SQL, and keeps its log when it stops.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.pgcluster import PostgresCluster


class E2EPostgres(PostgresCluster):
    """``start()``, ``create_database(name)``, ``url(name, driver)``, ``sql(name, query)``, ``stop()``."""

    def __init__(self, record_dir_in: Path) -> None:
        super().__init__()
        (record_dir_in / "postgres-dir").write_text(f"{self.root}\n{self.bin}\n")

    @property
    def log_file(self) -> Path:
        return self.root / "log"

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        """``postgresql+<driver>://postgres@127.0.0.1:<port>/<database>``."""
        return super().url(database).replace("+psycopg://", f"+{driver}://", 1)

    def sql(self, database: str, query: str) -> str:
        """The rows of one query as psql prints them unaligned (``|`` between columns)."""
        command = [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                   "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", query]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if done.returncode:
            raise RuntimeError(f"psql {query!r} on {database} failed ({done.returncode}): {done.stderr[-1500:]}")
        return done.stdout.strip()

    def stop(self, keep_log_as: Path | None = None) -> None:
        """Stop the server and delete its folder, keeping a copy of its log first."""
        if keep_log_as is not None and self.log_file.exists():
            shutil.copy(self.log_file, keep_log_as)
        super().stop()
