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
Decoding request input is bounded (:class:`DecodeBudget`): compressed values are
inflated with ``zlib.decompressobj(max_length)`` within one budget of bytes for the
whole job, a circuit's QPY is walked (:func:`~prefect_ibmq.server.qpyscan.scan_qpy`)
before ``qpy.load``, and an array's ``.npy`` header is read before ``np.load``, so a
few kilobytes can no longer ask for gigabytes.
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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qpy
from qiskit.primitives import BitArray, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers import SamplerPubResult

from ..qpyscan import QpyBounds, QpyRefused, scan_qpy


class UnsupportedValue(ValueError):
    """A tagged value this service does not decode, or one that is malformed or past a bound."""


@dataclass
class DecodeBudget:
    """What the tagged values of one job may cost: inflated bytes in all, and each circuit's QPY bounds."""

    max_bytes: int
    circuit: QpyBounds
    inflated: int = 0
    instructions: int = 0

    def take(self, size: int, what: str) -> None:
        """Charge ``size`` inflated bytes; UnsupportedValue once the job's budget is spent."""
        self.inflated += size
        if self.inflated > self.max_bytes:
            raise UnsupportedValue(
                f"{what} would inflate the job's values past limits.max_decompressed_bytes={self.max_bytes}"
            )

    @property
    def left(self) -> int:
        """Inflated bytes still allowed."""
        return max(0, self.max_bytes - self.inflated)


def decode_params(text: str | bytes, budget: DecodeBudget | None = None) -> Any:
    """The program parameters of a ``POST /jobs`` body, with tagged values decoded.

    ``budget`` bounds a request's values; without one (parameters already checked at
    submission, decoded again to run) nothing is bounded.
    """
    try:
        return json.loads(text, object_hook=lambda obj: _decode_tagged(obj, budget))
    except RecursionError:
        raise UnsupportedValue("the parameters nest too deeply") from None


def _decode_tagged(obj: dict[str, Any], budget: DecodeBudget | None) -> Any:
    if "__type__" not in obj:
        return obj
    kind = obj["__type__"]
    value: Any = obj.get("__value__")  # any JSON; a malformed one fails below, named
    try:
        if kind == "QuantumCircuit":
            data = _unpack(kind, value, budget)
            if budget is not None:
                summary = scan_qpy(data, budget.circuit)
                budget.instructions += summary.instructions
                if budget.instructions > budget.circuit.max_instructions:
                    raise UnsupportedValue(
                        f"the job's circuits hold more than limits.max_instructions_per_job="
                        f"{budget.circuit.max_instructions} instructions"
                    )
            circuits = qpy.load(io.BytesIO(data))
            if len(circuits) != 1 or not isinstance(circuits[0], QuantumCircuit):
                raise UnsupportedValue("a QuantumCircuit value must hold exactly one circuit")
            return circuits[0]
        if kind == "ndarray":
            if isinstance(value, (int, list)):
                return np.array(value)
            data = _unpack(kind, value, budget)
            if budget is not None:
                _check_npy(data)
            return np.load(io.BytesIO(data), allow_pickle=False)
        if kind == "complex":
            return complex(value[0], value[1])
        if kind == "set":
            return set(value)
        if kind == "datetime":
            return datetime.fromisoformat(value)
    except UnsupportedValue:
        raise
    except QpyRefused as exc:
        raise UnsupportedValue(f"{kind} value: {exc}") from None
    except Exception as exc:  # QPY, numpy and base64 raise many types for malformed data
        raise UnsupportedValue(f"malformed {kind} value: {type(exc).__name__}: {exc}") from exc
    raise UnsupportedValue(
        f"values of __type__ {kind!r} are not accepted; accepted: QuantumCircuit, ndarray, complex, set, datetime"
    )


def _unpack(kind: str, value: Any, budget: DecodeBudget | None) -> bytes:
    """base64 of zlib data -> the data, inflated no further than the budget allows."""
    if not isinstance(value, str):
        raise UnsupportedValue(f"malformed {kind} value: expected a base64 string, got {type(value).__name__}")
    try:
        packed = base64.b64decode(value, validate=True)
        if budget is None:
            return zlib.decompress(packed)
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, budget.left + 1)  # one byte more says "too much"
    except (binascii.Error, zlib.error) as exc:
        raise UnsupportedValue(f"malformed {kind} value: not base64 of zlib data: {exc}") from exc
    budget.take(len(data) + len(inflater.unconsumed_tail), f"a {kind} value")
    if not inflater.eof:
        raise UnsupportedValue(f"malformed {kind} value: the zlib data is truncated")
    return data


def _check_npy(data: bytes) -> None:
    """Refuse an ``.npy`` whose header claims more bytes than it carries, before ``np.load`` allocates them."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise UnsupportedValue(f"ndarray values in .npy format {version} are not accepted; accepted: 1.0, 2.0")
    shape, _, dtype = readers[version](stream)
    if dtype.hasobject:
        raise UnsupportedValue("ndarray values of Python objects are not accepted")
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    carried = len(data) - stream.tell()
    if claimed != carried:
        raise UnsupportedValue(f"malformed ndarray value: its header claims {claimed} bytes, it carries {carried}")


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
