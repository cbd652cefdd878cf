"""A circuit means on the server what it means here: delays in seconds, aer's save instructions, and 422s."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import requests
from qiskit import QuantumCircuit
from qiskit.quantum_info import Kraus, SparsePauliOp, Statevector
from qiskit_aer.noise import amplitude_damping_error

from prefect_ibmq.backend import IBMQBackendValueError
from prefect_ibmq.wire import circuits_to_base64
from tests.characterization.helpers import binomial_bound
from tests.helpers import token_of


def _decay(delay: float, unit: str) -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1, name=f"decay-{delay}{unit}")
    circuit.x(0)
    circuit.delay(delay, 0, unit)
    circuit.measure(0, 0)
    return circuit


def test_a_delay_in_microseconds_decays_as_t1_says(noisy, caplog):
    caplog.set_level(logging.INFO, logger="prefect_ibmq.backend")
    t1 = noisy.properties().t1(0)
    shots = 4000
    counts = noisy.run([_decay(100, "us"), _decay(1.5e-6, "s"), _decay(0.1, "ms")], shots=shots,
                       seed_simulator=7).result().get_counts()
    # P(1) after the delay: e^(-t/T1), times what the x and the readout keep of it (a few 1e-3).
    expected = math.exp(-100e-6 / t1)
    assert abs(counts[0].get("1", 0) / shots - expected) <= binomial_bound(expected, shots) + 0.01, counts[0]
    assert abs(counts[2].get("1", 0) / shots - expected) <= binomial_bound(expected, shots) + 0.01, counts[2]
    # 1.5 us is nearly nothing for T1 ~ 200 us: almost every shot stays 1 (and it ran: it did not fail to decode).
    assert counts[1].get("1", 0) / shots > 0.97
    logged = [r.getMessage() for r in caplog.records if "delays converted to dt" in r.getMessage()]
    assert len(logged) == 1 and "100.0 us -> 450450 dt" in logged[0], logged
    noisy.run(_decay(100, "us"), shots=8).result()
    assert len([r for r in caplog.records if "delays converted to dt" in r.getMessage()]) == 1  # once per backend


def test_save_statevector_and_expectation_values_come_back(ideal):
    circuit = QuantumCircuit(2, 2, name="saved")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.save_statevector()
    circuit.save_expectation_value(SparsePauliOp("ZZ"), [0, 1], label="zz")
    circuit.save_probabilities_dict([0, 1], label="p")
    circuit.measure([0, 1], [0, 1])
    result = ideal.run(circuit, shots=16).result()
    state = Statevector(result.get_statevector(0))
    assert state.equiv(Statevector(np.array([1, 0, 0, 1]) / np.sqrt(2)))
    data = result.data(0)
    assert data["zz"] == pytest.approx(1.0)
    assert {int(k, 16): v for k, v in data["p"].items()} == pytest.approx({0: 0.5, 3: 0.5})


def test_a_per_shot_save_is_refused_before_sending(ideal):
    circuit = QuantumCircuit(1, 1, name="pershot")
    circuit.save_statevector(pershot=True)
    circuit.measure(0, 0)
    with pytest.raises(IBMQBackendValueError, match=r"save_statevector with data subtype 'list'"):
        ideal.run(circuit)


def test_kraus_crosses_the_wire_and_a_quantum_error_instruction_is_a_422_naming_it(lab_server, ideal):
    damping = amplitude_damping_error(1.0)
    kraus = QuantumCircuit(1, 1, name="kraus")
    kraus.x(0)
    kraus.append(Kraus(damping.to_quantumchannel()), [0])
    kraus.measure(0, 0)
    assert ideal.run(kraus, shots=50).result().get_counts() == {"0": 50}
    channel = QuantumCircuit(1, 1, name="channel")
    channel.append(damping.to_instruction(), [0])
    channel.measure(0, 0)
    answer = _post(lab_server, [kraus, channel])
    assert answer.status_code == 422
    assert "circuit 1 ('channel') uses instruction 'quantum_channel'" in answer.json()["message"]


def test_a_delay_in_seconds_sent_as_raw_qpy_is_a_422_not_a_500(lab_server):
    answer = _post(lab_server, [_decay(1.5e-6, "s")], backend="noisy_simulator")
    assert answer.status_code == 422, answer.text
    message = answer.json()["message"]
    assert message.startswith("circuit 0 ('decay-1.5e-06s') uses instruction 'delay': it cannot be rebuilt"), message
    assert "QPY keeps no delay units" in message
    inside = QuantumCircuit(1, 1, name="branch")
    inside.measure(0, 0)
    with inside.if_test((inside.clbits[0], 1)):
        inside.delay(2.5e-6, 0, "s")
    answer = _post(lab_server, [_decay(8, "dt"), inside], backend="aer_simulator")
    assert answer.status_code == 422 and answer.json()["message"].startswith("circuit 1 ('branch') uses "
                                                                             "instruction 'delay'"), answer.text


def _post(lab_server, circuits, backend="aer_simulator"):
    """A submission as another client would send it: QPY of the circuits as they are."""
    return requests.post(f"{lab_server.url}/v1/jobs", json={"backend": backend, "qpy": circuits_to_base64(circuits)},
                         headers={"Authorization": f"Bearer {token_of('alice')}"}, timeout=30)
