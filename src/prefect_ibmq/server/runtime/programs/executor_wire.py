"""The ``executor`` program's inputs and outputs on the wire: schema v2.0, our own reading of it.

The stock client (``qiskit_ibm_runtime.quantum_program.converters.converters_2_0``) sends
a ``QuantumProgram`` as plain JSON (no ``__type__`` tags)::

    {"schema_version": "v2.0",
     "quantum_program": {"shots", "circuits": {"b64_data": base64(zlib(QPY of every item's circuit)),
                                               "qpy_version", "num_programs"},
                         "items": [{"item_type": "circuit", "circuit_arguments": TENSOR, "shape", "chunk_size"}
                                   | {"item_type": "samplex", "samplex": {"ssv", "samplex_json"},
                                      "samplex_arguments": {name: TENSOR | bool | int | PAULI_LINDBLAD_MAP},
                                      "shape", "chunk_size"}],
                         "meas_level", "passthrough_data", "semantic_role"},
     "options": {"init_qubits", "rep_delay", "scheduler_timing", "stretch_values", "experimental"}}

    TENSOR = {"data": base64(zlib(little-endian C-order bytes; bools bit-packed, little bit order)),
              "shape": [...], "dtype": "f64" | "bool" | "u8" | ...}

Fields we do not know are refused (a 400 naming them), so a newer client's feature is
never silently dropped. Every compressed part is decompressed with a bound: a tensor to
exactly the size its shape and dtype give, the QPY blob to :data:`MAX_QPY_BYTES`. The
result goes back as ``QuantumProgramResultModel`` v2.0 (:func:`tensor`), which the client's
``ExecutorResultDecoder`` reads; ``passthrough_data`` and ``semantic_role`` are echoed.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import zlib
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from qiskit import QuantumCircuit, qpy

from .common import InvalidParams

SCHEMA_VERSION = "v2.0"
#: The most bytes the circuits' QPY may decompress to (the default request body bound).
MAX_QPY_BYTES = 64 * 1024 * 1024
#: dtype names of the wire -> numpy little-endian dtypes (bool is bit-packed, handled apart).
DTYPES = {
    "f16": "<f2", "f32": "<f4", "f64": "<f8", "i8": "<i1", "i16": "<i2", "i32": "<i4", "i64": "<i8",
    "u8": "<u1", "u16": "<u2", "u32": "<u4", "u64": "<u8", "c64": "<c8", "c128": "<c16", "bool": "|b1",
}
_NAMES = {np.dtype(code).newbyteorder("<"): name for name, code in DTYPES.items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TensorWire(_Strict):
    """A compressed tensor."""

    data: str
    shape: list[Annotated[int, Field(ge=0)]]
    dtype: Literal["f16", "f32", "f64", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "c64", "c128", "bool"]


class QpyWire(_Strict):
    """Every item's circuit, in one compressed QPY file."""

    b64_data: str
    qpy_version: int = Field(ge=10)
    num_programs: int = Field(ge=1)


class SamplexWire(_Strict):
    """A samplex, as samplomatic serialises it."""

    ssv: int = Field(ge=1)
    samplex_json: str


class PauliLindbladWire(_Strict):
    """A sparse Pauli-Lindblad map (a noise model for samplex noise injection)."""

    sparse_terms: list[tuple[str, list[int], float]]
    num_qubits: int = Field(ge=0)


class CircuitItemWire(_Strict):
    """A circuit and its parameter values (last axis: the circuit's parameters)."""

    item_type: Literal["circuit"] = "circuit"
    circuit_arguments: TensorWire
    shape: list[Annotated[int, Field(ge=0)]]
    chunk_size: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"


class SamplexItemWire(_Strict):
    """A template circuit and the samplex that randomises its parameters."""

    item_type: Literal["samplex"] = "samplex"
    samplex: SamplexWire
    samplex_arguments: dict[str, bool | int | PauliLindbladWire | TensorWire]
    shape: list[Annotated[int, Field(ge=0)]]
    chunk_size: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"


