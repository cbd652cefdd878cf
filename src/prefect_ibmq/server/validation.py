"""Checking a job's circuits against a simulated backend's target before it is queued.

Most circuits are accepted as they are: their instruction names (``count_ops``) settle it
when the target runs each of them on any qubit. Otherwise one walk over the instructions
(control-flow bodies included) finds what the target does not run on those qubits, and
only such circuits are transpiled. The target's answers are remembered per (name, qubits):
they are the same for every circuit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import CircuitInstruction, ControlFlowOp
from qiskit.circuit.controlflow import CONTROL_FLOW_OP_NAMES
from qiskit.transpiler import Target

from prefect_ibmq.wire import RunOptions

from .config import BackendSpec
from .limit_checks import InvalidJob, check_count, check_shots, check_width

#: Answers of ``Target.instruction_supported`` a backend remembers (bounded: qubit tuples vary).
SUPPORT_CACHE_SIZE = 100_000
#: The qubits of :meth:`CircuitValidator._anywhere`'s cache entries (no instruction has them).
ANYWHERE = (-1,)


def circuit_label(index: int, circuit: QuantumCircuit) -> str:
    """How a refusal names a job's circuit."""
    return f"circuit {index} ({circuit.name!r})"


def check_bound(label: str, circuit: QuantumCircuit) -> None:
    """A circuit whose parameters are all bound (a ``/v1`` job runs circuits as they are)."""
    if circuit.parameters:
        names = sorted(p.name for p in circuit.parameters)
        raise InvalidJob(f"{label} has unbound parameters {names}; bind them before submitting")


def no_measurements(label: str) -> InvalidJob:
    """The refusal of a circuit that measures nothing."""
    return InvalidJob(f"{label} has no measurements, so it would have no counts; add measure() or measure_all()")


class CircuitValidator:
    """Checks circuits against one backend's limits and target; shared by all threads of the server."""

    def __init__(self, spec: BackendSpec, target: Target, layout: bool) -> None:
        self.spec, self.target = spec, target
        #: Whether transpiling also lays circuits out on the target's coupling map (the noisy backend).
        self._layout = layout
        #: (instruction name, qubit indices) -> whether the target runs it as it is.
        self._support: dict[tuple[str, tuple[int, ...] | None], bool] = {}

    def prepare(self, circuits: list[QuantumCircuit], options: RunOptions) -> tuple[list[QuantumCircuit], bool]:
        """Validate a job; returns the circuits to run and whether any was transpiled.

        Raises InvalidJob naming the circuit index and what is wrong.
        """
        spec = self.spec
        check_count(len(circuits), "circuits", spec)
        check_shots("options.shots", options.shots, spec)
        runnable, transpiled = [], False
        for index, circuit in enumerate(circuits):
            label = circuit_label(index, circuit)
            check_width(label, circuit, spec)
            check_bound(label, circuit)
            unsupported, measures = self._scan_names(circuit) or self._scan(circuit)
            if not measures:
                raise no_measurements(label)
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

    def _scan_names(self, circuit: QuantumCircuit) -> tuple[list[str], bool] | None:
        """:meth:`_scan` from the instruction names alone (``count_ops``, ~2 us), when they settle it; else None.

        They do when no instruction is control flow and the target runs each one on
        any of its qubits (the ideal simulators: everything but ``measure`` and ``delay``
        is global there, and those two are allowed on every qubit).
        """
        names = circuit.count_ops()
        if circuit.num_qubits > (self.target.num_qubits or 0) or not all(map(self._anywhere, names)):
            return None
        return [], "measure" in names

    def _anywhere(self, name: str) -> bool:
        """Whether the target runs instruction ``name`` on any qubits (control flow: never said here)."""
        known = self._support.get((name, ANYWHERE))
        if known is None:
            known = name not in CONTROL_FLOW_OP_NAMES and name in self.target.operation_names
            if known:
                qargs = self.target.qargs_for_operation_name(name)
                every_qubit = {(index,) for index in range(self.target.num_qubits or 0)}
                known = qargs is None or set(qargs) == every_qubit
            self._support[(name, ANYWHERE)] = known
        return known

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
        """The circuit transpiled for the target, or InvalidJob when even that leaves instructions it cannot run."""
        try:
            # The ideal target has no coupling map, so this only unrolls (no widening);
            # the noisy one also lays the circuit out on its coupling map.
            level = 1 if self._layout else 0
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


def _walk(circuit: QuantumCircuit) -> Iterator[CircuitInstruction]:
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
