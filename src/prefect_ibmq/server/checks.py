"""Cheap checks of a submission, made before anything is stored.

``POST /v1/jobs`` answers 422 ``INVALID_REQUEST`` (:mod:`.submission`: each
:class:`.limit_checks.InvalidJob` raised here) for what no amount of work
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

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from qiskit.circuit.controlflow import CONTROL_FLOW_OP_NAMES
from qiskit.circuit.library.standard_gates import get_standard_gate_name_mapping

from prefect_ibmq.wire import RunOptions

from .limit_checks import (
    InvalidJob,
    OverLimit,
    check_count,
    check_job_shots,
    check_kept_bits,
    check_seed,
    check_shots,
    check_width,
)
from .limits import Limits
from .simops import operations
from .simulators import Simulator
from .validation import check_bound, circuit_label, no_measurements

#: Gates the transpiler can always rewrite into a simulator's basis.
_STANDARD = frozenset(get_standard_gate_name_mapping())


def check_submission(
    simulator: Simulator, circuits: list[QuantumCircuit], options: RunOptions, limits: Limits
) -> None:
    """Raise InvalidJob naming the first bad value; nothing has been stored yet."""
    spec = simulator.spec
    check_count(len(circuits), "circuits", spec)
    check_shots("options.shots", options.shots, spec)
    check_work(circuits, options, limits)
    known = simulator.target.operation_names
    for index, circuit in enumerate(circuits):
        label = circuit_label(index, circuit)
        check_width(label, circuit, spec)
        check_bound(label, circuit)
        names = circuit.count_ops()  # ~2 us: when every name is runnable, no walk over the instructions
        if CONTROL_FLOW_OP_NAMES.isdisjoint(names) and all(name in known or name in _STANDARD for name in names):
            if "measure" not in names:
                raise no_measurements(label)
            continue
        measures = False
        for operation in operations(circuit):
            name = operation.name
            measures = measures or name == "measure"
            if name in known or name in _STANDARD or isinstance(operation, ControlFlowOp):
                continue
            if getattr(operation, "_directive", False):
                continue
            if operation.definition is None:
                raise InvalidJob(
                    f"{label} uses instruction {name!r}, which {spec.name} cannot run and which has no "
                    f"definition to transpile from; {spec.name} runs {sorted(known)}"
                )
        if not measures:
            raise no_measurements(label)


def check_work(circuits: list[QuantumCircuit], options: RunOptions, limits: Limits) -> None:
    """The job's total work within the limits: shots over all experiments, and the outcomes it keeps."""
    if options.seed_simulator is not None:
        check_seed("options.seed_simulator", options.seed_simulator)
    shots = len(circuits) * options.shots
    check_job_shots(shots, f"{len(circuits)} circuits x {options.shots} shots", limits)
    if not options.memory:
        return  # counts only: at most one entry per outcome, whatever the shots
    if shots > limits.max_job_memory_shots:
        raise OverLimit(
            f"options.memory=true keeps every one of the job's {shots} shots; "
            f"limits.max_job_memory_shots={limits.max_job_memory_shots}"
        )
    bits = sum(circuit.num_clbits for circuit in circuits) * options.shots
    check_kept_bits(bits, "options.memory=true: shots x classical bits of each circuit", limits)


