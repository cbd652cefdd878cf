"""Program ``estimator``: EstimatorV2 pubs run on qiskit-aer's EstimatorV2.

A pub is ``[circuit, observables, parameter values, precision]``; the expectation values
are exact, and a precision > 0 adds that much Gaussian noise.
"""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit
from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2

from ...config import BackendSpec
from .common import InvalidParams, check_circuit, check_pub_count, options_of, parameter_values, pub_list, seed_from

PROGRAM_ID = "estimator"


def _pubs(params: Any, spec: BackendSpec) -> list[EstimatorPub]:
    raw = pub_list(params)
    check_pub_count(raw, spec)
    default_precision = options_of(params).get("default_precision") or 0.0
    pubs = []
    for index, item in enumerate(raw):
        if len(item) < 2:
            raise InvalidParams(f"pub {index}: an estimator pub needs observables after the circuit")
        circuit, observables = item[0], item[1]
        values = item[2] if len(item) > 2 else None
        precision = item[3] if len(item) > 3 and item[3] is not None else default_precision
        check_circuit(index, circuit, spec)
        if not isinstance(precision, (int, float)) or precision < 0:
            raise InvalidParams(f"pub {index}: precision={precision!r} must be a number >= 0")
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


def run(params: Any, spec: BackendSpec, aer: AerSimulator, seed: int) -> PrimitiveResult:
    """Run the pubs with EstimatorV2 on ``aer``, seeded."""
    pubs = _pubs(params, spec)
    options = {"run_options": {"seed_simulator": seed_from(options_of(params), seed)}}
    return EstimatorV2.from_backend(aer, options=options).run(pubs).result()
