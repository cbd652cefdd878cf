"""Build a qiskit ``Target`` from a backend configuration: what the service publishes, and nothing else.

``dt``, every published gate's duration and error on its qubits, measure's readout
error and length, and each qubit's T1, T2 and frequency (``qubit_properties``) come
from the configuration's ``properties``; so ``transpile`` lays circuits out by noise,
qiskit-experiments counts delays in dt, and ``AerSimulator.from_backend(backend)``
builds the same noise model as the service's (``NoiseModel.from_backend`` reads
exactly these). A backend without published noise (the ideal ones) has instructions
without properties, on every qubit (all-to-all: no coupling map).
"""

from __future__ import annotations

from typing import Any

from qiskit.circuit import (
    BreakLoopOp,
    ContinueLoopOp,
    ForLoopOp,
    IfElseOp,
    SwitchCaseOp,
    WhileLoopOp,
)
from qiskit.circuit.library.standard_gates import get_standard_gate_name_mapping
from qiskit.providers import QubitProperties
from qiskit.transpiler import InstructionProperties, Target

from prefect_ibmq.wire import BackendConfiguration

_CONTROL_FLOW = {
    "if_else": IfElseOp,
    "while_loop": WhileLoopOp,
    "for_loop": ForLoopOp,
    "switch_case": SwitchCaseOp,
    "break_loop": BreakLoopOp,
    "continue_loop": ContinueLoopOp,
}
Qargs = tuple[int, ...]


def build_target(configuration: BackendConfiguration) -> Target:
    """The Target of a backend: its basis on its qubits and coupling map, with the published noise.

    Simulator-only instructions that qiskit does not know by name (aer's
    ``save_*``, ``kraus``, ...) are left out: the transpiler never needs to
    produce them. Gates on more than two qubits are kept only for all-to-all
    backends, since a coupling map says nothing about them.
    """
    known = get_standard_gate_name_mapping()
    published = published_instructions(configuration.properties)
    target = Target(
        description=configuration.description or None,
        num_qubits=configuration.n_qubits,
        dt=configuration.dt,
        qubit_properties=published_qubits(configuration.properties),
    )
    coupling = [tuple(edge) for edge in configuration.coupling_map] if configuration.coupling_map else None
    for name in dict.fromkeys([*configuration.basis_gates, "measure"]):
        if name in _CONTROL_FLOW:
            target.add_instruction(_CONTROL_FLOW[name], name=name)
            continue
        operation = known.get(name)
        if operation is None or (coupling is not None and operation.num_qubits > 2):
            continue
        properties = published.get(name) or _everywhere(operation.num_qubits, configuration.n_qubits, coupling)
        target.add_instruction(operation, properties)
    return target


def published_instructions(properties: dict[str, Any] | None) -> dict[str, dict[Qargs, InstructionProperties]]:
    """Instruction name -> qubits -> duration and error, from a configuration's ``properties``.

    Measure's come from each qubit's ``readout_error`` and ``readout_length``.
    """
    out: dict[str, dict[Qargs, InstructionProperties]] = {}
    if not properties:
        return out
    for gate in properties.get("gates", ()):
        out.setdefault(gate["gate"], {})[tuple(gate["qubits"])] = InstructionProperties(
            duration=gate.get("duration"), error=gate.get("error")
        )
    for qubit in properties.get("qubits", ()):
        out.setdefault("measure", {})[(qubit["qubit"],)] = InstructionProperties(
            duration=qubit.get("readout_length"), error=qubit.get("readout_error")
        )
    return out


def published_qubits(properties: dict[str, Any] | None) -> list[QubitProperties] | None:
    """Each qubit's T1, T2 (seconds) and frequency (Hz), in qubit order; None when nothing is published."""
    qubits = sorted((properties or {}).get("qubits", ()), key=lambda entry: entry["qubit"])
    if not qubits:
        return None
    return [QubitProperties(t1=q.get("t1"), t2=q.get("t2"), frequency=q.get("frequency")) for q in qubits]


def _everywhere(width: int, n_qubits: int, coupling: list[Qargs] | None) -> dict[Qargs, None] | None:
    """An instruction without published properties: on every qubit, or every coupled pair (None: any qubits)."""
    if coupling is None:
        return None
    if width == 1:
        return {(qubit,): None for qubit in range(n_qubits)}
    return dict.fromkeys(coupling)  # two qubits: wider gates are not kept on a coupling map
