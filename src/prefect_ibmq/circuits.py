"""Circuits as users hand them over: objects, OpenQASM 2 or 3 text, or .qasm files.

A deployment started from the Prefect UI can only pass JSON parameters, so a flow
accepts QASM text and file paths/globs besides ``QuantumCircuit`` objects. Every
item is checked before anything is submitted; a bad one is reported by its index.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path
from typing import TypeAlias

from qiskit import QuantumCircuit, qasm2, qasm3

from prefect_ibmq.arguments import check_int
from prefect_ibmq.exceptions import IBMQValueError

#: What a flow accepts as one circuit: the object, OpenQASM 2 or 3 text, or a path or glob of .qasm files.
CircuitLike: TypeAlias = QuantumCircuit | str | Path


class CircuitInputError(IBMQValueError):
    """A circuit given to a flow could not be read; ``index`` says which one and ``reason`` why.

    An :class:`~prefect_ibmq.exceptions.IBMQValueError`, so a ``ValueError`` too.
    """

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"circuit #{index}: {reason}")
        self.index = index
        self.reason = reason

    def __str__(self) -> str:
        return self.message  # the plain text, as ValueError shows it (QiskitError would quote it)


def load_circuits(items: CircuitLike | Iterable[CircuitLike]) -> list[QuantumCircuit]:
    """Turn circuits, QASM text, and paths or globs of ``.qasm`` files into circuits.

    Raises:
        CircuitInputError: naming the first bad item by its index and why it is bad.
    """
    if isinstance(items, (QuantumCircuit, str, Path)):
        items = [items]
    circuits: list[QuantumCircuit] = []
    for index, item in enumerate(items):
        circuits.extend(_load_one(index, item))
    if not circuits:
        raise CircuitInputError(0, "no circuits were given")
    return circuits


def _load_one(index: int, item: object) -> list[QuantumCircuit]:
    if isinstance(item, QuantumCircuit):
        return [item]
    if isinstance(item, Path):
        return [_parse(index, item.read_text(), name=item.stem)]
    if not isinstance(item, str):
        raise CircuitInputError(
            index, f"a {type(item).__name__} is not a circuit; give a QuantumCircuit, QASM text or a .qasm path"
        )
    if "OPENQASM" in item:
        return [_parse(index, item, name=None)]
    paths = sorted(glob.glob(item)) if glob.has_magic(item) else [item]
    if not paths or not all(Path(p).is_file() for p in paths):
        raise CircuitInputError(index, f"{item!r} is neither OpenQASM text nor an existing .qasm file or glob")
    return [_parse(index, Path(p).read_text(), name=Path(p).stem) for p in paths]


def _parse(index: int, text: str, name: str | None) -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 by its version line."""
    try:
        if _qasm_version(text).startswith("2"):
            circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        else:
            circuit = qasm3.loads(text)
    except Exception as exc:  # qasm2/qasm3 raise several unrelated types
        raise CircuitInputError(index, f"not valid OpenQASM: {exc}") from exc
    if name:
        circuit.name = name
    return circuit


def _qasm_version(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("OPENQASM"):
            return line.removeprefix("OPENQASM").strip().rstrip(";").strip()
    return "3"


def ghz(num_qubits: int) -> QuantumCircuit:
    """A GHZ state on ``num_qubits`` qubits, measured; ``bell`` is ``ghz(2)`` (``ghz(1)`` is |+>)."""
    check_int("num_qubits", num_qubits, 1)
    circuit = QuantumCircuit(num_qubits, num_qubits, name=f"ghz_{num_qubits}")
    circuit.h(0)
    for qubit in range(1, num_qubits):
        circuit.cx(qubit - 1, qubit)
    circuit.measure(range(num_qubits), range(num_qubits))
    return circuit


def bell(name: str = "bell") -> QuantumCircuit:
    """The Bell state (|00> + |11>)/sqrt(2), measured."""
    circuit = ghz(2)
    circuit.name = name
    return circuit


def ghz_bell_set(count: int, max_qubits: int = 5) -> list[QuantumCircuit]:
    """``count`` circuits cycling through Bell and GHZ(3..max_qubits), uniquely named."""
    shapes = [bell] + [lambda n=n: ghz(n) for n in range(3, max_qubits + 1)]
    circuits = []
    for i in range(count):
        circuit = shapes[i % len(shapes)]()
        circuit.name = f"{circuit.name}_{i}"
        circuits.append(circuit)
    return circuits
