"""Our backends as qiskit tools read them: run()'s options, the Target, and AerSimulator.from_backend."""

from __future__ import annotations

import pytest
import requests
from qiskit import QuantumCircuit, transpile
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.result.models import MeasLevel, MeasReturnType
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error

from prefect_ibmq.backend import IBMQBackendValueError
from prefect_ibmq.circuits import bell, ghz
from tests.characterization.helpers import binomial_bound, noise_errors, total_variation, tv_bound
from tests.helpers import token_of

#: The seed of the GenericBackendV2 behind the server's noisy_simulator (its DEFAULT_NOISE_SEED).
NOISY_SOURCE_SEED = 1234


def test_the_noisy_target_is_the_published_noise(noisy):
    target, properties, config = noisy.target, noisy.properties(), noisy.configuration()
    source = GenericBackendV2(num_qubits=5, seed=NOISY_SOURCE_SEED).target
    assert target.dt == config.dt == source.dt and config.num_qubits == target.num_qubits == 5
    assert sorted(target.build_coupling_map().get_edges()) == sorted(source.build_coupling_map().get_edges())
    for qubit in range(5):
        ours, theirs = target.qubit_properties[qubit], source.qubit_properties[qubit]
        assert (ours.t1, ours.t2, ours.frequency) == (theirs.t1, theirs.t2, theirs.frequency)
        assert (ours.t1, ours.t2, ours.frequency) == (properties.t1(qubit), properties.t2(qubit),
                                                     properties.frequency(qubit))
        assert target["measure"][(qubit,)].error == properties.readout_error(qubit) == source["measure"][(qubit,)].error
        assert target["measure"][(qubit,)].duration == properties.readout_length(qubit)
    for name in ("cx", "sx", "x", "id", "rz", "reset"):
        assert set(target[name]) == set(source[name])
        for qargs, props in source[name].items():
            assert (target[name][qargs].error, target[name][qargs].duration) == (props.error, props.duration)
            if name != "reset":  # reset has a duration and no error: properties() lists gates
                assert properties.gate_error(name, qargs) == props.error
                assert properties.gate_length(name, qargs) == props.duration
    assert noisy.dt == source.dt and noisy.instruction_durations.get("x", [0], "s") == source["x"][(0,)].duration


def test_ideal_targets_have_a_clock_and_no_noise(lab):
    for name in ("aer_simulator", "flaky_simulator"):
        backend = lab.backend(name)
        target = backend.target
        assert target.dt == backend.configuration().dt > 0 and target.qubit_properties is None
        assert backend.properties() is None and backend.configuration().noise_model_option
        assert target.instruction_supported("cx", (0, 7)) and target["cx"] == {None: None}
    assert not lab.backend("noisy_simulator").configuration().noise_model_option


def test_from_backend_builds_the_servers_noise_model_and_agrees_with_it(noisy):
    ours = NoiseModel.from_backend(noisy)
    theirs = NoiseModel.from_backend(GenericBackendV2(num_qubits=5, seed=NOISY_SOURCE_SEED))
    assert noise_errors(ours) == noise_errors(theirs) and len(noise_errors(ours)) > 40
    assert ours._custom_noise_passes and theirs._custom_noise_passes  # delays relax (T1, T2, dt) on both
    local = AerSimulator.from_backend(noisy)
    decay = QuantumCircuit(1, 1, name="decay")
    decay.x(0)
    decay.delay(300, 0, "us")
    decay.measure(0, 0)
    circuits = [transpile(c, noisy, initial_layout=list(range(c.num_qubits)), seed_transpiler=1)
                for c in (ghz(3), bell(), decay)]
    shots = 4000
    served = noisy.run(circuits, shots=shots, seed_simulator=11).result()
    simulated = local.run(circuits, shots=shots, seed_simulator=99).result()
    for index in range(len(circuits)):
        ours_counts, local_counts = served.get_counts(index), simulated.get_counts(index)
        assert total_variation(ours_counts, local_counts) <= tv_bound(ours_counts, local_counts), (
            index, ours_counts, local_counts)
    # The noise is there: the decay circuit is far from the ideal '1'.
    assert served.get_counts(2).get("0", 0) > 0.5 * shots


