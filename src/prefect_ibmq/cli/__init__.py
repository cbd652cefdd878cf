"""The ``prefect-ibmq`` console script: ``server`` (:mod:`.server`) and ``jobs`` (:mod:`.jobs`).

``prefect-ibmq server`` runs the job service as a process; ``prefect-ibmq jobs ...``
lists, shows, cancels and waits for jobs. qiskit and Prefect are imported only when
a command runs, so ``prefect-ibmq --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from prefect_ibmq.cli.jobs import add_jobs_parser, run_jobs_command
from prefect_ibmq.cli.server import _config, add_server_parser, serve  # noqa: F401  (_config: tests build configs)

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Tells a bad argument in one line (not the usage block), then exits 2 as argparse does."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="prefect-ibmq", description="Quantum jobs as first-class Prefect work.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_server_parser(commands)
    add_jobs_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The console script: parse ``argv`` (default: the command line), run the command, return its exit code."""
    args = _parser().parse_args(argv)
    if args.command == "server":
        return serve(args)
    if args.command == "jobs":
        return run_jobs_command(args)
    raise AssertionError(f"unhandled command {args.command!r}")
