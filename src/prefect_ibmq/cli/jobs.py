"""``prefect-ibmq jobs``: list, show, cancel and wait for jobs from the terminal.

Each command talks to one job service, chosen as tasks and flows choose it:
``--block NAME`` (a saved ``IBMQServiceCredentials`` block), else ``--url``
(or ``$PREFECT_IBMQ_URL``) with ``--token`` (or ``$PREFECT_IBMQ_TOKEN``, which
keeps it off the command line and out of the shell history), else the embedded
default, :meth:`IBMQService.local`. Tables go to the terminal (rich); ``--json``
prints the service's job records for scripts.

Exit codes: 0 when the command did what it says; 1 when ``cancel`` found the job
already final, or ``wait`` saw it end other than DONE (or time out); 2 for a bad
argument or a service error (unknown job, unreachable service, rejected token),
told in one line on stderr. qiskit and Prefect are imported only when a command
runs, so ``prefect-ibmq --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console

    from prefect_ibmq.backend import IBMQService
    from prefect_ibmq.job import IBMQJob

TOKEN_ENV = "PREFECT_IBMQ_TOKEN"
URL_ENV = "PREFECT_IBMQ_URL"
DEFAULT_LIST_LIMIT = 20
#: Width of tables written to a pipe or file: wide enough that no job id is folded.
_PIPE_WIDTH = 240
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class CommandError(Exception):
    """A command cannot go on; its message is told in one line and the exit code is 2."""


def add_jobs_parser(commands: Any) -> None:
    """Add ``jobs list|show|cancel|wait`` to the console script's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    source = common.add_mutually_exclusive_group()
    source.add_argument(
        "--url", default=None, help=f"the job service's URL (default ${URL_ENV}, else the embedded service)"
    )
    source.add_argument("--block", default=None, metavar="NAME", help="use a saved IBMQServiceCredentials block")
    common.add_argument(
        "--token", default=None,
        help=f"your token for --url; better set ${TOKEN_ENV}, which keeps it off the command line",
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")

    jobs = commands.add_parser("jobs", help="list, show, cancel or wait for jobs")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="{list,show,cancel,wait}")
    listing = actions.add_parser("list", parents=[common], help="jobs you may see, newest first")
    listing.add_argument("--tag", action="append", default=None, help="only jobs with this tag (repeat: any of them)")
    listing.add_argument(
        "--status", action="append", default=None, type=str.upper,
        help="only jobs in this status, e.g. DONE, RUNNING, ERROR, ERROR_RUNNING_JOB (repeat: any of them)",
    )
    listing.add_argument("--backend", default=None, help="only jobs on this backend")
    listing.add_argument(
        "--limit", type=int, default=DEFAULT_LIST_LIMIT,
        help=f"most jobs to list (default {DEFAULT_LIST_LIMIT}); read in pages of 1,000 after the first",
    )
    for name, text in (("show", "a job's record and time per step"), ("cancel", "cancel a job")):
        actions.add_parser(name, parents=[common], help=text).add_argument("job_id", metavar="ID")
    waiting = actions.add_parser(
        "wait", parents=[common], help="follow a job's status until it is final (exit 0 only if DONE)"
    )
    waiting.add_argument("job_id", metavar="ID")
    waiting.add_argument("--timeout", type=float, default=None, help="give up after this many seconds (exit 1)")


def run_jobs_command(args: argparse.Namespace) -> int:
    """Run ``prefect-ibmq jobs ACTION``; returns the exit code."""
    from prefect_ibmq.exceptions import IBMQError, IBMQJobTimeoutError

    # The client logs each repeat of a failed request: the one-line error says it all here.
    logging.getLogger("prefect_ibmq.api").setLevel(logging.ERROR)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    command = _COMMANDS[args.action]
    try:
        with _service(args, token) as service:
            return command(service, args, _console())
    except IBMQJobTimeoutError as exc:
        _tell(exc.message, token)
        return 1
    except IBMQError as exc:
        _tell(exc.message, token)
        return 2
    except CommandError as exc:
        _tell(str(exc), token)
        return 2
    except KeyboardInterrupt:
        _tell("interrupted", token)
        return 130


