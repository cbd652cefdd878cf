"""``prefect-ibmq server``: the job service as a process, until SIGINT or SIGTERM.

The same :class:`~prefect_ibmq.server.JobServer` the embedded default uses, on a
fixed port; it prints its URL and each project's instance CRN.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8765
#: How often the waiting main thread looks for a signal caught by another thread (see :func:`serve`).
SIGNAL_CHECK_S = 0.5


def add_server_parser(commands: Any) -> None:
    """Add ``server`` to the console script's subcommands."""
    server = commands.add_parser(
        "server", help="run the job service (REST API under /v1, Qiskit Runtime API under /api/v1)")
    server.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=None, help=f"port to listen on (default {DEFAULT_PORT})")
    server.add_argument("--data-dir", type=Path, default=None,
                        help="the server's files and SQLite store unless --store-url (default: $PREFECT_IBMQ_DATA_DIR, "
                        "else ~/.prefect-ibmq, the embedded default's, so both see the same jobs)")
    server.add_argument("--config", type=Path, default=None, help="a .toml or .json ServerConfig file")
    server.add_argument(
        "--store-url", default=None,
        help="the job store (default: a SQLite file in the data dir); postgresql+psycopg://user@host:port/db "
        "for a database several replicas share",
    )
    server.add_argument(
        "--token", default=None,
        help="a token for the identity local/local/local/local (default: one generated and kept in the data dir)",
    )
    server.add_argument("--workers", type=int, default=None, help="threads running jobs (default: CPU count)")
    server.add_argument(
        "--dask-scheduler", default=None, metavar="ADDRESS",
        help='simulate on the workers of this Dask scheduler, e.g. tcp://10.0.0.5:8786 (simulation = "dask")',
    )
    server.add_argument("--log-level", default="INFO", help="logging level of prefect_ibmq.server")


def _config(args: argparse.Namespace) -> Any:
    # Imported here so `prefect-ibmq --help` stays fast (qiskit is slow to import).
    from prefect_ibmq.backend.local import resolve_data_dir
    from prefect_ibmq.server import ServerConfig
    from prefect_ibmq.server.config import LOCAL_IDENTITY

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "data_dir": args.data_dir,
        "store_url": args.store_url,
    }
    if args.dask_scheduler:
        overrides.update(simulation="dask", dask_scheduler=args.dask_scheduler)
    if args.config is not None:
        config = ServerConfig.from_file(args.config, **{k: v for k, v in overrides.items() if v is not None})
        if args.token:
            config.tokens[args.token] = LOCAL_IDENTITY
        return config
    settings = {k: v for k, v in overrides.items() if v is not None}
    settings.setdefault("host", "127.0.0.1")
    settings.setdefault("port", DEFAULT_PORT)
    data_dir = settings.pop("data_dir", None) or resolve_data_dir()
    config = ServerConfig.default(data_dir, **settings)
    if args.token:
        # Beside the data dir's own token, which IBMQService.local() uses to find this server.
        config.tokens[args.token] = LOCAL_IDENTITY
    return config


def serve(args: argparse.Namespace) -> int:
    """Run ``prefect-ibmq server``: the job service until SIGINT or SIGTERM; returns the exit code."""
    from prefect_ibmq.server import JobServer, ServerAlreadyRunning
    from prefect_ibmq.server.config import TOKEN_FILE

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("prefect_ibmq.server").setLevel(args.log_level.upper())
    config = _config(args)
    server = JobServer(config)
    try:
        server.start()
    except ServerAlreadyRunning as exc:
        print(f"prefect-ibmq: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    where = f" (token in {config.data_dir / TOKEN_FILE})" if not args.token and args.config is None else ""
    try:
        if server.url is None:  # start() returned, so it listens: a URL-less server is a bug in JobServer
            raise RuntimeError("the job server started but has no URL")
        print(f"prefect-ibmq job service on {server.url}{where}", flush=True)
        _print_instances(config, server.url)
        # A timed wait, not stop.wait(): a signal may be delivered to any of the server's threads, and
        # then Python runs the handler only when the main thread next executes bytecode; an untimed wait
        # would block it for good (a SIGTERM once left a replica running with the flag never set).
        while not stop.wait(SIGNAL_CHECK_S):
            pass
    finally:
        server.stop()
    return 0


def _print_instances(config: Any, url: str) -> None:
    """Each project's instance CRN: what a Qiskit Runtime client names as its ``instance``."""
    from prefect_ibmq.server.runtime.crn import instance_name
    from prefect_ibmq.server.runtime.instances import Instances

    known = Instances(config.runtime)
    instances = {instance_name(identity): known.of(identity).crn for identity in config.tokens.values()}
    print(f"Qiskit Runtime API on {url}/api/v1; instance CRN of each project:", flush=True)
    for name, crn in sorted(instances.items()):
        print(f"  {name}: {crn}", flush=True)
