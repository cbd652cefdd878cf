"""A throwaway PostgreSQL cluster: ``initdb`` in a temporary folder, ``pg_ctl`` on 127.0.0.1, removed after.

Debian's PostgreSQL (``.ci/run`` installs ``postgresql-15`` when missing) refuses
to run as root, so as root the cluster belongs to the ``postgres`` user and every
command runs through ``runuser``. Used by the tests' ``pg_cluster`` fixture and by
``make bench``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

MISSING = (
    "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): the PostgreSQL cases need it; "
    "install it with `apt-get install -y postgresql-15` (.ci/run does)"
)


class PostgresMissing(RuntimeError):
    """No PostgreSQL binaries on this machine."""


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise PostgresMissing(MISSING)
    return Path(found[-1]).parent


def _free_port() -> int:
    # Ports below the ephemeral range (32768+) are not handed out to outgoing connections meanwhile.
    for port in range(20000 + os.getpid() % 5000, 32000, 7):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32000 for PostgreSQL")


class PostgresCluster:
    """``with PostgresCluster() as pg:`` gives ``pg.url(database)``; stopped and deleted on exit."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="prefect-ibmq-pg-"))
        self.port = 0
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    def start(self) -> PostgresCluster:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale")
        for attempt in range(5):
            self.port = _free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
            try:
                self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "log"), "-w", "-o", options, "start")
                return self
            except RuntimeError:
                if attempt == 4:
                    raise
        return self

    def create_database(self, name: str) -> str:
        """Make database ``name``; returns its SQLAlchemy URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
