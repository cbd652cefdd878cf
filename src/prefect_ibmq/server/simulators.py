"""The simulated backends: their published configuration, their validation (:mod:`.validation`), their faults.

``ideal`` and ``flaky`` are qiskit-aer's AerSimulator; ``noisy`` is an
AerSimulator built from qiskit's ``GenericBackendV2`` (its noise, coupling map
and basis gates). ``flaky`` fails each experiment with a probability drawn from
a per-job RNG (:func:`flaky_failures`), so partial results are real, not mocked.
A ``/v1`` job runs in chunks (:mod:`.kinds.circuit_run`, through :mod:`.chunks`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from typing import Any

from qiskit import QuantumCircuit
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from prefect_ibmq.wire import BackendConfiguration, RunOptions

from .aerrun import generic_backend
from .config import BackendSpec
from .runoptions import check_run_options
from .simops import unsendable
from .validation import CircuitValidator, InvalidJob

BACKEND_VERSION = "1.0.0"
#: The dt of backends whose aer has no clock of its own (the ideal ones): GenericBackendV2's, so a
#: delay in seconds has the same length in dt on every backend. Delays do nothing without noise.
NOMINAL_DT = 2.22e-10


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
