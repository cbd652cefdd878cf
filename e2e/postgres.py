"""A throwaway PostgreSQL cluster for ``make e2e``: initdb in a temporary folder, pg_ctl on 127.0.0.1.

PostgreSQL refuses to run as root, so when we are root its commands run as the
``postgres`` user (``runuser``), and the folder belongs to that user. The cluster
listens on 127.0.0.1 only (and on a Unix socket in its own folder), trusts local
connections (user ``postgres``, no password) and skips fsync: it lives for one run.
``stop()`` stops it and deletes the folder; ``e2e/run.sh`` does the same from the
folder's name (written to ``<out>/postgres-dir``) should the driver die hard.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_USER = "postgres"
START_ATTEMPTS = 5


def pg_bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise FileNotFoundError("no PostgreSQL under /usr/lib/postgresql: apt-get install -y postgresql")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """Start with ``start()``; URLs of its databases with ``url(db, driver)``; ``stop()`` removes it all."""

    def __init__(self, record_dir_in: Path | None = None) -> None:
        self.bin = pg_bin_dir()
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="e2e-postgres-"))
        self.port = 0
        if record_dir_in is not None:  # so that run.sh can clean up after a hard death
            (record_dir_in / "postgres-dir").write_text(f"{self.dir}\n{self.bin}\n")
        if self.as_root:
            shutil.chown(self.dir, PG_USER, PG_USER)

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log_file(self) -> Path:
        return self.dir / "postgres.log"

    def command(self, program: str, *args: str) -> list[str]:
        argv = [str(self.bin / program), *args]
        return ["runuser", "-u", PG_USER, "--", *argv] if self.as_root else argv

    def _run(self, program: str, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(self.command(program, *args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if done.returncode:
            raise RuntimeError(f"{program} {' '.join(args[:3])} exited {done.returncode}: {done.stderr[-1500:]}")
        return done.stdout

    def start(self, databases: tuple[str, ...] = ()) -> None:
        """initdb, then pg_ctl start on a free port (another is tried if it was taken meanwhile)."""
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", PG_USER, "-E", "UTF8", "--no-locale")
        for attempt in range(START_ATTEMPTS):
            self.port = _free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "60",
                          "-o", options, "start", timeout=90)
                break
            except RuntimeError:
                if attempt == START_ATTEMPTS - 1 or "already in use" not in self.log_text():
                    raise
                time.sleep(0.2)
        for name in databases:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, name)

    def url(self, database: str, driver: str) -> str:
        """``postgresql+<driver>://postgres@127.0.0.1:<port>/<database>``."""
        return f"postgresql+{driver}://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def sql(self, database: str, query: str) -> str:
        """The rows of one query as psql prints them unaligned (``|`` between columns)."""
        return self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", database,
                         "-At", "-v", "ON_ERROR_STOP=1", "-c", query).strip()

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, keep_log_as: Path | None = None) -> None:
        """Stop the server (fast: open sessions are ended) and delete the folder, whatever state it is in."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
        finally:
            if keep_log_as is not None and self.log_file.exists():
                shutil.copy(self.log_file, keep_log_as)
            shutil.rmtree(self.dir, ignore_errors=True)
