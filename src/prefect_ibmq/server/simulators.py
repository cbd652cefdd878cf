"""The simulated backends: their published configuration, validation and running.

``ideal`` and ``flaky`` are qiskit-aer's AerSimulator; ``noisy`` is an
AerSimulator built from qiskit's ``GenericBackendV2`` (its noise, coupling map
and basis gates). ``flaky`` fails each experiment with a probability drawn from
a per-job RNG, so partial results are real, not mocked.

A job's experiments run in chunks through a :class:`ChunkRunner`: in the
calling thread (:class:`ThreadRunner`) or, by default, in the executor's pool
of simulator processes (:mod:`.simpool`; :func:`simulate_qpy` is what they run), so
aer, which holds the GIL while it simulates, neither serialises the workers nor
stalls the server's other threads. Everything else (chunking, cancel checks,
the test delay, the flaky draws, the result) stays in the worker thread.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from qiskit import QuantumCircuit, qpy, transpile
from qiskit.circuit import ControlFlowOp
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator
from qiskit_aer.backends.backend_utils import format_save_type

from prefect_ibmq.wire import BackendConfiguration, RunOptions

from .config import BackendSpec
from .store import now_iso

logger = logging.getLogger("prefect_ibmq.server.simulators")

#: Seed of the GenericBackendV2 behind a noisy backend without its own seed: the
#: published properties then stay the same across restarts.
DEFAULT_NOISE_SEED = 1234
#: Experiments per aer call when nothing forces one at a time: big enough to
#: amortise the call (and, in a pool process, the QPY round trip), small enough
#: that a cancel is seen soon: ~64 ms for 2-5 qubit circuits. With simulation in
#: threads, aer holds the GIL for a whole call, so this also bounds how long the
#: server's other threads (requests, long-poll wake-ups) wait behind one.
CHUNK = 64
#: Ideal circuits up to this width run on aer's statevector method rather than
#: the stabilizer aer picks for Clifford circuits: sampling 1,024 shots from a
#: small statevector costs ~25% less CPU than 1,024 stabilizer measurements.
STATEVECTOR_MAX_QUBITS = 10
BACKEND_VERSION = "1.0.0"
#: Answers of ``Target.instruction_supported`` a backend remembers (bounded: qubit tuples vary).
SUPPORT_CACHE_SIZE = 100_000
#: ``meas_level`` of counts (``qiskit.qobj.utils.MeasLevel.CLASSIFIED``), which aer leaves out.
MEAS_LEVEL_CLASSIFIED = 2


class InvalidJob(Exception):
    """A job the backend cannot run; the message names the circuit index and the problem."""


class SimulatorCrashed(Exception):
    """A simulator process died running a chunk, also when retried on a fresh pool: the job fails."""


class ServerStopping(Exception):
    """The server stopped while a chunk was still to run: the job is left RUNNING for the restart."""


class ChunkCall(Protocol):
    def result(self) -> list[dict[str, Any]]: ...

    def cancel(self) -> bool: ...


class ChunkRunner(Protocol):
    """Runs chunks of circuits; ``lookahead`` chunks of one job may be in flight at once."""

    lookahead: int

    def submit(self, spec: BackendSpec, part: list[QuantumCircuit], run_options: dict[str, Any]) -> ChunkCall: ...


class ThreadRunner:
    """Simulates in the calling thread (``ServerConfig.simulation = "threads"``) on its own aer per backend."""

    lookahead = 1

    def __init__(self, simulators: dict[str, Simulator], threads: int) -> None:
        self._simulators = simulators
        self._threads = threads
        self._aers: dict[str, AerSimulator] = {}

    def submit(self, spec: BackendSpec, part: list[QuantumCircuit], run_options: dict[str, Any]) -> ChunkCall:
        future: Future[list[dict[str, Any]]] = Future()
        try:
            aer = self._aers.get(spec.name)
            if aer is None:
                aer = self._aers[spec.name] = self._simulators[spec.name].new_aer(threads=self._threads)
            future.set_result(simulate(aer, part, run_options))
        except Exception as exc:
            future.set_exception(exc)
        return future


@dataclass
class RunOutcome:
    result: dict[str, Any]  # what qiskit.result.Result.from_dict reads
    failed: int
    total: int


class Simulator:
    """One configured backend. Shared by all threads; aer instances are per thread."""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self._generic = generic_backend(spec)
        self.target: Target = self.new_aer().target
        #: (instruction name, qubit indices) -> whether the target runs it as it is.
        self._support: dict[tuple[str, tuple[int, ...] | None], bool] = {}
        self.configuration = self._configuration()

    # --- description -----------------------------------------------------------------

    def new_aer(self, threads: int = 1) -> AerSimulator:
        """A fresh AerSimulator for this backend (one per worker thread).

        ``threads`` bounds aer's OpenMP threads. aer's default parallelises the shots
        of each experiment over every core, whose fork/join per experiment costs more
        than a 2-5 qubit circuit's simulation: on 2 cores, 1,000 GHZ circuits take ~1.1 s
        of CPU with one thread and ~4-5 s with the default (the busy-waiting OpenMP
        threads get worse when the cores are shared). With several threads, aer
        parallelises whole experiments of a chunk instead of shots.
        """
        return make_aer(threads, self._generic)

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
        return BackendConfiguration(
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
        return 0.01 + self.spec.experiment_delay_s

    # --- validation ------------------------------------------------------------------

    def prepare(self, circuits: list[QuantumCircuit], options: RunOptions) -> tuple[list[QuantumCircuit], bool]:
        """Validate a job; returns the circuits to run and whether any was transpiled.

        Raises InvalidJob naming the circuit index and what is wrong.
        """
        spec = self.spec
        if len(circuits) > spec.max_experiments:
            raise InvalidJob(
                f"the job has {len(circuits)} circuits; {spec.name} runs at most "
                f"max_experiments={spec.max_experiments}"
            )
        if options.shots > spec.max_shots:
            raise InvalidJob(f"shots={options.shots} exceeds max_shots={spec.max_shots} of {spec.name}")
        runnable, transpiled = [], False
        for index, circuit in enumerate(circuits):
            label = f"circuit {index} ({circuit.name!r})"
            if circuit.num_qubits > spec.n_qubits:
                raise InvalidJob(f"{label} uses {circuit.num_qubits} qubits; {spec.name} has {spec.n_qubits}")
            if circuit.parameters:
                names = sorted(p.name for p in circuit.parameters)
                raise InvalidJob(f"{label} has unbound parameters {names}")
            unsupported, measures = self._scan(circuit)
            if not measures:
                raise InvalidJob(f"{label} has no measurements")
            if unsupported:
                runnable.append(self._transpile(circuit, label, unsupported))
                transpiled = True
            else:
                # Accepted as it is: transpiling would only cost time.
                runnable.append(circuit)
        return runnable, transpiled

    def _unsupported(self, circuit: QuantumCircuit) -> list[str]:
        """Names of instructions the target does not take as they are (with their qubits)."""
        return self._scan(circuit)[0]

    def _scan(self, circuit: QuantumCircuit) -> tuple[list[str], bool]:
        """:meth:`_unsupported` and whether the circuit measures, in one walk over its instructions."""
        bad = set()
        measures = False
        index_of = {qubit: index for index, qubit in enumerate(circuit.qubits)}
        for instruction in _walk(circuit):
            operation = instruction.operation
            measures = measures or operation.name == "measure"
            if getattr(operation, "_directive", False):
                continue  # barriers and the like never reach the simulator
            # The body's qubits of a control-flow op are checked one by one (they come next in the walk).
            qargs = None if isinstance(operation, ControlFlowOp) else _qargs(instruction.qubits, index_of)
            if not self._supported(operation.name, qargs):
                bad.add(operation.name)
        return sorted(bad), measures

    def _supported(self, name: str, qargs: tuple[int, ...] | None) -> bool:
        """``target.instruction_supported(name, qargs)``, remembered: it is the same answer for every circuit."""
        key = (name, qargs)
        known = self._support.get(key)
        if known is None:
            try:
                known = bool(self.target.instruction_supported(name, qargs))
            except Exception:  # a malformed instruction: let the transpiler judge it
                known = False
            if len(self._support) < SUPPORT_CACHE_SIZE:
                self._support[key] = known
        return known

    def _transpile(self, circuit: QuantumCircuit, label: str, unsupported: list[str]) -> QuantumCircuit:
        try:
            # The ideal target has no coupling map, so this only unrolls (no widening);
            # the noisy one also lays the circuit out on its coupling map.
            level = 1 if self._generic is not None else 0
            out = transpile(circuit, target=self.target, optimization_level=level, seed_transpiler=0)
        except Exception as exc:
            raise InvalidJob(
                f"{label}: instruction(s) {unsupported} cannot run on {self.spec.name} "
                f"even after transpiling: {exc}"
            ) from exc
        still = self._unsupported(out)
        if still:
            raise InvalidJob(
                f"{label}: instruction(s) {still} cannot run on {self.spec.name} even after transpiling"
            )
        return out

    # --- running ---------------------------------------------------------------------

    def run(
        self,
        runner: ChunkRunner,
        circuits: list[QuantumCircuit],
        options: RunOptions,
        job_id: str,
        header: dict[str, Any],
        stop: threading.Event,
        job_name: str | None = None,
    ) -> RunOutcome | None:
        """Run the experiments; None when ``stop`` was set (cancel or shutdown) in between.

        Up to ``runner.lookahead`` chunks are in flight; a stopped job's in-flight chunks
        are cancelled or, when already running, left to finish and discarded. ``job_name``
        keys the flaky draws of a seeded backend (``BackendSpec.seed``).
        """
        spec = self.spec
        rng = random.Random(_draw_seed(job_id, job_name, spec.seed))
        one_by_one = spec.experiment_delay_s > 0 or spec.failure_probability > 0
        chunk = 1 if one_by_one else CHUNK
        starts = iter(range(0, len(circuits), chunk))
        pending: deque[tuple[list[QuantumCircuit], dict[str, Any], ChunkCall]] = deque()
        experiments: list[dict[str, Any]] = []
        started = time.monotonic()
        try:
            while True:
                while len(pending) < runner.lookahead and not stop.is_set():
                    start = next(starts, None)
                    if start is None:
                        break
                    part = circuits[start : start + chunk]
                    run_options = self._run_options(part, options, start)
                    pending.append((part, run_options, runner.submit(spec, part, run_options)))
                if stop.is_set():
                    return None
                if not pending:
                    break
                part, run_options, call = pending.popleft()
                experiments.extend(self._collect(call, part, run_options, rng))
                # The delay stands for slow hardware; waiting on the event lets a cancel cut it short.
                if spec.experiment_delay_s and stop.wait(spec.experiment_delay_s * len(part)):
                    return None
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

    def _run_options(self, part: list[QuantumCircuit], options: RunOptions, start: int) -> dict[str, Any]:
        run_options: dict[str, Any] = {"shots": options.shots, "memory": options.memory}
        if self._generic is None and max(c.num_qubits for c in part) <= STATEVECTOR_MAX_QUBITS:
            run_options["method"] = "statevector"
        if options.seed_simulator is not None:
            run_options["seed_simulator"] = options.seed_simulator + start
        return run_options

    def _collect(
        self, call: ChunkCall, part: list[QuantumCircuit], run_options: dict[str, Any], rng: random.Random
    ) -> list[dict[str, Any]]:
        """A chunk's experiments, with headers and the flaky backend's failure draws."""
        try:
            experiments = call.result()
        except (SimulatorCrashed, ServerStopping):
            raise
        except Exception as exc:
            logger.warning("simulation failed on %s: %s", self.spec.name, exc)
            return [_failed(_header(c), run_options["shots"], f"ERROR: simulation failed: {exc}") for c in part]
        out_list = []
        for circuit, experiment in zip(part, experiments, strict=False):
            experiment.setdefault("header", _header(circuit))
            if self.spec.failure_probability and rng.random() < self.spec.failure_probability:
                experiment = _failed(
                    experiment["header"], run_options["shots"],
                    f"ERROR: experiment failed on {self.spec.name} (simulated hardware fault)",
                )
            out_list.append(experiment)
        return out_list


def generic_backend(spec: BackendSpec) -> GenericBackendV2 | None:
    """The GenericBackendV2 behind a noisy backend (same seed, same noise everywhere); else None."""
    if spec.kind != "noisy":
        return None
    return GenericBackendV2(
        num_qubits=spec.n_qubits, seed=spec.seed if spec.seed is not None else DEFAULT_NOISE_SEED
    )


def make_aer(threads: int, generic: GenericBackendV2 | None) -> AerSimulator:
    """An AerSimulator with at most ``threads`` OpenMP threads (see :meth:`Simulator.new_aer`)."""
    options: dict[str, Any] = {"max_parallel_threads": max(1, threads)}
    if threads > 1:
        options.update(max_parallel_experiments=0, max_parallel_shots=1)
    if generic is not None:
        return AerSimulator.from_backend(generic, **options)
    return AerSimulator(**options)


def simulate(aer: AerSimulator, part: list[QuantumCircuit], run_options: dict[str, Any]) -> list[dict[str, Any]]:
    """Aer's per-experiment result dicts for ``part`` (those of ``Result.to_dict()``); raises if aer fails."""
    experiments = _execute(aer, part, run_options)
    if len(experiments) != len(part):
        raise RuntimeError(f"aer returned {len(experiments)} results for {len(part)} circuits")
    return experiments


