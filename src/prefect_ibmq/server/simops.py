"""qiskit-aer's simulator instructions after QPY: rebuilt where QPY loses what aer reads, refused where it cannot be.

QPY stores an instruction it does not know by class as a plain ``Instruction`` with its
name, width, params and label. aer reads most of its own instructions by exactly those
(``set_statevector``, ``kraus``, ``superop``, ``roerror``, ...), but a ``save_*``
instruction also needs its data subtype (``_subtype``), which QPY drops: such an
instruction is rebuilt here with the subtype aer's class gives by default (``single``,
or ``average`` for the averaged kinds). A ``pershot``, ``conditional`` or
``unnormalized`` save has another subtype that nothing on the wire carries; the
client refuses those before sending. ``quantum_channel`` (a noise ``QuantumError`` as
an instruction) keeps its error in a Python attribute only, so it is refused at submit.
"""

from __future__ import annotations

from collections.abc import Iterator

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Instruction
from qiskit.circuit.controlflow import CONTROL_FLOW_OP_NAMES

#: The data subtype each aer save instruction has when made with its defaults.
SAVE_DEFAULT_SUBTYPES = {
    "save_amplitudes": "single",
    "save_amplitudes_sq": "average",
    "save_clifford": "single",
    "save_density_matrix": "average",
    "save_expval": "average",
    "save_expval_var": "average",
    "save_matrix_product_state": "single",
    "save_probabilities": "average",
    "save_probabilities_dict": "average",
    "save_stabilizer": "single",
    "save_state": "single",
    "save_statevector": "single",
    "save_statevector_dict": "single",
    "save_superop": "single",
    "save_unitary": "single",
}
#: How every QPY file begins.
QPY_PREFACE = b"QISKIT"
#: Simulator instructions that cannot cross QPY, and what to send instead.
UNSENDABLE = {
    "quantum_channel": "a QuantumError appended as an instruction keeps its error outside QPY; "
    "append its Kraus form instead: circuit.append(Kraus(error.to_quantumchannel()), qubits)",
}


def undecodable_qpy_message(exc: Exception) -> str:
    """Why a QPY file's circuits could not be rebuilt, and the likely cause when it is a delay's unit."""
    message = f"it cannot be rebuilt from QPY: {type(exc).__name__}: {exc}"
    if "duration" in str(exc):
        message += (
            "; QPY keeps no delay units, so a delay in s, ms, us or ns arrives as that many dt and must be "
            "a whole number of dt: convert delays to dt before encoding (IBMQBackend.run does, with the "
            "backend's configuration().dt)"
        )
    return message


def unsendable(circuit: QuantumCircuit) -> tuple[str, str] | None:
    """The first instruction of ``circuit`` that cannot run after QPY, with what to do instead; else None.

    QPY's loader builds an instruction's Python object only when it is first read; a delay
    whose duration is not a whole number of dt (a delay in seconds, sent by a client that
    did not convert it) fails only then, so circuits with delays are read in full here.
    """
    names = circuit.count_ops()
    if not any(name in UNSENDABLE for name in names) and "delay" not in names and not _has_control_flow(names):
        return None
    try:
        for operation in operations(circuit):
            if operation.name in UNSENDABLE:
                return operation.name, UNSENDABLE[operation.name]
    except Exception as exc:  # what qiskit raises building an instruction QPY could not carry
        return "delay" if "duration" in str(exc) else "?", undecodable_qpy_message(exc)
    return None


def rebuild_simulator_instructions(circuits: list[QuantumCircuit]) -> list[QuantumCircuit]:
    """The circuits with each decoded ``save_*`` instruction made aer's own again (in place; returned)."""
    for circuit in circuits:
        names = circuit.count_ops()
        if any(name in SAVE_DEFAULT_SUBTYPES for name in names) or _has_control_flow(names):
            _rebuild(circuit)
    return circuits


def _rebuild(circuit: QuantumCircuit) -> None:
    from qiskit_aer.library.save_instructions.save_data import SaveData

    for index, instruction in enumerate(circuit.data):
        operation = instruction.operation
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                _rebuild(block)
            continue
        subtype = SAVE_DEFAULT_SUBTYPES.get(operation.name)
        if subtype is None or hasattr(operation, "_subtype"):
            continue
        saved = SaveData(operation.name, operation.num_qubits, operation.label or operation.name, subtype,
                         list(operation.params))
        circuit.data[index] = instruction.replace(operation=saved)


def _has_control_flow(names: dict[str, int]) -> bool:
    return not CONTROL_FLOW_OP_NAMES.isdisjoint(names)


def operations(circuit: QuantumCircuit) -> Iterator[Instruction]:
    """Every operation of ``circuit``, including those inside control-flow blocks."""
    for instruction in circuit.data:
        operation = instruction.operation
        yield operation
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                yield from operations(block)
