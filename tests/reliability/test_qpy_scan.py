"""The QPY walk that runs before ``qpy.load`` (server/qpyscan.py): it must read every valid file and refuse bombs.

A valid circuit wrongly refused would be a job nobody can submit, so a corpus of
what Qiskit can put in a QPY file (control flow, custom and controlled gates,
annotated operations, library gates, parameters and vectors, vars, stretches, boxes,
layouts, registers of every kind) is dumped at every version the server reads and
walked: each must pass with the widths ``qpy.load`` finds. Random byte flips of
those files must give a pass or a ``QpyRefused``, never another exception.
"""

from __future__ import annotations

import io
import random
import struct
import warnings

import pytest
from qiskit import AncillaRegister, ClassicalRegister, QuantumCircuit, QuantumRegister, qpy, transpile
from qiskit.circuit import Clbit, Gate, IfElseOp, Parameter, ParameterVector, Qubit
from qiskit.circuit.classical import expr, types
from qiskit.circuit.library import PauliEvolutionGate, QFTGate, UnitaryGate
from qiskit.exceptions import QiskitError
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import SparsePauliOp, random_unitary

from prefect_ibmq.server.qpyscan import NEWEST_VERSION, OLDEST_VERSION, QpyBounds, QpyOverLimit, QpyRefused, scan_qpy

BOUNDS = QpyBounds(max_circuits=300, max_qubits=24, max_clbits=1024, max_instructions=10**6, max_nesting=16,
                   max_metadata_bytes=65536)


def _corpus() -> dict[str, QuantumCircuit]:
    out: dict[str, QuantumCircuit] = {}
    theta, vector = Parameter("θ"), ParameterVector("v", 3)
    qc = QuantumCircuit(3, 3, global_phase=theta)
    qc.rx(theta, 0)
    qc.ry(vector[0] + 2 * vector[1], 1)
    qc.rz(vector[2].sin(), 2)
    qc.measure([0, 1, 2], [0, 1, 2])
    qc.metadata = {"a": [1, 2, {"b": None}]}
    out["parameters"] = qc
    out["bound"] = qc.assign_parameters({theta: 0.1, vector: [1, 2, 3]})
    cr, cr2 = ClassicalRegister(2, "c"), ClassicalRegister(1, "d")
    qc = QuantumCircuit(QuantumRegister(3, "q"), cr, cr2, AncillaRegister(1, "anc"), [Qubit(), Clbit()])
    qc.h(0)
    qc.measure(0, cr[0])
    with qc.if_test((cr, 1)) as otherwise:
        qc.x(1)
    with otherwise:
        qc.y(1)
    with qc.if_test(expr.logic_and(expr.equal(cr, 1), cr2[0])):
        qc.z(2)
    with qc.while_loop((cr[0], 0)):
        qc.h(0)
        qc.measure(0, cr[0])
    with qc.for_loop(range(3)) as index:
        qc.rx(index, 0)
    with qc.switch(cr) as case:
        with case(0):
            qc.x(0)
        with case(1, 2):
            qc.y(0)
        with case(case.DEFAULT):
            qc.z(0)
    out["control_flow"] = qc
    inner = QuantumCircuit(2, name="mine")
    inner.h(0)
    inner.cx(0, 1)
    gate = inner.to_gate()
    outer = QuantumCircuit(3, name="outer")
    outer.append(gate, [0, 1])
    outer.append(gate.control(1), [2, 0, 1])
    qc = QuantumCircuit(3, 3)
    qc.append(outer.to_instruction(), [0, 1, 2])
    qc.append(gate.inverse(annotated=True), [0, 1])
    qc.append(gate.power(2, annotated=True), [1, 2])
    qc.append(Gate("opaque", 1, [0.5]), [0])
    out["custom"] = qc
    qc = QuantumCircuit(3, 3)
    qc.append(PauliEvolutionGate(SparsePauliOp(["XXI", "ZZZ"], [1, 2]), time=0.3), [0, 1, 2])
    qc.append(UnitaryGate(random_unitary(4, seed=1)), [0, 1])
    qc.initialize([0, 1], [2])
    qc.append(QFTGate(3), [0, 1, 2])
    qc.delay(100, 0, unit="ns")
    qc.barrier()
    qc.measure([0, 1, 2], [0, 1, 2])
    out["library"] = qc
    source = QuantumCircuit(4, 4)
    source.h(0)
    for target in range(1, 4):
        source.cx(0, target)
    source.measure(range(4), range(4))
    out["transpiled"] = transpile(source, GenericBackendV2(7, seed=3), seed_transpiler=1, optimization_level=1)
    qc = QuantumCircuit(2, 2)
    flag = qc.add_input("a", types.Bool())
    counter = qc.add_var("b", expr.lift(5, types.Uint(8)))
    with qc.if_test(flag):
        qc.x(0)
    qc.store(counter, expr.bit_and(counter, 3))
    out["vars"] = qc
    qc = QuantumCircuit(2, 2)
    stretch = qc.add_stretch("s")
    qc.delay(stretch, 0)
    qc.delay(expr.mul(2, stretch), 1)
    with qc.box():
        qc.x(0)
    out["stretch_and_box"] = qc
    return out


