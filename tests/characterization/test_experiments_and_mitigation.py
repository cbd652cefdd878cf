"""qiskit-experiments, mthree and the primitives on noisy_simulator, each through its default, documented path.

qiskit-experiments 0.14 runs an experiment through qiskit-ibm-runtime's ``SamplerV2(backend)``,
which for a backend that is not IBM's is its local mode: ``BackendSamplerV2`` calling our
``backend.run(circuits, shots=..., memory=True, meas_level=2)``. Expectations are derived
from what the backend publishes (``properties()``), with bounds from the shots taken.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import BackendEstimatorV2, BackendSamplerV2
from qiskit.quantum_info import SparsePauliOp
from qiskit_experiments.library import T1, LocalReadoutError, StandardRB, T2Ramsey

from prefect_ibmq.circuits import bell, ghz
from tests.characterization.helpers import binomial_bound


def _value(data, name: str) -> float:
    return float(data.analysis_results(name, dataframe=True)["value"].iloc[0].nominal_value)


def test_t1_and_t2ramsey_fit_the_published_values(noisy):
    properties = noisy.properties()
    t1, t2 = properties.t1(0), properties.t2(0)
    data = T1([0], delays=np.linspace(0, 3 * t1, 16), backend=noisy).run(shots=1500, seed_simulator=5)
    assert data.block_for_results().status().name == "DONE"
    assert _value(data, "T1") == pytest.approx(t1, rel=0.10)
    # About three oscillations over the delays, eight points each.
    delays = np.linspace(0, 2 * t2, 24)
    ramsey = T2Ramsey([0], delays=delays, osc_freq=3 / delays[-1], backend=noisy).run(shots=1500, seed_simulator=6)
    assert ramsey.block_for_results().status().name == "DONE"
    assert _value(ramsey, "T2star") == pytest.approx(t2, rel=0.10)


def test_standard_rb_gives_an_epc_of_the_published_gate_errors_order(noisy):
    experiment = StandardRB([0], lengths=[1, 500, 1000, 1500], num_samples=2, seed=3, backend=noisy)
    data = experiment.run(shots=300, seed_simulator=4).block_for_results()
    assert data.status().name == "DONE"
    epc = _value(data, "EPC")
    # Each Clifford is this many x/sx pulses on average (the rz are virtual: no duration, no error).
    circuits = experiment._transpiled_circuits()
    pulses = sum(c.count_ops().get("sx", 0) + c.count_ops().get("x", 0) for c in circuits)
    per_clifford = pulses / sum(c.metadata["xval"] for c in circuits)
    properties = noisy.properties()
    expected = per_clifford * np.mean([properties.gate_error(g, 0) for g in ("sx", "x")])
    assert expected / 3 < epc < expected * 3, (epc, expected)


def test_local_readout_error_matches_the_published_readout_errors(noisy):
    qubits, shots = [0, 1, 2], 4000
    data = LocalReadoutError(qubits, backend=noisy).run(shots=shots, seed_simulator=8).block_for_results()
    mitigator = data.analysis_results("Local Readout Mitigator", dataframe=True)["value"].iloc[0]
    for qubit in qubits:
        published = noisy.properties().readout_error(qubit)
        matrix = mitigator.assignment_matrix(qubit)  # column: prepared state, row: read state
        for flipped in (matrix[1, 0], matrix[0, 1]):
            assert abs(flipped - published) <= binomial_bound(published, shots), (qubit, matrix, published)


def test_experiment_data_cancel_jobs_cancels_our_jobs(lab, noisy):
    # Through backend.run (qiskit-experiments' backend_run): its jobs are then ours. On the default
    # path they are qiskit-ibm-runtime's local jobs, whose cancel() cannot stop a thread already running.
    t1 = noisy.properties().t1(0)
    experiment = T1([0], delays=np.linspace(0, 3 * t1, 40), backend=noisy)
    data = experiment.run(backend_run=True, shots=noisy.configuration().max_shots)
    job_ids = data.job_ids
    assert job_ids and data.cancel_jobs()
    for job_id in job_ids:
        assert lab.job(job_id).status().name == "CANCELLED"
    assert data.block_for_results().job_status().name == "CANCELLED"


def test_mthree_calibrates_from_the_system_and_mitigates_a_ghz3(noisy):
    import mthree

    qubits, shots = [0, 1, 2], 4000
    mitigation = mthree.M3Mitigation(noisy)
    mitigation.cals_from_system(qubits, shots=shots)
    circuit = transpile(ghz(3), noisy, initial_layout=qubits, seed_transpiler=1)
    counts = noisy.run(circuit, shots=shots, seed_simulator=12).result().get_counts()
    raw = (counts.get("000", 0) + counts.get("111", 0)) / shots
    quasi = mitigation.apply_correction(counts, qubits)
    assert quasi.get("000", 0) + quasi.get("111", 0) > raw


def test_backend_primitives_and_runtime_local_mode_run_on_it(noisy):
    from qiskit_ibm_runtime import SamplerV2

    isa = transpile(bell(), noisy, initial_layout=[0, 1], seed_transpiler=1)
    sampler = BackendSamplerV2(backend=noisy, options={"default_shots": 500})
    counts = sampler.run([isa]).result()[0].join_data().get_counts()
    assert sum(counts.values()) == 500 and counts.get("00", 0) + counts.get("11", 0) > 450
    unmeasured = QuantumCircuit(2)
    unmeasured.h(0)
    unmeasured.cx(0, 1)
    state = transpile(unmeasured, noisy, initial_layout=[0, 1], seed_transpiler=1)
    estimator = BackendEstimatorV2(backend=noisy, options={"default_precision": 0.02})
    zz = estimator.run([(state, SparsePauliOp("ZZ").apply_layout(state.layout))]).result()[0].data.evs
    assert 0.9 < float(zz) <= 1.0
    local = SamplerV2(mode=noisy)
    local.options.execution.meas_type = "classified"
    local.options.default_shots = 300
    counts = local.run([isa]).result()[0].join_data().get_counts()
    assert sum(counts.values()) == 300 and counts.get("00", 0) + counts.get("11", 0) > 270
