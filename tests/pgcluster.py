"""A throwaway PostgreSQL cluster: ``initdb`` in a temporary folder, ``pg_ctl`` on 127.0.0.1, removed after.

Which PostgreSQL: Debian's (``/usr/lib/postgresql/*/bin``) when it is installed,
else the one the ``pgserver`` wheel ships (pinned in the test extra, so ``make test``
always has one, with no system package manager). ``PREFECT_IBMQ_TEST_POSTGRES=wheel``
takes the wheel's even when Debian's is there (``debian``: Debian's or nothing).

PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged
user (``postgres`` when it exists, else ``nobody``) and the server's commands run
through ``runuser``; when that user cannot reach the wheel's binaries (a venv under
``/root``), they are copied into the cluster's folder first. Clients (``psql``,
``createdb`` over TCP, the tests' drivers) run as whoever calls them. Used by the
tests' ``pg_cluster`` fixture, by ``make bench`` and by ``make e2e``.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

#: Environment variable choosing the PostgreSQL: unset (Debian's, else the wheel's), ``debian`` or ``wheel``.
CHOICE = "PREFECT_IBMQ_TEST_POSTGRES"
MISSING = (
    "no PostgreSQL for the PostgreSQL cases: neither Debian's (/usr/lib/postgresql/*/bin/initdb) nor the "
    "pgserver wheel of the test extra; install the project with `make .venv/.installed` (make test does)"
)


class PostgresMissing(RuntimeError):
    """No PostgreSQL binaries on this machine."""


def _debian_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _wheel_bin() -> Path | None:
    spec = importlib.util.find_spec("pgserver")  # found, not imported: only its binaries are used
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    return folder if (folder / "initdb").exists() else None


def postgres_bin() -> Path:
    """The bin folder of the PostgreSQL to use (see the module's docstring); PostgresMissing when none."""
    choice = os.environ.get(CHOICE, "")
    if choice not in ("", "debian", "wheel"):
        raise PostgresMissing(f"{CHOICE}={choice!r}: expected debian, wheel or unset")
    found = (choice != "wheel" and _debian_bin()) or (choice != "debian" and _wheel_bin())
    if not found:
        raise PostgresMissing(MISSING if not choice else f"{MISSING} ({CHOICE}={choice})")
    return found


def _server_user() -> str | None:
    """Who runs the server: None (the caller) unless the caller is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise PostgresMissing("running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")


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
        self.user = _server_user()
        self._as_postgres = self.user is not None  # kept for e2e/postgres.py, which runs psql as postgres

    def _run(self, *args: str, server: bool = True) -> None:
        """Run one of the cluster's programs: as ``self.user`` when it is a server command under root."""
        command = [str(self.bin / args[0]), *args[1:]]
        if server and self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    def _reachable_bin(self) -> None:
        """As root, make sure the server's user can run the binaries; copy them into the cluster's folder if not."""
        if self.user is None:
            return
        probe = subprocess.run(["runuser", "-u", self.user, "--", "test", "-x", str(self.bin / "postgres")],
                               capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        if probe.returncode == 0:
            return
        # Only the wheel's can be out of reach; its binaries find their libraries at
        # $ORIGIN/../../../pgserver.libs, so the copy keeps that layout.
        site, copy = self.bin.parents[2], self.root / "wheel"
        shutil.copytree(site / "pgserver" / "pginstall", copy / "pgserver" / "pginstall", symlinks=True)
        if (site / "pgserver.libs").is_dir():
            shutil.copytree(site / "pgserver.libs", copy / "pgserver.libs")
        self.bin = copy / "pgserver" / "pginstall" / "bin"

    def start(self) -> PostgresCluster:
        if self.user is not None:
            self.root.chmod(0o755)
            self._reachable_bin()
            shutil.chown(self.root, self.user)
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
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name, server=False)
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
