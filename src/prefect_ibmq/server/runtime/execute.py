"""Running a Qiskit Runtime job: its program in a simulator process, as one whole.

IBM Quantum has no partial results: a runtime job completes with every pub's result
or fails as a whole. The ``flaky`` kind of backend therefore fails whole runtime jobs
(:data:`SIMULATED_FAULT_CODE`), drawn per pub from the job's seeded RNG like the
``/v1`` experiments.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from qiskit_aer import AerSimulator

from ..aerrun import generic_backend, make_aer
from ..config import BackendSpec
from ..simpool import SimulatorProcessDied
from .codec import decode_params
from .mock_backends import unwrap
from .programs import program

logger = logging.getLogger("prefect_ibmq.server.runtime.execute")

#: ``state.reason_code`` of a job failed by a flaky backend's simulated hardware fault.
SIMULATED_FAULT_CODE = 1500
#: ``state.reason_code`` of a job whose program raised while running.
PROGRAM_ERROR_CODE = 1517
#: How often a worker thread looks at the cancel event while a program runs elsewhere.
CANCEL_POLL_S = 0.05

#: AerSimulator per (backend spec, threads, thread) in this process, built on first use: one per
#: thread, as with ThreadRunner, for servers that simulate in their worker threads.
_AERS: dict[tuple[str, int, int], AerSimulator] = {}


def job_seed(job_id: str, seed: int | None) -> int:
    """A runtime job's seed (faults and, unless the options give one, the simulation): from its id.

    Below 2**31: aer takes seeds that fit a C int.
    """
    digest = hashlib.sha256(f"runtime:{job_id}:{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def run_program(program_id: str, spec: BackendSpec, threads: int, params: str, seed: int) -> str:
    """What a simulator process runs: params (as stored: the client's JSON, or a dry run's) -> the result text."""
    key = (spec.model_dump_json(), threads, threading.get_ident())
    aer = _AERS.get(key)
    if aer is None:
        aer = _AERS[key] = make_aer(threads, generic_backend(spec))
    text, dry_run = unwrap(params)
    return program(program_id).run(decode_params(text), spec, aer, seed, dry_run=dry_run)


@dataclass
class ProgramOutcome:
    """A finished run: the result text, or the failure's reason code and message."""

    text: str | None = None
    reason_code: int | None = None
    reason: str | None = None


def simulated_fault(spec: BackendSpec, job_id: str, pubs: int) -> str | None:
    """The fault a flaky backend injects into this job (the same on every run of it), or None."""
    if not spec.failure_probability:
        return None
    rng = random.Random(job_seed(job_id, spec.seed))
    for index in range(pubs):
        if rng.random() < spec.failure_probability:
            return (
                f"pub {index} failed on {spec.name} (simulated hardware fault); "
                "IBM Quantum jobs have no partial results"
            )
    return None


def execute(
    program_id: str,
    spec: BackendSpec,
    threads: int,
    job_id: str,
    params: str,
    pubs: int,
    stop: threading.Event,
    submit: Callable[..., Future] | None,
) -> ProgramOutcome | None:
    """Run a runtime job; None when ``stop`` was set meanwhile (cancel or shutdown).

    ``submit`` sends the call to the simulator processes; None runs it in this thread.
    """
    # The test knob of slow backends: each pub takes at least this long (a cancel cuts the wait short).
    if spec.experiment_delay_s and stop.wait(spec.experiment_delay_s * pubs):
        return None
    fault = simulated_fault(spec, job_id, pubs)
    if fault is not None:
        return ProgramOutcome(reason_code=SIMULATED_FAULT_CODE, reason=fault)
    seed = job_seed(job_id, spec.seed)
    args: tuple[Any, ...] = (program_id, spec, threads, params, seed)
    text: str | None
    try:
        if submit is None:
            text = run_program(*args)
        else:
            text = _in_pool(submit, args, stop)
    except Exception as exc:
        reason = f"the {program_id} program failed: {type(exc).__name__}: {exc}"
        return ProgramOutcome(reason_code=PROGRAM_ERROR_CODE, reason=reason)
    if text is None or stop.is_set():
        return None
    return ProgramOutcome(text=text)


def _in_pool(submit: Callable[..., Future], args: tuple[Any, ...], stop: threading.Event) -> str | None:
    """run_program in a simulator process; once more on a fresh one if that process dies. None: stopped."""
    for attempt in (1, 2):
        future = submit(run_program, *args)
        while not future.done():
            if stop.wait(CANCEL_POLL_S):
                future.cancel()  # when already running, its result is discarded
                return None
        try:
            return future.result()
        except SimulatorProcessDied:
            if attempt == 2:
                raise
            logger.warning("the simulator process running a runtime job died; running it again")
    raise AssertionError("unreachable")