class QuantumProgramWire(_Strict):
    """The program: shots for every bound circuit, its circuits and items."""

    shots: int = Field(ge=1)
    circuits: QpyWire
    items: list[Annotated[CircuitItemWire | SamplexItemWire, Field(discriminator="item_type")]] = Field(min_length=1)
    semantic_role: str | None = None
    meas_level: Literal["classified", "kerneled", "avg_kerneled", "both"] = "classified"
    passthrough_data: JsonValue = None

    @model_validator(mode="after")
    def _consistent(self) -> QuantumProgramWire:
        if self.circuits.num_programs != len(self.items):
            raise ValueError(
                f"there must be one circuit per item: {self.circuits.num_programs} circuits, {len(self.items)} items"
            )
        sizes = {item.chunk_size for item in self.items}
        if "auto" in sizes and len(sizes) > 1:
            raise ValueError("chunk_size must be 'auto' for every item or an integer for every item")
        return self


class OptionsWire(_Strict):
    """Execution options."""

    init_qubits: bool = True
    rep_delay: float | None = None
    scheduler_timing: bool = False
    stretch_values: bool = False
    experimental: dict[str, JsonValue] = Field(default_factory=dict)


class ParamsWire(_Strict):
    """``params`` of an executor job."""

    schema_version: Literal["v2.0"]
    quantum_program: QuantumProgramWire
    options: OptionsWire = Field(default_factory=OptionsWire)


def parse(params: Any) -> ParamsWire:
    """The params' structure, checked (nothing decompressed yet); InvalidParams naming what is wrong."""
    if isinstance(params, dict) and params.get("schema_version") != SCHEMA_VERSION:
        raise InvalidParams(
            f"schema_version={params.get('schema_version')!r} is not served; accepted: {SCHEMA_VERSION!r}"
        )
    try:
        return ParamsWire.model_validate(params)
    except ValueError as exc:  # pydantic's ValidationError names each field
        raise InvalidParams(str(exc)) from exc


def _inflate(text: str, limit: int, what: str) -> bytes:
    try:
        packed = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, limit + 1)
    except (binascii.Error, zlib.error) as exc:
        raise InvalidParams(f"{what}: not base64 of zlib data: {exc}") from exc
    if len(raw) > limit or inflater.unconsumed_tail:
        raise InvalidParams(f"{what}: decompresses to more than {limit} bytes")
    return raw


def array(wire: TensorWire, what: str, max_bytes: int) -> np.ndarray:
    """A tensor as a numpy array; its size is checked against ``max_bytes`` before decompressing."""
    count = math.prod(wire.shape)
    size = math.ceil(count / 8) if wire.dtype == "bool" else count * np.dtype(DTYPES[wire.dtype]).itemsize
    if size > max_bytes:
        raise InvalidParams(f"{what}: a {wire.dtype} tensor of shape {wire.shape} is over {max_bytes} bytes")
    raw = _inflate(wire.data, size, what)
    if len(raw) != size:
        raise InvalidParams(f"{what}: {len(raw)} bytes do not hold a {wire.dtype} tensor of shape {wire.shape}")
    if wire.dtype == "bool":
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=count, bitorder="little")
        return bits.astype(bool).reshape(wire.shape)
    return np.frombuffer(raw, dtype=DTYPES[wire.dtype]).reshape(wire.shape)


def circuits(wire: QpyWire) -> list[QuantumCircuit]:
    """The items' circuits."""
    raw = _inflate(wire.b64_data, MAX_QPY_BYTES, "quantum_program.circuits")
    try:
        loaded = qpy.load(io.BytesIO(raw))
    except Exception as exc:  # QPY raises many types for malformed or unsupported data
        raise InvalidParams(f"quantum_program.circuits: not a QPY file: {type(exc).__name__}: {exc}") from exc
    if len(loaded) != wire.num_programs or not all(isinstance(c, QuantumCircuit) for c in loaded):
        raise InvalidParams(f"quantum_program.circuits must hold {wire.num_programs} circuits")
    return list(loaded)


def tensor(values: np.ndarray) -> dict[str, Any]:
    """A numpy array as the result's compressed tensor."""
    dtype = _NAMES.get(values.dtype.newbyteorder("<"))
    if dtype is None:
        raise TypeError(f"no wire dtype for {values.dtype}")
    if dtype == "bool":
        data = np.packbits(values.reshape(-1), bitorder="little").tobytes()
    else:
        data = np.ascontiguousarray(values, dtype=DTYPES[dtype]).tobytes()
    encoded = base64.standard_b64encode(zlib.compress(data)).decode("ascii")
    return {"data": encoded, "shape": list(values.shape), "dtype": dtype}
