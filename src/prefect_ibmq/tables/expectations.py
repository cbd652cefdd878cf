"""``expectation_frame``: estimator results (``PrimitiveResult`` of ``EstimatorPubResult``) as a table.

One row per PUB, observable and parameter set. A PUB's observables and
parameter values broadcast together (EstimatorV2 rules), so each value of
``evs`` is traced back to the observable and the parameter set it belongs to.
Pure pandas + numpy + qiskit (no ``qiskit_ibm_runtime``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Where a fetched estimator result keeps its job id, backend and PUBs as sent.
METADATA_KEY = "prefect_ibmq"

EXPECTATION_COLUMNS: dict[str, Any] = {
    "job_id": "str",
    "pub": "int64",
    "circuit": "str",
    "parameter_set": "int64",
    "parameters": object,
    "observable": "str",
    "value": "float64",
    "std": "float64",
}


def expectation_frame(result: Any, pubs: Sequence[Any] | None = None, job_id: str | None = None) -> pd.DataFrame:
    """One row per PUB, observable and parameter set of an estimator result.

    Args:
        result: A ``PrimitiveResult`` of EstimatorV2 (or a list of them; None skipped).
        pubs: The PUBs the result answers (EstimatorPub or anything ``EstimatorPub.coerce``
            takes), to label observables and parameter sets; by default the PUBs a result
            fetched by prefect-ibmq carries (as sent: observables on physical qubits).
        job_id: The job's id; by default the one a fetched result carries.

    Returns:
        Columns ``job_id, pub, circuit, parameter_set`` (index of the parameter set in the
        PUB, 0 without parameters), ``parameters`` (its values as a list),
        ``observable`` (label, e.g. ``ZZ`` or ``0.5*XX + 0.5*YY``), ``value``, ``std``.

    Examples:
        >>> frame = expectation_frame(job.result(), pubs=[(bell, ["ZZ", "XX"])])
    """
    if result is None or type(result).__name__ != "PrimitiveResult" and isinstance(result, list):
        parts = [expectation_frame(r, pubs, job_id) for r in (result or []) if r is not None]
        return pd.concat(parts, ignore_index=True) if parts else _empty()
    carried = (getattr(result, "metadata", None) or {}).get(METADATA_KEY) or {}
    pubs = pubs if pubs is not None else carried.get("pubs")
    job_id = job_id if job_id is not None else carried.get("job_id")
    columns: dict[str, list[Any]] = {name: [] for name in EXPECTATION_COLUMNS}
    for index, pub_result in enumerate(result):
        pub = _coerce(pubs[index]) if pubs is not None and index < len(pubs) else None
        _add_pub(columns, index, pub_result, pub)
    if not columns["pub"]:
        return _empty()
    frame = pd.DataFrame(columns)
    frame["job_id"] = job_id
    return frame.astype({name: dtype for name, dtype in EXPECTATION_COLUMNS.items() if dtype is not object})


def observable_label(observable: Any) -> str:
    """``ZZ`` for one Pauli with coefficient 1, else ``c1*P1 + c2*P2`` (observable as a dict or SparsePauliOp)."""
    terms = observable.items() if isinstance(observable, dict) else zip(*_sparse_terms(observable), strict=False)
    labels = [pauli if complex(coeff) == 1 else f"{_number(coeff)}*{pauli}" for pauli, coeff in terms]
    return " + ".join(labels)


def _add_pub(columns: dict[str, list[Any]], index: int, pub_result: Any, pub: Any) -> None:
    evs = np.asarray(pub_result.data.evs, dtype=float)
    stds = np.broadcast_to(np.asarray(getattr(pub_result.data, "stds", np.nan), dtype=float), evs.shape)
    if pub is not None:
        observables = np.broadcast_to(_labels(pub.observables), evs.shape)
        values = pub.parameter_values.as_array()
        n_sets = int(np.prod(pub.parameter_values.shape, dtype=int))
        set_index = np.broadcast_to(np.arange(n_sets).reshape(pub.parameter_values.shape), evs.shape)
        flat_values = values.reshape(n_sets, -1) if n_sets else values.reshape(1, 0)
        circuit = pub.circuit.name
    else:
        observables = np.broadcast_to(np.array(None, dtype=object), evs.shape)
        set_index, flat_values, circuit = np.zeros(evs.shape, dtype=int), np.zeros((1, 0)), None
    for position in np.ndindex(evs.shape):
        columns["job_id"].append(None)
        columns["pub"].append(index)
        columns["circuit"].append(circuit)
        columns["parameter_set"].append(int(set_index[position]))
        columns["parameters"].append(flat_values[int(set_index[position])].tolist() if len(flat_values) else [])
        columns["observable"].append(observables[position])
        columns["value"].append(float(evs[position]))
        columns["std"].append(float(stds[position]))


def _labels(observables: Any) -> np.ndarray:
    labels = np.empty(observables.shape, dtype=object)
    for position in np.ndindex(observables.shape):
        labels[position] = observable_label(observables[position])
    return labels


def _coerce(pub: Any) -> Any:
    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    return EstimatorPub.coerce(tuple(pub) if isinstance(pub, list) else pub)


def _sparse_terms(observable: Any) -> tuple[list[str], list[complex]]:
    return list(observable.paulis.to_labels()), list(observable.coeffs)


def _number(coeff: Any) -> str:
    value = complex(coeff)
    return f"{value.real:g}" if value.imag == 0 else f"{value:g}"


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in EXPECTATION_COLUMNS.items()})