def test_from_backend_of_an_ideal_backend_is_an_ideal_all_to_all_simulator(ideal):
    # The ideal target builds no coupling map (every gate on any qubits): the backend gives every pair instead.
    edges = set(ideal.coupling_map.get_edges())
    n = ideal.num_qubits
    assert ideal.target.build_coupling_map() is None
    assert len(edges) == n * (n - 1) and (0, n - 1) in edges and (n - 1, 0) in edges
    local = AerSimulator.from_backend(ideal)
    assert local.num_qubits == n and not NoiseModel.from_backend(ideal).noise_qubits
    circuits = [ghz(4), bell()]
    served = ideal.run(circuits, shots=256, seed_simulator=3).result()
    simulated = local.run(circuits, shots=256, seed_simulator=3).result()  # in its basis as they are
    for index, ideal_outcomes in enumerate(({"0000", "1111"}, {"00", "11"})):
        assert set(served.get_counts(index)) == set(simulated.get_counts(index)) == ideal_outcomes


def test_run_takes_the_options_of_ibm_and_aer_backends(ideal, noisy):
    job = noisy.run(bell(), shots=64, memory=True, seed_simulator=5, meas_level=MeasLevel.CLASSIFIED,
                    meas_return=MeasReturnType.AVERAGE, rep_delay=noisy.configuration().default_rep_delay,
                    init_qubits=True, method="density_matrix", job_name="opts", job_tags=["t"])
    result = job.result(timeout=60)
    assert len(result.get_memory(0)) == 64
    options = job.backend_options()
    assert (options["meas_level"], options["meas_return"], options["method"]) == (2, "avg", "density_matrix")
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(1.0, 1), ["x"])  # an x that fully depolarizes
    flip = QuantumCircuit(1, 1)
    flip.x(0)
    flip.measure(0, 0)
    counts = ideal.run(flip, shots=2000, noise_model=noise, seed_simulator=3).result().get_counts()
    assert abs(counts.get("1", 0) / 2000 - 0.5) <= binomial_bound(0.5, 2000)
    ideal.set_options(shots=32, seed_simulator=8)
    try:
        assert sum(ideal.run(flip).result().get_counts().values()) == 32
    finally:
        ideal.set_options(shots=1024, seed_simulator=None)


@pytest.mark.parametrize("options, message", [
    ({"meas_level": 1}, r"meas_level=1 \(kerneled \(1\)\) is not available on noisy_simulator.*give one of \[2\]"),
    ({"meas_level": 0}, r"meas_level=0 \(raw \(0\)\) is not available"),
    ({"init_qubits": False}, r"init_qubits=False is not available on noisy_simulator"),
    ({"rep_delay": 1e-3}, r"rep_delay=0.001 .*rep_delay_range \[0.0, 0.0005\]"),
    ({"method": "unitary"}, r"method='unitary' .*'statevector'"),
    ({"meas_return": "mean"}, r"meas_return='mean' .*'single' or 'avg'"),
    ({"noise_model": NoiseModel()}, r"noise_model is not taken by noisy_simulator"),
    ({"parameter_binds": []}, r"does not take the option\(s\) \['parameter_binds'\]; it takes \['shots', "),
])
def test_options_a_simulator_cannot_honour_are_refused_by_name(noisy, options, message):
    with pytest.raises(IBMQBackendValueError, match=message):
        noisy.run(bell(), **options)
    with pytest.raises(IBMQBackendValueError, match=message.split(" ")[0]):
        noisy.set_options(**options)
    assert noisy.options.meas_level == 2 and noisy.options.init_qubits is True


def test_the_server_refuses_what_the_client_would_have_refused(lab_server, noisy):
    submission = noisy.prepare_submission(bell(), shots=8)
    body = submission.model_dump()
    for change, message in [({"meas_level": 1}, "meas_level=1 is not available"),
                            ({"init_qubits": False}, "init_qubits=False"),
                            ({"rep_delay": 1.0}, "rep_delay_range"),
                            ({"noise_model": {"errors": []}}, "noise_model is not taken by noisy_simulator")]:
        answer = requests.post(f"{lab_server.url}/v1/jobs", json={**body, "options": {**body["options"], **change}},
                               headers={"Authorization": f"Bearer {token_of('alice')}"}, timeout=30)
        assert answer.status_code == 422 and message in answer.json()["message"], answer.text
