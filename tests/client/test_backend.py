"""IBMQBackend: a qiskit BackendV2 built from the server's configuration; run() checks input first."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.providers import BackendV2
from qiskit.providers.fake_provider import GenericBackendV2

from prefect_ibmq import IBMQJob, IBMQService
from prefect_ibmq.backend import BackendProperties, IBMQBackendValueError
from prefect_ibmq.circuits import bell
from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
from prefect_ibmq.wire import BackendConfiguration, BackendStatus
from tests.helpers import token_of

#: The seed of the GenericBackendV2 behind the server's noisy_simulator (DEFAULT_NOISE_SEED of the server).
NOISY_SOURCE_SEED = 1234


def test_backend_is_a_backend_v2_with_target_and_limits(aer):
    config = aer.configuration()
    assert isinstance(aer, BackendV2) and isinstance(config, BackendConfiguration)
    assert aer.name == "aer_simulator"
    assert aer.num_qubits == config.n_qubits
    assert aer.max_circuits == config.max_experiments
    assert "measure" in aer.target.operation_names and "cx" in aer.target.operation_names
    assert aer.options.shots == 1024


def test_transpile_for_the_noisy_backend_and_run(service):
    noisy = service.backend("noisy_simulator")
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.ccx(0, 1, 2)  # not a basis gate of the noisy backend
    circuit.measure_all()
    compiled = transpile(circuit, noisy, seed_transpiler=1)
    allowed = set(noisy.configuration().basis_gates) | {"barrier"}
    assert set(compiled.count_ops()) <= allowed
    coupled = {tuple(edge) for edge in noisy.configuration().coupling_map}
    for instruction in compiled.data:
        if len(instruction.qubits) == 2:
            pair = tuple(compiled.find_bit(q).index for q in instruction.qubits)
            assert pair in coupled
    result = noisy.run(compiled, shots=64).result(timeout=60)
    assert sum(result.get_counts().values()) == 64


def test_noisy_backend_publishes_the_noise_of_its_source(service):
    noisy = service.backend("noisy_simulator")
    properties = noisy.properties()
    assert isinstance(properties, BackendProperties)
    # The server's noisy backend is qiskit's GenericBackendV2 with this seed: the published
    # figures must be that backend's, qubit by qubit and gate by gate.
    source = GenericBackendV2(num_qubits=5, seed=NOISY_SOURCE_SEED).target
    assert len(properties.qubits) == noisy.num_qubits == source.num_qubits
    for qubit in range(source.num_qubits):
        expected = source.qubit_properties[qubit]
        assert properties.t1(qubit) == pytest.approx(expected.t1)
        assert properties.t2(qubit) == pytest.approx(expected.t2)
        assert properties.frequency(qubit) == pytest.approx(expected.frequency)
        assert properties.readout_error(qubit) == pytest.approx(source["measure"][(qubit,)].error)
    gates = [(name, qargs) for name in source.operation_names if name not in ("measure", "delay", "reset")
             for qargs in source[name] or {} if qargs is not None]
    assert gates
    for name, qargs in gates:
        assert properties.gate_error(name, qargs) == pytest.approx(source[name][qargs].error)
        assert properties.gate_length(name, qargs) == pytest.approx(source[name][qargs].duration)
    # A job of the backend reports the same figures.
    job = noisy.run(bell(), shots=8)
    assert job.properties().t1(0) == pytest.approx(source.qubit_properties[0].t1)


def test_ideal_backend_has_no_properties(aer):
    assert aer.properties() is None


def test_backend_status_counts_the_jobs_not_yet_final(job_server, tmp_path):
    # A server of its own, so no other test's jobs are counted; its jobs stay running or queued.
    held = BackendSpec(name="held_simulator", n_qubits=2, experiment_delay_s=600)
    config = ServerConfig(data_dir=tmp_path, tokens=job_server.config.tokens, backends=[held], workers=1,
                          simulation="threads")
    with JobServer(config) as server, IBMQService(server.url, token_of("alice")) as alice:
        backend = alice.backend("held_simulator")
        status = backend.status()
        assert isinstance(status, BackendStatus)
        assert status.backend_name == "held_simulator" and status.operational
        assert status.pending_jobs == 0
        jobs = [backend.run(bell(), shots=8) for _ in range(3)]
        assert backend.status().pending_jobs == 3
        assert all(job.cancel() for job in jobs)
        assert backend.status().pending_jobs == 0


def test_run_returns_an_ibmq_job(aer):
    job = aer.run(bell(), shots=8)
    assert isinstance(job, IBMQJob) and job.backend() is aer
    assert job.backend_options()["shots"] == 8


def wide_circuit(n: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n)
    circuit.measure_all()
    return circuit


BAD_RUNS = [
    ({"circuits": "not a circuit"}, "circuits must be a QuantumCircuit"),
    ({"circuits": []}, "circuits is empty"),
    ({"circuits": [bell(), "x"]}, r"circuits\[1\] is a str"),
    ({"circuits": QuantumCircuit(2)}, r"circuits\[0\].*no measurement"),
    ({"circuits": wide_circuit(6)}, r"has 6 qubits; slow_simulator has n_qubits=5"),
    ({"shots": 0}, r"shots=0 .* from 1 to max_shots="),
    ({"shots": 10**9}, r"shots=1000000000"),
    ({"shots": True}, r"shots=True"),
    ({"memory": "yes"}, r"memory='yes'"),
    ({"job_name": 5}, r"job_name=5 .* str or None"),
    ({"job_tags": "a"}, r"job_tags='a' .* list of str"),
    ({"job_tags": ["a", 1]}, r"job_tags=\['a', 1\]"),
    ({"share_level": "world"}, r"share_level='world' .*'global', 'hub', 'group', 'project', 'none'"),
    ({"header": ["h"]}, r"header=\['h'\]"),
    ({"private": "no"}, r"private='no'"),
]


@pytest.mark.parametrize("arguments, message", BAD_RUNS)
def test_bad_input_to_run_raises_and_submits_nothing(service, slow, arguments, message):
    before = len(service.jobs(backend_name="slow_simulator", limit=1000))
    with pytest.raises(IBMQBackendValueError, match=message):
        slow.run(**{"circuits": bell(), **arguments})
    assert len(service.jobs(backend_name="slow_simulator", limit=1000)) == before


def test_too_many_circuits_names_max_experiments(slow):
    too_many = slow.max_circuits + 1
    expected = f"{too_many} circuits exceed max_experiments={slow.max_circuits}"
    with pytest.raises(IBMQBackendValueError, match=expected):
        slow.run([bell()] * too_many, shots=1)


def test_validate_circuits_checks_each_circuit_but_not_the_job_size(slow):
    many = [bell(f"c{i}") for i in range(slow.max_circuits + 1)]
    assert slow.validate_circuits(many, shots=8) == many
    single = bell()
    assert slow.validate_circuits(single) == [single]
    with pytest.raises(IBMQBackendValueError, match=r"circuits\[1\] \('empty'\) has no measurement"):
        slow.validate_circuits([bell(), QuantumCircuit(1, name="empty")])
    with pytest.raises(IBMQBackendValueError, match="shots=0"):
        slow.validate_circuits(bell(), shots=0)
