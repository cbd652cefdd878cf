"""Our simulated backends as IBM Quantum describes devices: list entry, configuration, properties, status.

The configuration says ``simulator: false``: the stock client opens a batch or a
session only on a backend that is not a simulator, and checks that circuits are
ISA circuits of the backend's target (as on IBM hardware). The published basis is
IBM's (``cx, id, rz, sx, x`` plus measure, reset, delay), so circuits are
transpiled for it as they would be for a real device; aer runs them either way.
Each function takes the ``name`` to publish: the backend's, or its mock twin's
(:mod:`.mock_backends`). A backend has one calibration, named by
:func:`calibration_id` in its properties.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..simulators import Simulator

#: The basis our devices publish (GenericBackendV2's default, an IBM Eagle-like set).
BASIS_GATES = ["cx", "id", "rz", "sx", "x"]
NON_UNITARY = ["measure", "reset", "delay"]
_ONE_QUBIT = {"id", "rz", "sx", "x", "measure", "reset", "delay"}
_PARAMETERS = {"rz": ["theta"]}
#: A fixed date: properties and configuration do not change between restarts.
ONLINE_DATE = "2024-01-01T00:00:00Z"


def calibration_id(simulator: Simulator) -> str:
    """The id of the backend's one calibration: the same for the same spec, on every server."""
    digest = hashlib.sha256(simulator.spec.model_dump_json().encode()).hexdigest()[:16]
    return f"{simulator.spec.name}-{digest}"


def device_entry(simulator: Simulator, pending: int, name: str | None = None, kind: str = "device") -> dict[str, Any]:
    """One item of ``GET /api/v1/backends``' ``devices`` (``kind``: ``device``, or ``mock`` for a twin)."""
    spec = simulator.spec
    return {
        "name": name or spec.name,
        "status": {"name": "online", "reason": "available"},
        "qubits": spec.n_qubits,
        # IBM: programmable qubits, reset qubits and couplers; a simulator has only the first.
        "physical_qubits": spec.n_qubits,
        "queue_length": pending,
        "processor_type": {"family": "prefect-ibmq", "revision": spec.kind},
        "performance_metrics": {},
        "class": kind,
    }


def _coupling(simulator: Simulator) -> list[list[int]] | None:
    return simulator.configuration.coupling_map


def configuration(simulator: Simulator, name: str | None = None) -> dict[str, Any]:
    """``GET /api/v1/backends/{name}/configuration``: a QasmBackendConfiguration as JSON."""
    spec = simulator.spec
    coupling = _coupling(simulator)
    gates = []
    for gate_name in BASIS_GATES:
        gate: dict[str, Any] = {"name": gate_name, "parameters": _PARAMETERS.get(gate_name, []), "qasm_def": ""}
        if coupling is not None:
            gate["coupling_map"] = [[q] for q in range(spec.n_qubits)] if gate_name in _ONE_QUBIT else coupling
        gates.append(gate)
    return {
        "backend_name": name or spec.name,
        "backend_version": simulator.configuration.backend_version,
        "description": simulator.configuration.description,
        "online_date": ONLINE_DATE,
        "n_qubits": spec.n_qubits,
        "basis_gates": BASIS_GATES,
        "supported_instructions": BASIS_GATES + NON_UNITARY,
        "gates": gates,
        "coupling_map": coupling,
        "local": False,
        "simulator": False,
        "conditional": False,
        "open_pulse": False,
        "memory": True,
        "max_shots": spec.max_shots,
        "max_experiments": spec.max_experiments,
        "dynamic_reprate_enabled": False,
        "rep_delay_range": [0.0, 500.0],
        "default_rep_delay": 250.0,
        "processor_type": {"family": "prefect-ibmq", "revision": spec.kind},
        "supported_features": ["qasm3"],
    }


def properties(simulator: Simulator, name: str | None = None) -> dict[str, Any]:
    """``GET /api/v1/backends/{name}/properties``: BackendProperties JSON.

    An ideal backend has error-free qubits and no gate entries (its gates act on every
    qubit pair). Never an empty answer: the client does not cache one and asks again on
    every attribute it reads.
    """
    noise = simulator.configuration.properties or {
        "qubits": [{"readout_error": 0.0} for _ in range(simulator.spec.n_qubits)],
        "gates": [],
    }

    def nduv(name: str, value: Any, unit: str) -> dict[str, Any]:
        return {"date": ONLINE_DATE, "name": name, "unit": unit, "value": value}

    qubits = []
    for qubit in noise["qubits"]:
        entries = []
        for key, name, unit, scale in (
            ("t1", "T1", "us", 1e6),
            ("t2", "T2", "us", 1e6),
            ("frequency", "frequency", "GHz", 1e-9),
        ):
            if qubit.get(key) is not None:
                entries.append(nduv(name, qubit[key] * scale, unit))
        if qubit.get("readout_error") is not None:
            entries.append(nduv("readout_error", qubit["readout_error"], ""))
        qubits.append(entries)
    gates = []
    for gate in noise["gates"]:
        parameters = []
        if gate.get("error") is not None:
            parameters.append(nduv("gate_error", gate["error"], ""))
        if gate.get("duration") is not None:
            parameters.append(nduv("gate_length", gate["duration"] * 1e9, "ns"))
        gates.append({"gate": gate["gate"], "qubits": gate["qubits"], "parameters": parameters})
    return {
        "backend_name": name or simulator.spec.name,
        "backend_version": simulator.configuration.backend_version,
        "calibration_id": calibration_id(simulator),
        "last_update_date": ONLINE_DATE,
        "qubits": qubits,
        "gates": gates,
        "general": [],
    }


def status(simulator: Simulator, pending: int) -> dict[str, Any]:
    """``GET /api/v1/backends/{name}/status``."""
    return {
        "state": True,
        "status": "active",
        "message": "available",
        "length_queue": pending,
        "backend_version": simulator.configuration.backend_version,
    }
