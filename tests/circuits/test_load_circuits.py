"""Circuits as flows take them: objects, OpenQASM 2/3 text, .qasm paths and globs."""

from __future__ import annotations

from pathlib import Path

import pytest
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.quantum_info import Operator

from prefect_ibmq.circuits import CircuitInputError, bell, ghz, ghz_bell_set, load_circuits


def same_circuit(a: QuantumCircuit, b: QuantumCircuit) -> bool:
    return Operator(a.remove_final_measurements(inplace=False)).equiv(
        Operator(b.remove_final_measurements(inplace=False))
    ) and a.count_ops().get("measure") == b.count_ops().get("measure")


def test_objects_qasm2_and_qasm3_text_give_the_same_circuit():
    ref = ghz(3)
    loaded = load_circuits([ref, qasm2.dumps(ref), qasm3.dumps(ref)])
    assert len(loaded) == 3
    assert loaded[0] is ref
    assert all(same_circuit(ref, c) for c in loaded)


def test_paths_and_globs_load_in_sorted_order_named_by_file(tmp_path: Path):
    (tmp_path / "b_ghz.qasm").write_text(qasm2.dumps(ghz(4)))
    (tmp_path / "a_bell.qasm").write_text(qasm3.dumps(bell()))
    loaded = load_circuits([str(tmp_path / "*.qasm"), tmp_path / "a_bell.qasm"])
    assert [c.name for c in loaded] == ["a_bell", "b_ghz", "a_bell"]
    assert [c.num_qubits for c in loaded] == [2, 4, 2]


@pytest.mark.parametrize(
    "items, index, words",
    [
        ([bell(), "no such file.qasm"], 1, "neither OpenQASM text nor an existing"),
        (["OPENQASM 2.0; qreg q[1]; frobnicate q[0];"], 0, "not valid OpenQASM"),
        (["OPENQASM 3.0; qubit q; h q"], 0, "not valid OpenQASM"),
        ([bell(), bell(), 42], 2, "a int is not a circuit"),
        (["/nonexistent/*.qasm"], 0, "neither OpenQASM text"),
        ([], 0, "no circuits were given"),
    ],
)
def test_a_bad_item_is_named_by_its_index(items, index, words):
    with pytest.raises(CircuitInputError, match=words) as caught:
        load_circuits(items)
    assert caught.value.index == index
    assert str(caught.value).startswith(f"circuit #{index}:")


def test_ghz_bell_set_cycles_shapes_with_unique_names():
    circuits = ghz_bell_set(9, max_qubits=4)
    assert [c.num_qubits for c in circuits] == [2, 3, 4] * 3
    assert len({c.name for c in circuits}) == 9
    with pytest.raises(ValueError, match="num_qubits=0 is not accepted; give an int >= 1"):
        ghz(0)


def test_the_circuits_folder_the_readme_names_loads_its_bell_and_ghz_files():
    # circuits/*.qasm ship with the project: a flow run from the UI can be given ["circuits/*.qasm"].
    root = Path(__file__).parents[2]
    loaded = load_circuits([str(root / "circuits" / "*.qasm")])
    assert [c.name for c in loaded] == ["bell", "ghz_3", "ghz_4", "ghz_5"]
    assert all(same_circuit(expected, c) for expected, c in zip([bell(), ghz(3), ghz(4), ghz(5)], loaded, strict=True))