# --- in a simulator process (simpool) ----------------------------------------------------------------

#: AerSimulator per (backend spec, threads, thread), built on a process's first chunk for it
#: (per thread: a Dask worker may run chunks in several threads at once).
_PROCESS_AERS: dict[tuple[str, int, int], AerSimulator] = {}


def simulate_qpy(spec: BackendSpec, threads: int, data: bytes, run_options: dict[str, Any]) -> list[dict[str, Any]]:
    """What a pool process or Dask worker runs: a chunk of circuits as QPY -> aer's per-experiment result dicts."""
    key = (spec.model_dump_json(), threads, threading.get_ident())
    aer = _PROCESS_AERS.get(key)
    if aer is None:
        aer = _PROCESS_AERS[key] = make_aer(threads, generic_backend(spec))
    return simulate(aer, list(qpy.load(io.BytesIO(data))), run_options)


def _execute(aer: AerSimulator, part: list[QuantumCircuit], run_options: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``part`` on ``aer`` in the calling thread; the experiments as ``Result.to_dict()`` lists them.

    ``aer.run`` queues every call of the process on aer's one shared executor thread
    (``qiskit_aer.jobs.utils.DEFAULT_EXECUTOR``, max_workers=1), so two server workers
    would wait on each other's jobs there and pay a thread hand-off per chunk. The
    function that thread would call runs the same simulation here instead, and
    returns aer's output unwrapped: building a ``Result`` from it only to turn it
    back into dicts cost ~65 us per experiment, ~7 % of a 2-5 qubit simulation.
    """
    execute = getattr(aer, "_execute_circuits_job", None)
    if execute is None:  # another aer version: the public path
        return list(aer.run(part, **run_options).result().to_dict()["results"])
    output = execute(part, None, dict(run_options), job_id=str(uuid.uuid4()), format_result=False)
    if not isinstance(output, dict) or not isinstance(output.get("results"), list):
        raise RuntimeError(f"aer returned no results: {str(output)[:200]}")
    experiments: list[dict[str, Any]] = output["results"]
    for experiment in experiments:
        _format_saved_data(experiment)
        # Result.from_dict's default, which to_dict() writes out.
        experiment.setdefault("meas_level", MEAS_LEVEL_CLASSIFIED)
    return experiments


def _format_saved_data(experiment: dict[str, Any]) -> None:
    """Turn aer's saved data (``save_statevector`` and the like) into qiskit objects, as aer's own ``Result`` does."""
    data = experiment.get("data") or {}
    metadata = experiment.get("metadata") or {}
    types, subtypes = metadata.get("result_types", {}), metadata.get("result_subtypes", {})
    for key, value in data.items():
        if key in types:
            data[key] = format_save_type(value, types[key], subtypes[key])


def build_simulators(specs: Iterable[BackendSpec]) -> dict[str, Simulator]:
    return {spec.name: Simulator(spec) for spec in specs}


def _draw_seed(job_id: str, job_name: str | None, seed: int | None) -> int:
    """The seed of a job's flaky draws: from its random id, or (backend seeded) from its name."""
    key = job_id if seed is None else f"name={job_name}"
    digest = hashlib.sha256(f"{key}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _walk(circuit: QuantumCircuit):
    """Every instruction, including those inside control-flow blocks."""
    for instruction in circuit.data:
        yield instruction
        if isinstance(instruction.operation, ControlFlowOp):
            for block in instruction.operation.blocks:
                yield from _walk(block)


def _qargs(qubits: Iterable[Any], index_of: dict[Any, int]) -> tuple[int, ...] | None:
    """The qubits' indices in the circuit; None for a qubit it does not own (a malformed instruction)."""
    try:
        return tuple(index_of[qubit] for qubit in qubits)
    except KeyError:
        return None


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
