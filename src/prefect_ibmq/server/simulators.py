"""The simulated backends: their published configuration, validation (:mod:`.validation`) and running.

``ideal`` and ``flaky`` are qiskit-aer's AerSimulator; ``noisy`` is an
AerSimulator built from qiskit's ``GenericBackendV2`` (its noise, coupling map
and basis gates). ``flaky`` fails each experiment with a probability drawn from
a per-job RNG, so partial results are real, not mocked.

A job's experiments run in chunks through a :class:`ChunkRunner`: in the
calling thread (:class:`ThreadRunner`) or, by default, in the executor's pool
of simulator processes (:mod:`.simpool`; :func:`.aerrun.simulate_qpy` is what they run,
on the job's QPY as stored), so aer, which holds the GIL while it simulates, neither
serialises the workers nor stalls the server's other threads. Everything else
(chunking, cancel checks, the test delay, the flaky draws, the result) stays in
the worker thread, which never decodes the job's circuits unless a chunk failed.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Any, Protocol

from qiskit import QuantumCircuit
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from prefect_ibmq.timestamps import now_iso
from prefect_ibmq.wire import BackendConfiguration, RunOptions

from .aerrun import JobQpy, generic_backend, simulate_qpy
from .config import BackendSpec
from .runoptions import aer_options, check_run_options, chunk_options
from .simops import unsendable
from .stopping import ChunkAbandoned, StopEvent
from .validation import CircuitValidator, InvalidJob

logger = logging.getLogger("prefect_ibmq.server.simulators")

#: Experiments per aer call when nothing forces one at a time: big enough to
#: amortise the call (and, in a pool process, the QPY round trip), small enough
#: that a cancel is seen soon: ~64 ms for 2-5 qubit circuits. With simulation in
#: threads, aer holds the GIL for a whole call, so this also bounds how long the
#: server's other threads (requests, long-poll wake-ups) wait behind one.
CHUNK = 64
BACKEND_VERSION = "1.0.0"
#: The dt of backends whose aer has no clock of its own (the ideal ones): GenericBackendV2's, so a
#: delay in seconds has the same length in dt on every backend. Delays do nothing without noise.
NOMINAL_DT = 2.22e-10


class SimulatorCrashed(Exception):
    """A simulator process died running a chunk, also when retried on a fresh pool: the job fails."""


class ServerStopping(Exception):
    """The server stopped while a chunk was still to run: the job is left RUNNING for the restart."""


class ChunkCall(Protocol):
    """A chunk of experiments on its way: its answer, or its cancellation."""

    def result(self) -> list[dict[str, Any]]:
        """The chunk's experiment dicts, once simulated; raises what running it raised."""
        ...

    def cancel(self) -> bool:
        """Drop the chunk if it has not started, else abandon it where it runs if that can be done.

        True if dropped or abandoned; a waiting :meth:`result` then raises ChunkAbandoned
        (or CancelledError, if it never started).
        """
        ...


class ChunkRunner(Protocol):
    """Runs chunks of circuits; ``lookahead`` chunks of one job may be in flight at once."""

    @property
    def lookahead(self) -> int:
        """Chunks of one job that may be in flight at once."""
        ...

    def submit(
        self, spec: BackendSpec, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
    ) -> ChunkCall:
        """Start simulating circuits ``start:stop`` of ``job``."""
        ...


class ThreadRunner:
    """Simulates in the calling thread (``ServerConfig.simulation = "threads"``), on aer of its own."""

    lookahead = 1

    def __init__(self, threads: int) -> None:
        self._threads = threads

    def submit(
        self, spec: BackendSpec, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
    ) -> ChunkCall:
        """Simulate the chunk now; the returned call is done."""
        future: Future[list[dict[str, Any]]] = Future()
        try:
            future.set_result(simulate_qpy(spec, self._threads, job, start, stop, run_options))
        except Exception as exc:
            future.set_exception(exc)
        return future


@dataclass
class RunOutcome:
    """A job's run: its result (what ``qiskit.result.Result.from_dict`` reads) and how many experiments failed."""

    result: dict[str, Any]
    failed: int
    total: int


