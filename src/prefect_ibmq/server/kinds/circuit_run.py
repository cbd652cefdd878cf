"""A ``/v1`` job's run: its circuits planned in chunks, sent out, and their experiments assembled.

Everything but the simulation (chunking, cancel checks, the test delay, the flaky
draws, the result) stays in the worker thread, which never decodes the job's
circuits unless a chunk failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit

from prefect_ibmq.timestamps import now_iso
from prefect_ibmq.wire import RunOptions

from ..aerrun import JobQpy
from ..chunks import CHUNK, ChunkCall, ChunkRunner, ServerStopping, SimulatorCrashed
from ..config import BackendSpec
from ..runoptions import aer_options, chunk_options
from ..simulators import BACKEND_VERSION, flaky_failures
from ..stopping import ChunkAbandoned, StopEvent

logger = logging.getLogger("prefect_ibmq.server.simulators")


@dataclass
class RunOutcome:
    """A job's run: its result (what ``qiskit.result.Result.from_dict`` reads) and how many experiments failed."""

    result: dict[str, Any]
    failed: int
    total: int


def run_circuits(
    spec: BackendSpec,
    runner: ChunkRunner,
    job: JobQpy,
    options: RunOptions,
    job_id: str,
    header: dict[str, Any],
    stop: threading.Event,
    job_name: str | None = None,
) -> RunOutcome | None:
    """Run the experiments of ``job`` on ``spec``; None when ``stop`` was set (cancel or shutdown) in between.

    Up to ``runner.lookahead`` chunks are in flight; a stopped job's in-flight chunks
    are cancelled or, when already running, abandoned where they run (a :class:`StopEvent`
    does it the moment it is set). ``job_name`` keys the flaky draws of a seeded backend
    (``BackendSpec.seed``).
    """
    collector = _Collector(spec, job, options.shots, flaky_failures(spec, job_id, job_name, job.count))
    one_by_one = spec.experiment_delay_s > 0 or spec.failure_probability > 0
    chunk = 1 if one_by_one else CHUNK
    starts = iter(range(0, job.count, chunk))
    pending: deque[tuple[int, int, ChunkCall]] = deque()
    experiments: list[dict[str, Any]] = []
    base = aer_options(options)
    started = time.monotonic()
    try:
        while True:
            while len(pending) < runner.lookahead and not stop.is_set():
                start = next(starts, None)
                if start is None:
                    break
                end = min(start + chunk, job.count)
                call = runner.submit(spec, job, start, end, chunk_options(base, options, start))
                if isinstance(stop, StopEvent):
                    stop.on_set(call.cancel)
                pending.append((start, end, call))
            if stop.is_set():
                return None
            if not pending:
                break
            start, end, call = pending.popleft()
            experiments.extend(collector.collect(call, start, end))
            # The delay stands for slow hardware; waiting on the event lets a cancel cut it short.
            if spec.experiment_delay_s and stop.wait(spec.experiment_delay_s * (end - start)):
                return None
    except ChunkAbandoned:
        return None  # stopped while a chunk ran: the process running it was let go
    finally:
        for _, _, call in pending:
            call.cancel()
    failed = sum(1 for e in experiments if not e["success"])
    total = len(experiments)
    result = {
        "backend_name": spec.name,
        "backend_version": BACKEND_VERSION,
        "qobj_id": job_id,
        "job_id": job_id,
        "success": failed == 0,
        "status": "COMPLETED" if failed == 0 else f"{failed} of {total} experiments failed",
        "date": now_iso(),
        "header": header,
        "results": experiments,
        "time_taken": time.monotonic() - started,
    }
    return RunOutcome(result=result, failed=failed, total=total)


class _Collector:
    """A job's chunks as they come back: headers where aer left them out, the flaky backend's failure draws."""

    def __init__(self, spec: BackendSpec, job: JobQpy, shots: int, failing: list[bool]) -> None:
        self._spec = spec
        self._job = job
        self._shots = shots
        self._failing = failing
        self._circuits: list[QuantumCircuit] | None = None

    def _headers(self, start: int, end: int) -> list[dict[str, Any]]:
        """Experiment headers of circuits ``start:end``, decoding the job here (only a failure needs them)."""
        if self._circuits is None:
            self._circuits = self._job.circuits()
        return [_header(c) for c in self._circuits[start:end]]

    def collect(self, call: ChunkCall, start: int, end: int) -> list[dict[str, Any]]:
        """The chunk's experiments; a chunk that failed to simulate is failed experiments."""
        spec = self._spec
        try:
            experiments = call.result()
        except CancelledError as exc:  # dropped before it started: the job was stopped
            raise ChunkAbandoned("the chunk was dropped before it ran") from exc
        except (SimulatorCrashed, ServerStopping, ChunkAbandoned):
            raise
        except Exception as exc:
            logger.warning("simulation failed on %s: %s", spec.name, exc)
            message = f"ERROR: simulation failed: {exc}"
            return [_failed(h, self._shots, message) for h in self._headers(start, end)]
        if any("header" not in e for e in experiments):
            for experiment, header in zip(experiments, self._headers(start, end), strict=False):
                experiment.setdefault("header", header)
        out_list = []
        for index, experiment in enumerate(experiments, start):
            if self._failing[index]:
                experiment = _failed(
                    experiment["header"], self._shots,
                    f"ERROR: experiment failed on {spec.name} (simulated hardware fault)",
                )
            out_list.append(experiment)
        return out_list


def _header(circuit: QuantumCircuit) -> dict[str, Any]:
    """The experiment header aer writes, for experiments aer never returned."""
    return {
        "creg_sizes": [[reg.name, reg.size] for reg in circuit.cregs],
        "global_phase": float(circuit.global_phase) if not circuit.parameters else 0.0,
        "memory_slots": circuit.num_clbits,
        "n_qubits": circuit.num_qubits,
        "name": circuit.name,
        "qreg_sizes": [[reg.name, reg.size] for reg in circuit.qregs],
        "metadata": circuit.metadata or {},
    }


def _failed(header: dict[str, Any], shots: int, message: str) -> dict[str, Any]:
    """A failed experiment: Result.from_dict reads it; get_counts raises for it alone."""
    return {"shots": shots, "success": False, "data": {}, "header": header, "status": message, "meas_level": 2}