# --- the service --------------------------------------------------------------


@contextmanager
def _service(args: argparse.Namespace, token: str | None) -> Iterator[IBMQService]:
    """The service the arguments name, closed at the end."""
    from prefect_ibmq.api import RetryPolicy
    from prefect_ibmq.backend import IBMQService

    if args.block:
        if args.token:
            raise CommandError("--token goes with --url; the block --block names holds its own token")
        url, token, data_dir = _block_fields(args.block)
    else:
        url, data_dir = args.url or os.environ.get(URL_ENV), None
    if url and not token:
        raise CommandError(f"the service at {url} needs a token: set ${TOKEN_ENV} (or give --token)")
    # Someone is waiting at the terminal: two quick repeats, not the library's patient five.
    service = IBMQService(url, token or "", retry=RetryPolicy(max_retries=2)) if url else IBMQService.local(data_dir)
    try:
        yield service
    finally:
        service.close()


def _block_fields(name: str) -> tuple[str | None, str | None, str | None]:
    """URL, token and data folder of the ``IBMQServiceCredentials`` block ``name`` (imports Prefect)."""
    from prefect_ibmq.blocks import IBMQServiceCredentials

    try:
        # Sync here (no event loop runs), so load() returns the block, not the coroutine its type allows.
        block = cast("IBMQServiceCredentials", IBMQServiceCredentials.load(name))
    except Exception as exc:  # Prefect raises ValueError, httpx or runtime errors: all mean "no such block here"
        raise CommandError(f"cannot load the IBMQServiceCredentials block {name!r}: {exc}") from None
    token = block.token.get_secret_value() if block.token else None
    return block.url, token, block.data_dir


# --- the commands -------------------------------------------------------------


def _list(service: IBMQService, args: argparse.Namespace, console: Console) -> int:
    """``jobs list``: a table (or JSON list) of the jobs that match the filters."""
    # Page by page along the service's cursor: a long listing costs each page what the first does.
    jobs = list(service.iter_jobs(limit=args.limit, backend_name=args.backend, status=args.status, job_tags=args.tag))
    if args.json:
        _print_json([job.record.model_dump(mode="json") for job in jobs])
        return 0
    from rich.table import Table

    table = Table(box=None)
    # Ids, statuses and times stay whole in a narrow terminal (people copy them); names and tags wrap.
    for column in ("JOB ID", "STATUS", "BACKEND", "CREATED", "NAME", "TAGS"):
        table.add_column(column, no_wrap=column not in ("NAME", "TAGS"), overflow="fold")
    for job in jobs:
        record = job.record
        table.add_row(
            job.job_id(), _status_name(job), record.backend, job.creation_date().strftime(_TIME_FORMAT),
            record.name or "", ", ".join(record.tags),
        )
    console.print(table if jobs else "No jobs match.")
    return 0


def _show(service: IBMQService, args: argparse.Namespace, console: Console) -> int:
    """``jobs show ID``: the job's record and, in lifecycle order, when it entered each step."""
    job = service.job(args.job_id)
    steps = list((job.time_per_step() or {}).items())
    if args.json:
        _print_json(job.record.model_dump(mode="json"))
        return 0
    from rich.table import Table

    record = job.record
    about = Table(box=None, show_header=False)
    fields = {
        "job id": job.job_id(),
        "name": record.name or "",
        "backend": record.backend,
        "status": f"{_status_name(job)} ({record.status.value})",
        "created": job.creation_date().strftime(_TIME_FORMAT),
        "owner": record.owner.user,
        "tags": ", ".join(record.tags),
        "experiments": str(record.num_experiments),
        "share level": record.share_level,
        "error": job.error_message() or "",
    }
    for key, value in fields.items():
        about.add_row(key, value)
    timing = Table("STEP", "ENTERED", "SECONDS IN STEP", box=None, title="time per step", title_justify="left")
    for (step, entered), following in zip(steps, [*steps[1:], None], strict=False):
        seconds = f"{(following[1] - entered).total_seconds():.3f}" if following else ""
        timing.add_row(step, entered.strftime(_TIME_FORMAT + ".%f")[:-3], seconds)
    console.print(about)
    console.print(timing if steps else "No step times known yet.")
    return 0


