"""The JSON wire format of qiskit-ibm-runtime (``RuntimeEncoder`` / ``RuntimeDecoder``), our own subset.

Why not the client's own ``RuntimeDecoder``: the job service must not need the client
installed, and that decoder reaches far beyond primitive inputs (it builds objects
named by the payload: ``settings``, ``_json``, ``to_json`` and noise-learner types).
A server decoding requests from the network should build only what a sampler or
estimator job needs, so this module knows exactly these tagged values::

    {"__type__": "QuantumCircuit", "__value__": base64(zlib(QPY))}
    {"__type__": "ndarray", "__value__": base64(zlib(np.save)) | nested list}
    {"__type__": "complex" | "set" | "datetime", ...}

and refuses any other ``__type__`` with :class:`UnsupportedValue` (a 400 naming it).
Results go back the other way (:func:`encode_result`): ``PrimitiveResult``,
``SamplerPubResult`` / ``EstimatorPubResult``, ``DataBin``, ``BitArray`` and
``ndarray``, which the stock client's ``RuntimeDecoder`` turns into qiskit's
containers. The tests check both directions against the stock client.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import zlib
from datetime import datetime
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qpy
from qiskit.primitives import BitArray, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers import SamplerPubResult


class UnsupportedValue(ValueError):
    """A tagged value this service does not decode, or one that is malformed."""


def decode_params(text: str | bytes) -> Any:
    """The program parameters of a ``POST /jobs`` body, with tagged values decoded."""
    return json.loads(text, object_hook=_decode_tagged)


def _decode_tagged(obj: dict[str, Any]) -> Any:
    if "__type__" not in obj:
        return obj
    kind = obj["__type__"]
    value: Any = obj.get("__value__")  # any JSON; a malformed one fails below, named
    try:
        if kind == "QuantumCircuit":
            circuits = qpy.load(io.BytesIO(_unpack(kind, value)))
            if len(circuits) != 1 or not isinstance(circuits[0], QuantumCircuit):
                raise UnsupportedValue("a QuantumCircuit value must hold exactly one circuit")
            return circuits[0]
        if kind == "ndarray":
            if isinstance(value, (int, list)):
                return np.array(value)
            return np.load(io.BytesIO(_unpack(kind, value)), allow_pickle=False)
        if kind == "complex":
            return complex(value[0], value[1])
        if kind == "set":
            return set(value)
        if kind == "datetime":
            return datetime.fromisoformat(value)
    except UnsupportedValue:
        raise
    except Exception as exc:  # QPY, numpy and base64 raise many types for malformed data
        raise UnsupportedValue(f"malformed {kind} value: {type(exc).__name__}: {exc}") from exc
    raise UnsupportedValue(
        f"values of __type__ {kind!r} are not accepted; accepted: QuantumCircuit, ndarray, complex, set, datetime"
    )


def _unpack(kind: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise UnsupportedValue(f"malformed {kind} value: expected a base64 string, got {type(value).__name__}")
    try:
        return zlib.decompress(base64.b64decode(value, validate=True))
    except (binascii.Error, zlib.error) as exc:
        raise UnsupportedValue(f"malformed {kind} value: not base64 of zlib data: {exc}") from exc


# --- results ---------------------------------------------------------------------------------------------


def encode_result(result: PrimitiveResult) -> str:
    """A primitive result as the text ``GET /jobs/{id}/results`` answers."""
    return json.dumps(result, default=_encode_value, separators=(",", ":"))


def _tagged(kind: str, value: Any) -> dict[str, Any]:
    return {"__type__": kind, "__value__": value}


def _encode_value(obj: Any) -> Any:
    if isinstance(obj, PrimitiveResult):
        return _tagged("PrimitiveResult", {"pub_results": list(obj), "metadata": obj.metadata})
    if isinstance(obj, SamplerPubResult):
        return _tagged("SamplerPubResult", {"data": obj.data, "metadata": obj.metadata})
    if isinstance(obj, PubResult):
        # The client rebuilds estimator results as EstimatorPubResult (same fields).
        return _tagged("EstimatorPubResult", {"data": obj.data, "metadata": obj.metadata})
    if isinstance(obj, DataBin):
        fields = dict(obj.items())
        return _tagged("DataBin", {"field_names": list(fields), "shape": list(obj.shape), "fields": fields})
    if isinstance(obj, BitArray):
        return _tagged("BitArray", {"array": obj.array, "num_bits": obj.num_bits})
    if isinstance(obj, np.ndarray):
        buffer = io.BytesIO()
        np.save(buffer, obj, allow_pickle=False)
        return _tagged("ndarray", base64.standard_b64encode(zlib.compress(buffer.getvalue())).decode("ascii"))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, complex):
        return _tagged("complex", [obj.real, obj.imag])
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)  # metadata only: never fail a finished job on an odd value
