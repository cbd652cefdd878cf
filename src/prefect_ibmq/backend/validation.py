"""Checks of ``IBMQBackend.run`` input, made before anything is sent.

Each failure raises ``IBMQValueError`` whose message names the bad value
and what is accepted; the checks of single arguments are :mod:`prefect_ibmq.arguments`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp

from prefect_ibmq.arguments import (
    check_bool,
    check_optional_dict,
    check_optional_str,
    check_tags,
    is_int,
    rejected,
)
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.wire import SHARE_LEVELS, BackendConfiguration


def circuit_list(circuits: QuantumCircuit | Sequence[QuantumCircuit]) -> list[QuantumCircuit]:
    """One circuit or a sequence of them as a non-empty list of QuantumCircuit."""
    batch = [circuits] if isinstance(circuits, QuantumCircuit) else circuits
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)):
        raise IBMQValueError(
            f"circuits must be a QuantumCircuit or a list of them, not {type(circuits).__name__}."
        )
    batch = list(batch)
    if not batch:
        raise IBMQValueError("circuits is empty; give at least one QuantumCircuit.")
    for index, circuit in enumerate(batch):
        if not isinstance(circuit, QuantumCircuit):
            raise IBMQValueError(
                f"circuits[{index}] is a {type(circuit).__name__}; only QuantumCircuit is accepted."
            )
    return batch


def checked_circuits(
    circuits: QuantumCircuit | Sequence[QuantumCircuit], configuration: BackendConfiguration, shots: Any = None
) -> list[QuantumCircuit]:
    """The circuits as a list, each checked against the backend (and ``shots``, when given)."""
    batch = circuit_list(circuits)
    check_each_circuit(batch, configuration)
    if shots is not None:
        check_shots(shots, configuration)
    return batch


def check_experiment_count(circuits: list[QuantumCircuit], configuration: BackendConfiguration) -> None:
    """At most ``max_experiments`` circuits in one job."""
    if len(circuits) > configuration.max_experiments:
        raise IBMQValueError(
            f"{len(circuits)} circuits exceed max_experiments={configuration.max_experiments} of "
            f"{configuration.backend_name}; split them into several jobs."
        )


def check_each_circuit(circuits: list[QuantumCircuit], configuration: BackendConfiguration) -> None:
    """Each circuit fits the backend's qubits and measures something."""
    for index, circuit in enumerate(circuits):
        if circuit.num_qubits > configuration.n_qubits:
            raise IBMQValueError(
                f"circuits[{index}] ({circuit.name!r}) has {circuit.num_qubits} qubits; "
                f"{configuration.backend_name} has n_qubits={configuration.n_qubits}."
            )
        if not _measures(circuit):
            raise IBMQValueError(
                f"circuits[{index}] ({circuit.name!r}) has no measurement, so it would have no counts; "
                "add measure() or measure_all()."
            )


def check_shots(shots: Any, configuration: BackendConfiguration) -> None:
    """Shots is an int in 1..max_shots."""
    if not is_int(shots) or not 1 <= shots <= configuration.max_shots:
        raise rejected("shots", shots, f"an int from 1 to max_shots={configuration.max_shots} of "
                       f"{configuration.backend_name}")


def check_job_fields(
    job_name: Any,
    job_tags: Any,
    share_level: Any,
    experiment_id: Any,
    header: Any,
    idempotency_key: Any,
    private: Any,
) -> None:
    """The descriptive fields of a job have the accepted types and values."""
    check_optional_str("job_name", job_name)
    check_optional_str("experiment_id", experiment_id)
    check_optional_str("idempotency_key", idempotency_key)
    check_tags("job_tags", job_tags)
    if share_level is not None and share_level not in SHARE_LEVELS:
        raise rejected("share_level", share_level, f"one of {list(SHARE_LEVELS)} or None")
    check_optional_dict("header", header)
    check_bool("private", private)


def _measures(circuit: QuantumCircuit) -> bool:
    """Whether the circuit measures anywhere, including inside control-flow blocks."""
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name == "measure":
            return True
        if isinstance(operation, ControlFlowOp) and any(_measures(block) for block in operation.blocks):
            return True
    return False
