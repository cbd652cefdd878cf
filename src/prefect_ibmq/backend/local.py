"""The embedded job service behind ``IBMQService.local()``: one per process and data directory.

A server started here runs in a background thread of this process. Services
made by ``local()`` hold a lease on it; it stops when the last lease is
released (``IBMQService.close()``) or at interpreter exit, whichever comes
first. If another process already serves the data directory (its
``server.json`` names a server that answers), the lease points there instead.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from prefect_ibmq.api import AccountClient

DATA_DIR_ENV = "PREFECT_IBMQ_DATA_DIR"
DEFAULT_DATA_DIR = "~/.prefect-ibmq"
SERVER_FILE = "server.json"

_lock = threading.Lock()
_embedded: dict[Path, _Embedded] = {}


@dataclass
class _Embedded:
    """A server this process started, and how many services use it."""

    server: Any  # prefect_ibmq.server.JobServer (imported lazily: the client does not need it otherwise)
    users: int = 0


@dataclass
class LocalLease:
    """Where the local service is, and how to give it back."""

    url: str
    token: str
    data_dir: Path
    _released: bool = field(default=False, repr=False)

    def __repr__(self) -> str:
        return f"LocalLease(url={self.url!r}, token='***', data_dir={str(self.data_dir)!r})"

    def release(self) -> None:
        """Stop using the server; the last release of a server this process started stops it."""
        if self._released:
            return
        self._released = True
        with _lock:
            embedded = _embedded.get(self.data_dir)
            if embedded is None:
                return
            embedded.users -= 1
            if embedded.users > 0:
                return
            del _embedded[self.data_dir]
        atexit.unregister(embedded.server.stop)
        embedded.server.stop()


def resolve_data_dir(data_dir: str | PathLike[str] | None = None) -> Path:
    """``data_dir``, else ``$PREFECT_IBMQ_DATA_DIR``, else ``~/.prefect-ibmq``, as an absolute path."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


def acquire_local_server(data_dir: str | PathLike[str] | None = None) -> LocalLease:
    """A lease on the job service of ``data_dir``, starting it in this process when none answers.

    A server started here has its simulator processes started first, so they import
    qiskit and aer while this process imports and starts the server: its first job
    does not wait for them.
    """
    from prefect_ibmq.server.config import ServerConfig

    directory = resolve_data_dir(data_dir)
    with _lock:
        embedded = _embedded.get(directory)
        if embedded is None:
            config = ServerConfig.default(directory)
            token = next(iter(config.tokens))
            url = _live_server_url(directory, token)
            if url is not None:
                return LocalLease(url=url, token=token, data_dir=directory)
            from prefect_ibmq.server.simprocs import discard_early, start_early, threads_per_worker, warm_argument

            if config.simulation == "processes" and config.prestart_simulators:
                # Before the server's imports: the simulator processes import and warm up meanwhile.
                specs = [spec.model_dump() for spec in config.backends]
                start_early(config.workers, warm_argument(specs, threads_per_worker(config.workers)))
            from prefect_ibmq.server import JobServer, ServerAlreadyRunning

            server = JobServer(config)
            try:
                server.start()
            except ServerAlreadyRunning:
                # Another process started one between our look and our start.
                url = _live_server_url(directory, token)
                if url is None:
                    raise
                return LocalLease(url=url, token=token, data_dir=directory)
            finally:
                discard_early()  # those the pool did not take (none, once it started)
            atexit.register(server.stop)
            embedded = _embedded[directory] = _Embedded(server=server)
        embedded.users += 1
        return LocalLease(url=embedded.server.url, token=embedded.server.token, data_dir=directory)


def _live_server_url(directory: Path, token: str) -> str | None:
    """The URL in ``server.json`` if a job service answers there, else None."""
    try:
        url = json.loads((directory / SERVER_FILE).read_text(encoding="utf-8"))["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    client = AccountClient(url, token)
    try:
        return url if client.health() else None
    finally:
        client.close()
