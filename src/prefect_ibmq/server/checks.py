"""Cheap checks of a submission, made before anything is stored.

``POST /v1/jobs`` answers 422 ``INVALID_REQUEST`` for what no amount of work
could make runnable: more experiments than ``max_experiments``, shots above
``max_shots``, a circuit wider than the backend, one that measures nothing, has
unbound parameters, or uses an instruction the backend does not know, that is
no standard gate and that has no definition to transpile from. These need only
a walk over the decoded circuits.

What needs the transpiler (an instruction whose definition turns out not to be
runnable) stays with the background validation (``VALIDATING`` ->
``ERROR_VALIDATING_JOB``), so a submission answers in constant time per
instruction.
"""

from __future__ import annotations

from collections.abc import Iterator

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Instruction
from qiskit.circuit.controlflow import CONTROL_FLOW_OP_NAMES
from qiskit.circuit.library.standard_gates import get_standard_gate_name_mapping

from prefect_ibmq.wire import ErrorCode, RunOptions

from .errors import ApiError
from .limits import Limits
from .simulators import Simulator

#: Gates the transpiler can always rewrite into a simulator's basis.
_STANDARD = frozenset(get_standard_gate_name_mapping())
#: The seeds aer takes (a C++ int64).
SEED_RANGE = range(-(2**63), 2**63)


def _invalid(message: str) -> ApiError:
    return ApiError(422, ErrorCode.INVALID_REQUEST, message)


def _no_measurements(label: str) -> ApiError:
    return _invalid(f"{label} has no measurements, so it would have no counts; add measure() or measure_all()")


def check_submission(
    simulator: Simulator, circuits: list[QuantumCircuit], options: RunOptions, limits: Limits
) -> None:
    """Raise a 422 ApiError naming the first bad value; nothing has been stored yet."""
    spec = simulator.spec
    if len(circuits) > spec.max_experiments:
        raise _invalid(
            f"the job has {len(circuits)} circuits; {spec.name} runs at most max_experiments={spec.max_experiments}"
        )
    if options.shots > spec.max_shots:
        raise _invalid(f"options.shots={options.shots} exceeds max_shots={spec.max_shots} of {spec.name}")
    check_work(circuits, options, limits)
    known = simulator.target.operation_names
    for index, circuit in enumerate(circuits):
        label = f"circuit {index} ({circuit.name!r})"
        if circuit.num_qubits > spec.n_qubits:
            raise _invalid(f"{label} uses {circuit.num_qubits} qubits; {spec.name} has n_qubits={spec.n_qubits}")
        if circuit.parameters:
            names = sorted(p.name for p in circuit.parameters)
            raise _invalid(f"{label} has unbound parameters {names}; bind them before submitting")
        names = circuit.count_ops()  # ~2 us: when every name is runnable, no walk over the instructions
        if CONTROL_FLOW_OP_NAMES.isdisjoint(names) and all(name in known or name in _STANDARD for name in names):
            if "measure" not in names:
                raise _no_measurements(label)
            continue
        measures = False
        for operation in _operations(circuit):
            name = operation.name
            measures = measures or name == "measure"
            if name in known or name in _STANDARD or isinstance(operation, ControlFlowOp):
                continue
            if getattr(operation, "_directive", False):
                continue
            if operation.definition is None:
                raise _invalid(
                    f"{label} uses instruction {name!r}, which {spec.name} cannot run and which has no "
                    f"definition to transpile from; {spec.name} runs {sorted(known)}"
                )
        if not measures:
            raise _no_measurements(label)


def check_work(circuits: list[QuantumCircuit], options: RunOptions, limits: Limits) -> None:
    """The job's total work within the limits: shots over all experiments, and the outcomes it keeps."""
    if options.seed_simulator is not None and options.seed_simulator not in SEED_RANGE:
        raise _invalid(f"options.seed_simulator={options.seed_simulator} must be in -2**63..2**63-1 (aer's seeds)")
    shots = len(circuits) * options.shots
    if shots > limits.max_job_shots:
        raise _invalid(
            f"the job asks for {len(circuits)} circuits x {options.shots} shots = {shots} shots; "
            f"limits.max_job_shots={limits.max_job_shots}"
        )
    if not options.memory:
        return  # counts only: at most one entry per outcome, whatever the shots
    if shots > limits.max_job_memory_shots:
        raise _invalid(
            f"options.memory=true keeps every one of the job's {shots} shots; "
            f"limits.max_job_memory_shots={limits.max_job_memory_shots}"
        )
    bits = sum(circuit.num_clbits for circuit in circuits) * options.shots
    if bits > limits.max_job_classical_bits:
        raise _invalid(
            f"options.memory=true keeps {bits} classical bits (shots x classical bits of each circuit); "
            f"limits.max_job_classical_bits={limits.max_job_classical_bits}"
        )


def _operations(circuit: QuantumCircuit) -> Iterator[Instruction]:
    """Every operation, including those inside control-flow blocks."""
    for instruction in circuit.data:
        operation = instruction.operation
        yield operation
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                yield from _operations(block)
