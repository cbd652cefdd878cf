"""Program ``estimator``: EstimatorV2 pubs, estimated from shots on aer as IBM's estimator does.

A pub is ``[circuit, observables, parameter values, precision]``. Each runs
``ceil(1 / precision**2)`` shots per measurement basis (qiskit's ``BackendEstimatorV2``
on the backend's aer: the observables grouped into qubit-wise commuting sets, each set
measured in its basis), so ``evs`` carry shot noise and ``stds`` are the standard errors
of those shots. A pub without a precision takes ``options.default_shots`` when given,
else ``options.default_precision``, else IBM's default 0.015625 (4096 shots). Each
pub's metadata holds ``target_precision``, ``shots`` and ``circuit_metadata``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BackendEstimatorV2, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit_aer import AerSimulator

from ...config import BackendSpec
from ..codec import encode_result
from .common import InvalidParams, check_circuit, check_pub_count, options_of, parameter_values, pub_list, seed_from

PROGRAM_ID = "estimator"
#: IBM's default precision: 1 / sqrt(4096).
DEFAULT_PRECISION = 0.015625


def _default_precision(options: Mapping[str, Any]) -> float:
    shots = options.get("default_shots")
    if shots is not None:
        if not isinstance(shots, int) or shots < 1:
            raise InvalidParams(f"options.default_shots={shots!r} must be an integer >= 1")
        return math.sqrt(1.0 / shots)
    precision = options.get("default_precision")
    if precision is None:
        return DEFAULT_PRECISION
    if not isinstance(precision, (int, float)) or precision <= 0:
        raise InvalidParams(f"options.default_precision={precision!r} must be a number > 0")
    return float(precision)


def _pubs(params: Any, spec: BackendSpec) -> list[EstimatorPub]:
    raw = pub_list(params)
    check_pub_count(raw, spec)
    default_precision = _default_precision(options_of(params))
    pubs = []
    for index, item in enumerate(raw):
        if len(item) < 2:
            raise InvalidParams(f"pub {index}: an estimator pub needs observables after the circuit")
        circuit, observables = item[0], item[1]
        values = item[2] if len(item) > 2 else None
        precision = item[3] if len(item) > 3 and item[3] is not None else default_precision
        check_circuit(index, circuit, spec)
        if not isinstance(precision, (int, float)) or precision <= 0:
            raise InvalidParams(f"pub {index}: precision={precision!r} must be a number > 0")
        try:
            pub = EstimatorPub.coerce((circuit, observables, parameter_values(index, circuit, values), precision))
            pub.validate()
        except InvalidParams:
            raise
        except Exception as exc:  # qiskit's own checks (ValueError, TypeError, QiskitError)
            raise InvalidParams(f"pub {index}: {exc}") from exc
        pubs.append(pub)
    return pubs


def check(params: Any, spec: BackendSpec) -> list[QuantumCircuit]:
    """The pubs' circuits, once the parameters are checked (InvalidParams naming what is wrong)."""
    return [pub.circuit for pub in _pubs(params, spec)]


def run(params: Any, spec: BackendSpec, aer: AerSimulator, seed: int, dry_run: bool = False) -> str:
    """Estimate the pubs from shots on ``aer``, seeded; the result text.

    With ``dry_run`` nothing runs: ``evs`` are random in [-1, 1] with the shapes, ``stds`` and
    metadata a real run would give.
    """
    pubs = _pubs(params, spec)
    if dry_run:
        rng = np.random.default_rng(seed)
        return encode_result(PrimitiveResult([_mock(pub, rng) for pub in pubs], metadata={"version": 2}))
    options = {"seed_simulator": seed_from(options_of(params), seed)}
    return encode_result(BackendEstimatorV2(backend=aer, options=options).run(pubs).result())


def _mock(pub: EstimatorPub, rng: np.random.Generator) -> PubResult:
    shots = math.ceil(1.0 / pub.precision**2)
    evs = rng.uniform(-1.0, 1.0, pub.shape)
    stds = np.sqrt(1.0 - evs**2) / math.sqrt(shots)
    metadata = {"target_precision": pub.precision, "shots": shots, "circuit_metadata": pub.circuit.metadata}
    return PubResult(DataBin(evs=evs, stds=stds, shape=pub.shape), metadata=metadata)
