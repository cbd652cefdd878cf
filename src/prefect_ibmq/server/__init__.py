"""The job service: REST app, store (SQLite, or PostgreSQL shared by replicas), fairshare queue, executor.

Start one in a background thread with :class:`JobServer`, or as a process with
``prefect-ibmq server``. It imports nothing of the client; the two share only
:mod:`prefect_ibmq.wire` (the wire format) and :mod:`prefect_ibmq.timestamps` (its times,
standard library only). ``tests/server/test_layering.py`` checks it.
"""

from .app import create_app
from .config import BackendSpec, ServerConfig
from .embedded import JobServer, ServerAlreadyRunning

__all__ = ["BackendSpec", "JobServer", "ServerAlreadyRunning", "ServerConfig", "create_app"]
