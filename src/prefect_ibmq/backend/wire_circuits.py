"""Circuits made to mean on the server what they mean here, before they are encoded as QPY.

QPY keeps no delay unit (Qiskit/qiskit#8293, #10662): ``delay(100, "us")`` would arrive
as 100 dt, and a delay of a fraction of a second would not decode at all. So delays
in s, ms, us or ns (and fractional dt) are converted to whole dt of the backend,
rounded as qiskit's scheduling does (``qiskit.circuit.duration.duration_in_dt``).
QPY also drops the data subtype of aer's ``save_*`` instructions; the server rebuilds
them with the subtype aer gives by default, so a ``pershot``, ``conditional`` or
``unnormalized`` one is refused here rather than run as something else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction, ControlFlowOp, Delay

from prefect_ibmq.exceptions import IBMQValueError

#: Seconds per unit of a delay.
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: The subtypes aer's save instructions have by default, the only ones the server can rebuild.
_DEFAULT_SAVE_SUBTYPES = ("single", "average")


@dataclass
class DelayConversions:
    """What :func:`circuits_for_wire` converted: how many delays, and the first one as an example."""

    count: int = 0
    rounded: int = 0
    example: str = field(default="")


def circuits_for_wire(
    circuits: list[QuantumCircuit], dt: float | None
) -> tuple[list[QuantumCircuit], DelayConversions]:
    """The circuits with every delay in whole dt (copies of those that change), and what was converted.

    Raises:
        IBMQValueError: For a delay in seconds on a backend without dt, or an aer save
            instruction whose subtype QPY cannot carry.
    """
    conversions = DelayConversions()
    out = []
    for index, circuit in enumerate(circuits):
        names = circuit.count_ops()
        if any(name.startswith("save_") for name in names):
            _check_saves(circuit, index)
        if "delay" in names or any(isinstance(i.operation, ControlFlowOp) for i in circuit.data):
            circuit = _converted(circuit, dt, conversions, index)
        out.append(circuit)
    return out, conversions


def _converted(circuit: QuantumCircuit, dt: float | None, conversions: DelayConversions, index: int) -> QuantumCircuit:
    """``circuit`` itself when all its delays are whole dt; else a copy whose delays are."""
    data: list[CircuitInstruction] = []
    changed = False
    for instruction in circuit.data:
        operation = instruction.operation
        new = operation
        if isinstance(operation, ControlFlowOp):
            blocks = [_converted(block, dt, conversions, index) for block in operation.blocks]
            if any(new_block is not old for new_block, old in zip(blocks, operation.blocks, strict=True)):
                new = operation.replace_blocks(blocks)
        elif isinstance(operation, Delay):
            new = _delay_in_dt(operation, dt, conversions, circuit, index)
        changed = changed or new is not operation
        data.append(instruction.replace(operation=new) if new is not operation else instruction)
    if not changed:
        return circuit
    copy = circuit.copy_empty_like()
    for instruction in data:
        copy.append(instruction)
    return copy


def _delay_in_dt(
    delay: Delay, dt: float | None, conversions: DelayConversions, circuit: QuantumCircuit, index: int
) -> Delay:
    duration = delay.params[0]
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        return delay  # a parameter or a duration expression: QPY carries it as it is
    if delay.unit == "dt":
        if float(duration).is_integer():
            return delay if isinstance(duration, int) else Delay(int(duration), "dt")
        steps = round(duration)
        exact = False
    else:
        per_unit = _SECONDS.get(delay.unit)
        if per_unit is None:
            return delay  # not a fixed duration ("expr")
        if dt is None:
            raise IBMQValueError(
                f"circuits[{index}] ({circuit.name!r}) has a delay of {duration} {delay.unit}, and the backend "
                "publishes no dt to convert it to; give the delay in dt"
            )
        seconds = duration * per_unit
        steps = round(seconds / dt)  # as qiskit.circuit.duration.duration_in_dt rounds
        exact = math.isclose(steps * dt, seconds, rel_tol=0, abs_tol=1e-15)
    conversions.count += 1
    conversions.rounded += not exact
    if not conversions.example:
        shown = f" ({steps * dt:.6g} s)" if dt else ""
        conversions.example = f"{duration} {delay.unit} -> {steps} dt{shown}"
    return Delay(steps, "dt")


def _check_saves(circuit: QuantumCircuit, index: int) -> None:
    for instruction in circuit.data:
        operation = instruction.operation
        subtype = getattr(operation, "_subtype", None)
        if operation.name.startswith("save_") and subtype is not None and subtype not in _DEFAULT_SAVE_SUBTYPES:
            raise IBMQValueError(
                f"circuits[{index}] ({circuit.name!r}) has {operation.name} with data subtype {subtype!r} "
                "(pershot, conditional or unnormalized), which QPY cannot carry to the service; "
                "use the instruction's defaults"
            )
