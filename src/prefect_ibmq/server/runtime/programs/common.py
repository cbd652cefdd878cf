"""What the sampler and estimator programs share: checking v2 primitive inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from ...config import BackendSpec
from ...limit_checks import check_count, check_width

#: The primitives' input version this service runs (``params["version"]``).
PRIMITIVE_VERSION = 2


class InvalidParams(ValueError):
    """Program parameters that cannot run; the message names the pub and the problem."""


def pub_list(params: Any) -> list[list[Any]]:
    """``params["pubs"]`` as a list of lists, after checking the envelope."""
    if not isinstance(params, Mapping):
        raise InvalidParams(f"params must be an object, got {type(params).__name__}")
    version = params.get("version", PRIMITIVE_VERSION)
    if version != PRIMITIVE_VERSION:
        raise InvalidParams(f"params.version={version!r} is not served; accepted: {PRIMITIVE_VERSION}")
    pubs = params.get("pubs")
    if not isinstance(pubs, list) or not pubs:
        raise InvalidParams("params.pubs must be a non-empty list of pubs")
    for index, pub in enumerate(pubs):
        if not isinstance(pub, list) or not pub or not isinstance(pub[0], QuantumCircuit):
            raise InvalidParams(f"pub {index} must be a list starting with a QuantumCircuit")
    options = params.get("options", {})
    if not isinstance(options, Mapping):
        raise InvalidParams(f"params.options must be an object, got {type(options).__name__}")
    return pubs


def options_of(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``options`` of a program's parameters ({} when absent)."""
    return params.get("options") or {}


def check_circuit(index: int, circuit: QuantumCircuit, spec: BackendSpec) -> None:
    """Refuse a pub's circuit wider than the backend (:class:`.limit_checks.OverLimit`)."""
    check_width(f"pub {index}: the circuit", circuit, spec)


def check_pub_count(pubs: list[Any], spec: BackendSpec) -> None:
    """Refuse more pubs than the backend's ``max_experiments`` (:class:`.limit_checks.OverLimit`)."""
    check_count(len(pubs), "pubs", spec)


def parameter_values(index: int, circuit: QuantumCircuit, values: Any) -> np.ndarray | None:
    """A pub's parameter values as the primitives take them (None for a circuit without parameters)."""
    if not circuit.parameters:
        if values is not None and np.size(values) not in (0,):
            raise InvalidParams(f"pub {index}: the circuit has no parameters but values were given")
        return None
    if values is None:
        names = sorted(p.name for p in circuit.parameters)
        raise InvalidParams(f"pub {index}: the circuit has parameters {names} but no values were given")
    array = np.asarray(values, dtype=float)
    if array.shape[-1:] != (circuit.num_parameters,):
        raise InvalidParams(
            f"pub {index}: parameter values of shape {array.shape} do not end in the circuit's "
            f"{circuit.num_parameters} parameters"
        )
    return array


def seed_from(options: Mapping[str, Any], fallback: int) -> int:
    """``options.simulator.seed_simulator`` if given, else the job's own seed."""
    simulator = options.get("simulator") or {}
    seed = simulator.get("seed_simulator") if isinstance(simulator, Mapping) else None
    return int(seed) if isinstance(seed, (int, np.integer)) else fallback
