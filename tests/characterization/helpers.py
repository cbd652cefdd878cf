"""Helpers of the characterization tests: the lab server's configuration, statistics, server-side timestamps."""

from __future__ import annotations

import math
from datetime import datetime

from qiskit import QuantumCircuit

from prefect_ibmq.server import BackendSpec, ServerConfig
from tests.helpers import TOKENS

#: Shots that keep a chunk of :func:`heavy_circuits` in a simulator process for seconds (~14 s for four, on 2 cores).
HEAVY_SHOTS = 1_000_000


def lab_config(data_dir, workers: int = 2) -> ServerConfig:
    """The default backends as a user has them, plus ``heavy_simulator`` (many shots: long chunks).

    ``prestart_simulators`` as on the embedded default: warmed processes and a spare.
    """
    backends = [*BackendSpec.defaults(),
                BackendSpec(name="heavy_simulator", kind="ideal", n_qubits=5, max_shots=10 * HEAVY_SHOTS)]
    return ServerConfig(data_dir=data_dir, tokens={token: who for token, who in TOKENS.values()},
                        backends=backends, workers=workers, prestart_simulators=True)


def heavy_circuits(count: int = 4) -> list[QuantumCircuit]:
    """GHZ-5 circuits: with HEAVY_SHOTS each, a chunk of them simulates for seconds."""
    out = []
    for index in range(count):
        circuit = QuantumCircuit(5, name=f"heavy{index}")
        circuit.h(0)
        for qubit in range(4):
            circuit.cx(qubit, qubit + 1)
        circuit.measure_all()
        out.append(circuit)
    return out


def binomial_bound(p: float, shots: int, sigmas: float = 5.0) -> float:
    """How far an observed frequency of ``shots`` draws may stray from ``p`` (``sigmas`` standard errors)."""
    return sigmas * math.sqrt(max(p * (1 - p), 1.0 / shots) / shots)


def total_variation(a: dict[str, int], b: dict[str, int]) -> float:
    """Total variation distance of two count dicts (as frequencies)."""
    na, nb = sum(a.values()), sum(b.values())
    return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in set(a) | set(b))


def tv_bound(a: dict[str, int], b: dict[str, int], sigmas: float = 5.0) -> float:
    """A bound on the total variation of two samples of one distribution: ``sigmas`` standard errors per outcome."""
    na, nb = sum(a.values()), sum(b.values())
    pooled = {k: (a.get(k, 0) + b.get(k, 0)) / (na + nb) for k in set(a) | set(b)}
    return 0.5 * sum(sigmas * math.sqrt(max(p * (1 - p), 1 / (na + nb)) * (1 / na + 1 / nb)) for p in pooled.values())


def seconds_between(earlier: datetime, later: datetime) -> float:
    """Seconds from one server-recorded timestamp to another."""
    return (later - earlier).total_seconds()


def noise_errors(noise_model) -> list[str]:
    """A noise model's errors, each as text without its random id, sorted: equal for equal noise."""
    return sorted(str(without_ids(error)) for error in noise_model.to_dict(serializable=True)["errors"])


def without_ids(value):
    """A dict of ``NoiseModel.to_dict(serializable=True)`` without its random error ids."""
    if isinstance(value, dict):
        return {key: without_ids(item) for key, item in value.items() if key != "id"}
    if isinstance(value, list):
        return [without_ids(item) for item in value]
    return value
