"""The simulated backends: their published configuration, validation and running.

``ideal`` and ``flaky`` are qiskit-aer's AerSimulator; ``noisy`` is an
AerSimulator built from qiskit's ``GenericBackendV2`` (its noise, coupling map
and basis gates). ``flaky`` fails each experiment with a probability drawn from
a per-job RNG, so partial results are real, not mocked.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ControlFlowOp
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.result import Result
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from prefect_ibmq.wire import BackendConfiguration, RunOptions

from .config import BackendSpec
from .store import now_iso

logger = logging.getLogger("prefect_ibmq.server.simulators")

#: Seed of the GenericBackendV2 behind a noisy backend without its own seed: the
#: published properties then stay the same across restarts.
DEFAULT_NOISE_SEED = 1234
#: Experiments per aer call when nothing forces one at a time: big enough to
#: amortise the call, small enough that a cancel is seen soon. aer holds the GIL
#: while it simulates, so this also bounds how long the server's other threads
#: (requests, long-poll wake-ups) wait behind one call: ~64 ms for 2-5 qubit circuits.
CHUNK = 64
#: Ideal circuits up to this width run on aer's statevector method rather than
#: the stabilizer aer picks for Clifford circuits: sampling 1,024 shots from a
#: small statevector costs ~25% less CPU than 1,024 stabilizer measurements.
STATEVECTOR_MAX_QUBITS = 10
BACKEND_VERSION = "1.0.0"


class InvalidJob(Exception):
    """A job the backend cannot run; the message names the circuit index and the problem."""


@dataclass
class RunOutcome:
    result: dict[str, Any]  # what qiskit.result.Result.from_dict reads
    failed: int
    total: int


class Simulator:
    """One configured backend. Shared by all threads; aer instances are per thread."""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self._generic: GenericBackendV2 | None = None
        if spec.kind == "noisy":
            self._generic = GenericBackendV2(
                num_qubits=spec.n_qubits,
                seed=spec.seed if spec.seed is not None else DEFAULT_NOISE_SEED,
            )
        self.target: Target = self.new_aer().target
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
        options: dict[str, Any] = {"max_parallel_threads": max(1, threads)}
        if threads > 1:
            options.update(max_parallel_experiments=0, max_parallel_shots=1)
        if self._generic is not None:
            return AerSimulator.from_backend(self._generic, **options)
        return AerSimulator(**options)

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
            if not _has_measurement(circuit):
                raise InvalidJob(f"{label} has no measurements")
            if circuit.parameters:
                names = sorted(p.name for p in circuit.parameters)
                raise InvalidJob(f"{label} has unbound parameters {names}")
            unsupported = self._unsupported(circuit)
            if unsupported:
                runnable.append(self._transpile(circuit, label, unsupported))
                transpiled = True
            else:
                # Accepted as it is: transpiling would only cost time.
                runnable.append(circuit)
        return runnable, transpiled

    def _unsupported(self, circuit: QuantumCircuit) -> list[str]:
        """Names of instructions the target does not take as they are (with their qubits)."""
        bad = set()
        for instruction in _walk(circuit):
            operation = instruction.operation
            if getattr(operation, "_directive", False):
                continue  # barriers and the like never reach the simulator
            qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
            if isinstance(operation, ControlFlowOp):
                qargs = None  # the body's qubits are checked one by one below
            try:
                ok = self.target.instruction_supported(operation.name, qargs)
            except Exception:  # a malformed instruction: let the transpiler judge it
                ok = False
            if not ok:
                bad.add(operation.name)
        return sorted(bad)

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
        aer: AerSimulator,
        circuits: list[QuantumCircuit],
        options: RunOptions,
        job_id: str,
        header: dict[str, Any],
        stop: threading.Event,
    ) -> RunOutcome | None:
        """Run the experiments; None when ``stop`` was set (cancel or shutdown) in between."""
        spec = self.spec
        rng = random.Random(_job_seed(job_id, spec.seed))
        one_by_one = spec.experiment_delay_s > 0 or spec.failure_probability > 0
        chunk = 1 if one_by_one else CHUNK
        experiments: list[dict[str, Any]] = []
        started = time.monotonic()
        for start in range(0, len(circuits), chunk):
            if stop.is_set():
                return None
            part = circuits[start : start + chunk]
            run_options: dict[str, Any] = {"shots": options.shots, "memory": options.memory}
            if self._generic is None and max(c.num_qubits for c in part) <= STATEVECTOR_MAX_QUBITS:
                run_options["method"] = "statevector"
            if options.seed_simulator is not None:
                run_options["seed_simulator"] = options.seed_simulator + start
            experiments.extend(self._run_chunk(aer, part, run_options, rng))
            # The delay stands for slow hardware; waiting on the event lets a cancel cut it short.
            if spec.experiment_delay_s and stop.wait(spec.experiment_delay_s * len(part)):
                return None
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

    def _run_chunk(
        self, aer: AerSimulator, part: list[QuantumCircuit], run_options: dict[str, Any], rng: random.Random
    ) -> list[dict[str, Any]]:
        try:
            out = _execute(aer, part, run_options).to_dict()
            experiments = list(out["results"])
            if len(experiments) != len(part):
                raise RuntimeError(f"aer returned {len(experiments)} results for {len(part)} circuits")
        except Exception as exc:
            logger.warning("simulation failed on %s: %s", self.spec.name, exc)
            return [_failed(_header(c), run_options["shots"], f"ERROR: simulation failed: {exc}") for c in part]
        out_list = []
        for circuit, experiment in zip(part, experiments):
            experiment.setdefault("header", _header(circuit))
            if self.spec.failure_probability and rng.random() < self.spec.failure_probability:
                experiment = _failed(
                    experiment["header"], run_options["shots"],
                    f"ERROR: experiment failed on {self.spec.name} (simulated hardware fault)",
                )
            out_list.append(experiment)
        return out_list


def _execute(aer: AerSimulator, part: list[QuantumCircuit], run_options: dict[str, Any]) -> Result:
    """Run ``part`` on ``aer`` in the calling thread.

    ``aer.run`` queues every call of the process on aer's one shared executor thread
    (``qiskit_aer.jobs.utils.DEFAULT_EXECUTOR``, max_workers=1), so two server workers
    would wait on each other's jobs there and pay a thread hand-off per chunk. The
    function that thread would call runs the same simulation here instead.
    """
    execute = getattr(aer, "_execute_circuits_job", None)
    if execute is None:  # another aer version: the public path
        return aer.run(part, **run_options).result()
    return execute(part, None, dict(run_options), job_id=str(uuid.uuid4()))


def build_simulators(specs: Iterable[BackendSpec]) -> dict[str, Simulator]:
    return {spec.name: Simulator(spec) for spec in specs}


def _job_seed(job_id: str, seed: int | None) -> int:
    digest = hashlib.sha256(f"{job_id}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _walk(circuit: QuantumCircuit):
    """Every instruction, including those inside control-flow blocks."""
    for instruction in circuit.data:
        yield instruction
        if isinstance(instruction.operation, ControlFlowOp):
            for block in instruction.operation.blocks:
                yield from _walk(block)


def _has_measurement(circuit: QuantumCircuit) -> bool:
    return any(instruction.operation.name == "measure" for instruction in _walk(circuit))


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
