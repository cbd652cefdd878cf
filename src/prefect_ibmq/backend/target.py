"""Build a qiskit ``Target`` from a backend configuration, so ``transpile(circuits, backend)`` works."""

from __future__ import annotations

from qiskit.circuit import (
    BreakLoopOp,
    ContinueLoopOp,
    ForLoopOp,
    IfElseOp,
    SwitchCaseOp,
    WhileLoopOp,
)
from qiskit.circuit.library.standard_gates import get_standard_gate_name_mapping
from qiskit.transpiler import CouplingMap, Target

from prefect_ibmq.wire import BackendConfiguration

_CONTROL_FLOW = {
    "if_else": IfElseOp,
    "while_loop": WhileLoopOp,
    "for_loop": ForLoopOp,
    "switch_case": SwitchCaseOp,
    "break_loop": BreakLoopOp,
    "continue_loop": ContinueLoopOp,
}


def build_target(configuration: BackendConfiguration) -> Target:
    """The Target of a backend: its basis gates on its qubits and coupling map (all-to-all when None).

    Simulator-only instructions that qiskit does not know by name (aer's
    ``save_*``, ``kraus``, ...) are left out: the transpiler never needs to
    produce them. Gates on more than two qubits are kept only for all-to-all
    backends, since a coupling map says nothing about them.
    """
    known = get_standard_gate_name_mapping()
    coupling_map = CouplingMap(configuration.coupling_map) if configuration.coupling_map else None
    names = []
    for name in dict.fromkeys([*configuration.basis_gates, "measure"]):
        if name in _CONTROL_FLOW:
            names.append(name)
        elif name in known and (coupling_map is None or known[name].num_qubits <= 2):
            names.append(name)
    return Target.from_configuration(
        basis_gates=names,
        num_qubits=configuration.n_qubits,
        coupling_map=coupling_map,
        custom_name_mapping=_CONTROL_FLOW,
    )