class Simulator:
    """One configured backend. Shared by all threads; aer instances are per thread."""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self._generic = generic_backend(spec)
        # aer's from_backend takes the noisy backend's target as it is; its noise model (~0.5 s to
        # build) is needed only where chunks run, not for validation and the configuration.
        self.target: Target = self._generic.target if self._generic is not None else AerSimulator().target
        # The noisy backend lays circuits out on its coupling map when it must transpile them.
        self._validator = CircuitValidator(spec, self.target, layout=self._generic is not None)
        self.configuration = self._configuration()

    # --- description -----------------------------------------------------------------

    def _configuration(self) -> BackendConfiguration:
        spec = self.spec
        coupling = properties = None
        if self._generic is not None:
            coupling = [list(edge) for edge in self._generic.coupling_map.get_edges()]
            properties = _noise_properties(self._generic.target)
        description = {
            "ideal": "ideal qiskit-aer simulator",
            "noisy": "qiskit-aer with the noise of qiskit's GenericBackendV2",
            "flaky": f"ideal simulator whose experiments fail with probability {spec.failure_probability}",
        }[spec.kind]
        dt = self._generic.dt if self._generic is not None else NOMINAL_DT
        return BackendConfiguration(
            dt=dt,
            noise_model_option=self._generic is None,
            backend_name=spec.name,
            backend_version=BACKEND_VERSION,
            description=description,
            simulator=True,
            n_qubits=spec.n_qubits,
            basis_gates=sorted(self.target.operation_names),
            coupling_map=coupling,
            max_experiments=spec.max_experiments,
            max_shots=spec.max_shots,
            properties=properties,
        )

    def first_guess_seconds_per_experiment(self) -> float:
        """What the queue assumes an experiment takes before it has measured any."""
        return 0.01 + self.spec.experiment_delay_s

    # --- validation ------------------------------------------------------------------

    def prepare(self, circuits: list[QuantumCircuit], options: RunOptions) -> tuple[list[QuantumCircuit], bool]:
        """Validate a job; returns the circuits to run and whether any was transpiled (see :class:`CircuitValidator`).

        Raises:
            InvalidJob: Naming the circuit index and what is wrong.
        """
        return self._validator.prepare(circuits, options)

    def admit(self, circuits: list[QuantumCircuit], options: RunOptions) -> None:
        """What the backend can never honour, checked at submit: options and instructions QPY cannot carry.

        Raises:
            InvalidJob: Naming the option, or the circuit and its instruction.
        """
        check_run_options(self.configuration, options)
        for index, circuit in enumerate(circuits):
            found = unsendable(circuit)
            if found is not None:
                name, instead = found
                raise InvalidJob(f"circuit {index} ({circuit.name!r}) uses instruction {name!r}: {instead}")

    # --- running ---------------------------------------------------------------------

    def run(
        self,
        runner: ChunkRunner,
        job: JobQpy,
        options: RunOptions,
        job_id: str,
        header: dict[str, Any],
        stop: threading.Event,
        job_name: str | None = None,
    ) -> RunOutcome | None:
        """Run the experiments; None when ``stop`` was set (cancel or shutdown) in between.

        Up to ``runner.lookahead`` chunks are in flight; a stopped job's in-flight chunks
        are cancelled or, when already running, abandoned where they run (a :class:`StopEvent`
        does it the moment it is set). ``job_name`` keys the flaky draws of a seeded backend
        (``BackendSpec.seed``).
        """
        spec = self.spec
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


def build_simulators(specs: Iterable[BackendSpec]) -> dict[str, Simulator]:
    """One :class:`Simulator` per configured backend, by name."""
    return {spec.name: Simulator(spec) for spec in specs}


def flaky_failures(spec: BackendSpec, job_id: str, job_name: str | None, count: int) -> list[bool]:
    """Which of a job's ``count`` experiments the backend fails (all False unless it is flaky).

    One draw per experiment, in order, from the job's draw seed: a seeded backend fails
    the same experiments of every job of one name, which tests derive from here.
    """
    if not spec.failure_probability:
        return [False] * count
    rng = random.Random(_draw_seed(job_id, job_name, spec.seed))
    return [rng.random() < spec.failure_probability for _ in range(count)]


def _draw_seed(job_id: str, job_name: str | None, seed: int | None) -> int:
    """The seed of a job's flaky draws: from its random id, or (backend seeded) from its name."""
    key = job_id if seed is None else f"name={job_name}"
    digest = hashlib.sha256(f"{key}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


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


def _noise_properties(target: Target) -> dict[str, Any]:
    """Per-qubit and per-gate noise of a GenericBackendV2 target, as plain JSON."""
    qubits = []
    for index in range(target.num_qubits or 0):
        props = target.qubit_properties[index] if target.qubit_properties else None
        readout = target["measure"].get((index,)) if "measure" in target else None
        qubits.append(
            {
                "qubit": index,
                "t1": getattr(props, "t1", None),
                "t2": getattr(props, "t2", None),
                "frequency": getattr(props, "frequency", None),
                "readout_error": getattr(readout, "error", None),
                "readout_length": getattr(readout, "duration", None),
            }
        )
    gates = []
    for name in sorted(target.operation_names):
        if name == "measure":
            continue
        for qargs, props in (target[name] or {}).items():
            if qargs is None:
                continue
            gates.append(
                {
                    "gate": name,
                    "qubits": list(qargs),
                    "error": getattr(props, "error", None),
                    "duration": getattr(props, "duration", None),
                }
            )
    return {"qubits": qubits, "gates": gates}