def _cancel(service: IBMQService, args: argparse.Namespace, console: Console) -> int:
    """``jobs cancel ID``: exit 0 if the job is cancelled, 1 if it was already final."""
    job = service.job(args.job_id)
    cancelled = job.cancel()
    status = job.record.status.value
    if args.json:
        _print_json({"job_id": job.job_id(), "cancelled": cancelled, "status": status})
    elif cancelled:
        console.print(f"Cancelled job {job.job_id()} ({status}).")
    else:
        console.print(f"Job {job.job_id()} was not cancelled: it had already ended ({status}).")
    return 0 if cancelled else 1


def _wait(service: IBMQService, args: argparse.Namespace, console: Console) -> int:
    """``jobs wait ID``: a line per status change until the job is final; exit 0 only if DONE.

    Waits on the service's long-poll (``wait_for_final_state`` with a callback
    hears every change as it happens), so it asks no more often than things change.
    """
    from qiskit.providers import JobStatus

    job = service.job(args.job_id)
    report = _status_reporter(args.json, console)
    report(job)
    with _live_line(console, job, enabled=not args.json) as update:

        def changed(job_id: str, status: Any, job: IBMQJob, queue_info: Any = None) -> None:
            report(job)
            update(job)

        job.wait_for_final_state(timeout=args.timeout, callback=changed)
    report(job)
    return 0 if job.status() is JobStatus.DONE else 1


# --- output -------------------------------------------------------------------


def _status_reporter(as_json: bool, console: Console) -> Callable[[IBMQJob], None]:
    """A function that prints a job's status once per change (a line of text or of JSON)."""
    from datetime import datetime

    last: list[tuple[str, int | None]] = []

    def report(job: IBMQJob) -> None:
        position = job.queue_position()
        seen = (job.record.status.value, position)
        if last and last[-1] == seen:
            return
        last.append(seen)
        now = datetime.now().astimezone()
        if as_json:
            # "status" as in the job records of `list --json`; "job_status" is qiskit's name for it.
            _print_json(
                {"job_id": job.job_id(), "status": seen[0], "job_status": _status_name(job),
                 "queue_position": position, "at": now.isoformat()},
                compact=True,
            )
            return
        where = f", queue position {position}" if position is not None else ""
        console.print(f"{now:%H:%M:%S}  {job.job_id()}  {_status_name(job)} ({seen[0]}{where})")

    return report


@contextmanager
def _live_line(console: Console, job: IBMQJob, enabled: bool) -> Iterator[Callable[[IBMQJob], None]]:
    """On a terminal, a spinner line showing the job's current status; elsewhere nothing."""
    if not (enabled and console.is_terminal):
        yield lambda job: None
        return
    with console.status(_live_text(job)) as line:
        yield lambda job: line.update(_live_text(job))


def _live_text(job: IBMQJob) -> str:
    return f"waiting for job {job.job_id()}: {_status_name(job)}"


def _status_name(job: IBMQJob) -> str:
    """The job's qiskit status name (DONE, RUNNING, ...), from what was last seen (no request)."""
    from prefect_ibmq.job.status import api_status_to_job_status

    return api_status_to_job_status(job.record.status).name


def _console() -> Console:
    from rich.console import Console

    console = Console(highlight=False)
    if console.is_terminal:
        return console
    # A pipe or a file: no terminal width to fit, and folding a job id would break grep.
    return Console(highlight=False, width=int(os.environ.get("COLUMNS") or _PIPE_WIDTH))


def _print_json(value: Any, compact: bool = False) -> None:
    print(json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2), flush=True)


def _tell(message: str, token: str | None) -> None:
    """One line on stderr; the token is blanked in case a message ever quotes it."""
    line = " ".join(message.split())
    if token:
        line = line.replace(token, "***")
    print(f"prefect-ibmq: error: {line}", file=sys.stderr)


_COMMANDS: dict[str, Callable[[IBMQService, argparse.Namespace, Console], int]] = {
    "list": _list,
    "show": _show,
    "cancel": _cancel,
    "wait": _wait,
}
