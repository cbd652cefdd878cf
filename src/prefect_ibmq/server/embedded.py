"""``JobServer``: the job service on uvicorn in a background thread.

The same class serves the embedded default (ephemeral port, one local token)
and ``prefect-ibmq server`` (a fixed port, in its own process). One data
directory has one running server: an exclusive ``flock`` on
``data_dir/server.lock`` guards the queue against being run twice, and
``data_dir/server.json`` says who holds it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import uvicorn

from .app import create_app
from .config import ServerConfig
from .kinds import server_kinds
from .service import JobBook

logger = logging.getLogger("prefect_ibmq.server.embedded")

LOCK_FILE = "server.lock"
INFO_FILE = "server.json"
STARTUP_TIMEOUT_S = 60.0


class ServerAlreadyRunning(RuntimeError):
    """Another server (in this process or another) runs the queue of this data directory."""

    def __init__(self, data_dir: Path, url: str | None, pid: int | None) -> None:
        where = f" at {url} (pid {pid})" if url else ""
        super().__init__(f"a job server already runs on {data_dir}{where}; stop it or use another data_dir")
        self.data_dir = data_dir
        self.url = url
        self.pid = pid


class _Uvicorn(uvicorn.Server):
    """uvicorn, releasing long-polls before it waits for open connections to finish."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Any) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets=sockets)


class JobServer:
    """Start with :meth:`start` (returns once listening), stop with :meth:`stop`; or ``with``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.url: str | None = None
        self.port: int | None = None
        #: The token of a single-identity config (the default's local token); else None.
        self.token: str | None = next(iter(config.tokens)) if len(config.tokens) == 1 else None
        #: The running service (its executor, store, ...); None when stopped.
        self.service: JobBook | None = None
        self._lock_handle: IO[str] | None = None
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None

    # --- context manager -------------------------------------------------------------

    def __enter__(self) -> JobServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- start and stop --------------------------------------------------------------

    def start(self) -> JobServer:
        """Serve in a background thread; returns once the server answers (raises if it cannot start)."""
        if self._thread is not None:
            raise RuntimeError("this JobServer is already started")
        data_dir = Path(self.config.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock(data_dir)
        try:
            self._start_locked(data_dir)
        except BaseException:
            self._release_lock(data_dir)
            raise
        logger.info("job server listening on %s (data in %s)", self.url, data_dir)
        return self

    def _start_locked(self, data_dir: Path) -> None:
        # Bind here, not in uvicorn, so a busy port fails start() instead of a thread.
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
        # and without it every response on a kept-alive connection waits ~40 ms (Nagle vs.
        # delayed ACK), which would dominate a long-poll's wake-up.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        shown_host = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        if ":" in shown_host:
            shown_host = f"[{shown_host}]"
        self.url = f"http://{shown_host}:{self.port}"

        service = JobBook(self.config, server_kinds())
        app = create_app(self.config, service)
        uv_config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            # Few clients, many requests: keep connections open between a client's polls.
            timeout_keep_alive=30,
        )
        self._server = _Uvicorn(uv_config, on_shutdown=service.notifier.close)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="prefect-ibmq-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                sock.close()
                raise RuntimeError("the job server failed to start; see the log of prefect_ibmq.server")
            if time.monotonic() > deadline:
                self._server.should_exit = True
                raise RuntimeError(f"the job server did not start within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.01)  # one-off startup wait
        self._sock = sock
        self.service = service
        info = {"url": self.url, "pid": os.getpid()}
        (data_dir / INFO_FILE).write_text(json.dumps(info), encoding="utf-8")

    def stop(self) -> None:
        """Stop serving: interrupt running jobs (a restart requeues them), join threads, close the store.

        Also ends the simulator processes; a server not started has nothing to stop.
        """
        if self._thread is None or self._server is None:  # set together by start(), cleared together here
            return
        data_dir = Path(self.config.data_dir)
        try:
            self._server.should_exit = True
            self._thread.join()
        finally:
            # Whatever stopping raised (or a Ctrl-C during the join), the data directory is let go:
            # another process's IBMQService.local() may then start a server on it.
            self._thread = None
            self._server = None
            self.service = None
            self._sock.close()
            try:
                (data_dir / INFO_FILE).unlink()
            except FileNotFoundError:
                pass
            self._release_lock(data_dir)
        logger.info("job server on %s stopped", self.url)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # --- the data directory's lock ---------------------------------------------------

    def _take_lock(self, data_dir: Path) -> None:
        handle = open(data_dir / LOCK_FILE, "a+", encoding="utf-8")
        try:
            # flock locks belong to the open file, so a second JobServer in the same process
            # is refused as well as one in another process.
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            url, pid = _read_info(data_dir)
            raise ServerAlreadyRunning(data_dir, url, pid) from None
        self._lock_handle = handle

    def _release_lock(self, data_dir: Path) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None


def _read_info(data_dir: Path) -> tuple[str | None, int | None]:
    try:
        info = json.loads((data_dir / INFO_FILE).read_text(encoding="utf-8"))
        return info.get("url"), info.get("pid")
    except (OSError, ValueError):
        return None, None
