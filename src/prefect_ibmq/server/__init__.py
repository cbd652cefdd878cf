"""The job service: REST app, store (SQLite, or PostgreSQL shared by replicas), fairshare queue, executor.

Start one in a background thread with :class:`JobServer`, or as a process with
``prefect-ibmq server``. It imports nothing of the client; the two share only
:mod:`prefect_ibmq.wire` (the wire format) and :mod:`prefect_ibmq.timestamps` (its times,
standard library only). ``tests/server/test_layering.py`` checks it.

The names here are imported when first asked for: a simulator process
(``python -m prefect_ibmq.server.simworker``) imports this package too, and needs
none of the app (FastAPI, SQLAlchemy: ~1 s of its start).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .config import BackendSpec, ServerConfig
    from .embedded import JobServer, ServerAlreadyRunning

__all__ = ["BackendSpec", "JobServer", "ServerAlreadyRunning", "ServerConfig", "create_app"]

_HOMES = {
    "create_app": ".app",
    "BackendSpec": ".config",
    "ServerConfig": ".config",
    "JobServer": ".embedded",
    "ServerAlreadyRunning": ".embedded",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value