CORPUS = _corpus()


def _dump(circuits: list[QuantumCircuit], version: int) -> bytes | None:
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qpy.dump(circuits, buffer, version=version)
    except (QiskitError, qpy.QpyError):  # a feature this version cannot carry
        return None
    return buffer.getvalue()


@pytest.mark.parametrize("version", range(OLDEST_VERSION, NEWEST_VERSION + 1))
def test_every_valid_circuit_passes_at_every_version(version):
    files = {name: _dump([circuit], version) for name, circuit in CORPUS.items()}
    files["all"] = _dump([c for c in CORPUS.values() if _dump([c], version)], version)
    assert sum(data is None for data in files.values()) <= 2  # only stretches need version 14+
    for name, data in files.items():
        if data is None:
            continue
        summary = scan_qpy(data, BOUNDS)
        assert summary.qubits == [c.num_qubits for c in qpy.load(io.BytesIO(data))], name


def test_random_byte_flips_pass_or_are_refused_never_raise(figures):
    rng = random.Random(18)
    outcomes = {"passed": 0, "refused": 0}
    for version in (OLDEST_VERSION + 1, NEWEST_VERSION - 1, NEWEST_VERSION):
        original = bytearray(_dump(list(CORPUS.values()), version) or b"")
        for _ in range(400):
            data = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            try:
                scan_qpy(bytes(data), BOUNDS)
                outcomes["passed"] += 1
            except QpyRefused:
                outcomes["refused"] += 1
    figures.record("qpy_scan", byte_flips=outcomes)
    assert outcomes["refused"] > 0 and outcomes["passed"] > 0


def _with_header(data: bytes, at: int, field: int, value: int) -> bytes:
    header = list(struct.unpack_from("!H1cHIIQIQI", data, at))
    header[field] = value
    patched = bytearray(data)
    struct.pack_into("!H1cHIIQIQI", patched, at, *header)
    return bytes(patched)


def test_bombs_anywhere_in_the_file_are_refused():
    block = QuantumCircuit(1)
    block.x(0)
    nested = QuantumCircuit(2, 2, name="top")
    nested.append(IfElseOp((nested.clbits[0], 1), block), [0], [])
    data = _dump([nested], NEWEST_VERSION)
    assert data is not None
    top = data.index(struct.pack("!H1cHII", 3, b"f", 8, 2, 2))
    inner = data.index(struct.pack("!H1cHII", 0, b"f", 8, 1, 0))
    bombs = {
        "wide": _with_header(data, top, 3, 1_000_000),
        "nested wide": _with_header(data, inner, 3, 1_000_000),
        "many clbits": _with_header(data, inner, 4, 10**9),
        "huge metadata": _with_header(data, top, 5, 2**40),
        "many instructions": _with_header(data, top, 7, 2**40),
    }
    for name, bomb in bombs.items():
        with pytest.raises(QpyOverLimit):
            scan_qpy(bomb, BOUNDS)
            pytest.fail(name)
