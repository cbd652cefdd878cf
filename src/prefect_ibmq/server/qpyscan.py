"""What a QPY file claims, read from its structure before ``qpy.load`` builds anything.

``qpy.load`` allocates what the headers claim: a 267-byte file whose circuit
header says 1,000,000 qubits costs ~300 MiB before any check can run, and so
does a control-flow block nested inside a valid circuit. :func:`scan_qpy` walks
the file as the QPY specification lays it out (versions 13 to the one this Qiskit
writes, those Qiskit's fast reader takes), without building a circuit: every
circuit at any depth (the job's, control-flow blocks, gate definitions) has its
width, classical bits, registers and metadata checked against
:class:`QpyBounds`, instructions are counted over the whole job, and every
length field must be backed by the bytes that follow. A file that breaks a
bound, or whose structure does not add up, is refused with
:class:`QpyRefused` naming what; the walk reads each byte at most once and
allocates nothing in proportion to a claimed count.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from qiskit.qpy import common as qpy_common

from .limit_checks import too_many, too_wide

#: The QPY versions walked here: Qiskit's fast reader starts at 13.
OLDEST_VERSION = 13
NEWEST_VERSION = qpy_common.QPY_VERSION

_FILE_HEADER = struct.Struct("!6sBBBBQc")
_U8, _U16, _U32, _U64 = struct.Struct("!B"), struct.Struct("!H"), struct.Struct("!I"), struct.Struct("!Q")
_I32 = struct.Struct("!i")
_CIRCUIT_HEADER = struct.Struct("!H1cHIIQIQI")
_REGISTER = struct.Struct("!1c?IH?")
_REGISTER_V18 = struct.Struct("!1c?IH?c")
_VAR_DECLARATION = struct.Struct("!16scH")
_ANNOTATION_STATE = struct.Struct("!IQ")
_VECTOR = struct.Struct("!HQ16s")
_CUSTOM_DEFINITION = struct.Struct("!H1cII?QIIQ")
_INSTRUCTION = struct.Struct("!HHHIIBHqII")
_PARAM = struct.Struct("!1cQ")
_ANNOTATION = struct.Struct("!IQ")
_LAYOUT = struct.Struct("!?iiiIi")
_INITIAL_BIT = struct.Struct("!ii")
#: EXPR_TYPE codes and the bytes of their payload.
_EXPR_TYPE_PAYLOAD = {b"b": 0, b"u": 4, b"f": 0, b"d": 0}
#: Custom definitions whose payload is not a circuit.
_PAULI_EVOLUTION = b"###PauliEvolutionGate_"


class QpyRefused(ValueError):
    """A QPY file this server will not decode; the message names why."""


class QpyMalformed(QpyRefused):
    """A QPY file whose structure does not add up (truncated, unknown codes, stray bytes)."""


class QpyOverLimit(QpyRefused):
    """A QPY file that claims more than a bound allows (the message names the bound)."""


@dataclass(frozen=True)
class QpyBounds:
    """What a job's QPY may claim (the backend's width and the server's limits)."""

    max_circuits: int
    max_qubits: int
    max_clbits: int
    max_instructions: int
    max_nesting: int
    max_metadata_bytes: int
    #: The names messages give the bounds on circuits and on width, and whose bounds they are.
    circuits_bound: str = "max_circuits"
    qubits_bound: str = "n_qubits"
    owner: str = "the backend"


@dataclass
class QpySummary:
    """What the walk found: per top-level circuit its qubits and classical bits, and all instructions."""

    version: int
    qubits: list[int] = field(default_factory=list)
    clbits: list[int] = field(default_factory=list)
    instructions: int = 0


class _Reader:
    """A cursor over ``data[pos:end]``: every read past ``end`` is malformed."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def unpack(self, layout: struct.Struct) -> tuple:
        start = self.pos
        self.pos = start + layout.size
        if self.pos > self.end:
            raise QpyMalformed(f"truncated QPY: {layout.size} bytes wanted at offset {start}")
        return layout.unpack_from(self.data, start)

    def skip(self, size: int) -> int:
        """Skip ``size`` bytes; returns where they started."""
        start = self.pos
        if size < 0 or start + size > self.end:
            raise QpyMalformed(f"truncated QPY: a field of {size} bytes at offset {start} runs past its end")
        self.pos = start + size
        return start

    def sub(self, size: int) -> _Reader:
        """The next ``size`` bytes as a reader of their own (a nested payload)."""
        start = self.skip(size)
        return _Reader(self.data, start, start + size)

    def finish(self, what: str) -> None:
        if self.pos != self.end:
            raise QpyMalformed(f"malformed QPY: {self.end - self.pos} unexpected bytes after {what}")


def scan_qpy(data: bytes, bounds: QpyBounds) -> QpySummary:
    """Walk a QPY file of circuits; :class:`QpyRefused` if it breaks ``bounds`` or is malformed."""
    if len(data) < _FILE_HEADER.size + 1 or data[:6] != b"QISKIT":
        raise QpyMalformed("not a QPY file: it does not start with the QPY header")
    version = data[6]
    if not OLDEST_VERSION <= version <= NEWEST_VERSION:
        raise QpyMalformed(
            f"QPY version {version} is not accepted: this server reads versions {OLDEST_VERSION}..{NEWEST_VERSION} "
            "(qpy.dump of Qiskit >= 1.3 writes one)"
        )
    reader = _Reader(data, 0, len(data))
    count = reader.unpack(_FILE_HEADER)[5]
    if count > bounds.max_circuits:
        raise QpyOverLimit(too_many(count, "circuits", bounds.owner, bounds.circuits_bound, bounds.max_circuits))
    if data[reader.skip(1) : reader.pos] != b"q":
        raise QpyMalformed("the QPY file holds no circuits (its type key is not 'q')")
    walk = _Walk(version, bounds)
    if version >= 16:  # a table of where each circuit starts
        offsets = [reader.unpack(_U64)[0] for _ in range(count)]
        ends = offsets[1:] + [len(data)] if offsets else []
        for index, (start, end) in enumerate(zip(offsets, ends, strict=True)):
            if not reader.pos <= start <= end <= len(data):
                raise QpyMalformed(f"malformed QPY: circuit {index} starts at {start}, outside the file")
            walk.top_level(_Reader(data, start, end), index)
            reader.pos = end
    else:
        for index in range(count):
            walk.top_level(reader, index)
    reader.finish("the last circuit")
    return walk.summary


class _Walk:
    """One walk over a file: the bounds, the version's layouts and the running totals."""

    def __init__(self, version: int, bounds: QpyBounds) -> None:
        self.version = version
        self.bounds = bounds
        self.summary = QpySummary(version)

    def top_level(self, reader: _Reader, index: int) -> None:
        qubits, clbits = self.circuit(reader, f"circuit {index}", depth=0)
        if self.version >= 16:
            reader.finish(f"circuit {index}")
        self.summary.qubits.append(qubits)
        self.summary.clbits.append(clbits)

    # --- one circuit -----------------------------------------------------------------

    def circuit(self, reader: _Reader, label: str, depth: int) -> tuple[int, int]:
        bounds = self.bounds
        if depth > bounds.max_nesting:
            raise QpyOverLimit(f"{label} nests circuits deeper than limits.max_circuit_nesting={bounds.max_nesting}")
        name_size, _, phase_size, qubits, clbits, metadata, registers, instructions, variables = reader.unpack(
            _CIRCUIT_HEADER
        )
        if qubits > bounds.max_qubits:
            raise QpyOverLimit(too_wide(label, qubits, bounds.owner, bounds.qubits_bound, bounds.max_qubits))
        if clbits > bounds.max_clbits:
            raise QpyOverLimit(f"{label} claims {clbits} classical bits; limits.max_clbits={bounds.max_clbits}")
        if metadata > bounds.max_metadata_bytes:
            raise QpyOverLimit(
                f"{label} has {metadata} bytes of metadata; limits.max_metadata_bytes={bounds.max_metadata_bytes}"
            )
        self.summary.instructions += instructions
        if self.summary.instructions > bounds.max_instructions:
            raise QpyOverLimit(
                f"the job holds more than limits.max_instructions_per_job={bounds.max_instructions} instructions "
                f"({label} claims {instructions})"
            )
        reader.skip(name_size + phase_size + metadata)
        for _ in range(registers):
            self.register(reader, label)
        for _ in range(variables):
            reader.skip(reader.unpack(_VAR_DECLARATION)[2] + self.expr_type(reader))
        if self.version >= 15:
            for _ in range(reader.unpack(_U32)[0]):  # annotation namespaces and their states
                namespace, state = reader.unpack(_ANNOTATION_STATE)
                reader.skip(namespace + state)
        if self.version >= 18:
            for _ in range(reader.unpack(_U16)[0]):  # the parameter vector table
                reader.skip(reader.unpack(_VECTOR)[0])
        for _ in range(reader.unpack(_U64)[0]):
            self.custom_definition(reader, label, depth)
        self.instructions(reader, instructions, label, depth)
        if self.version < 18 and reader.unpack(_U16)[0]:
            raise QpyMalformed(f"{label} has pulse calibrations, which Qiskit 2 no longer loads")
        self.layout(reader, label)
        return qubits, clbits

    def register(self, reader: _Reader, label: str) -> None:
        if self.version >= 18:
            _, _, size, name_size, _, attached = reader.unpack(_REGISTER_V18)
            indices = 1 if attached == b"\x01" else size
            width = 4
        else:
            _, _, size, name_size, _ = reader.unpack(_REGISTER)
            indices, width = size, 8
        widest = max(self.bounds.max_qubits, self.bounds.max_clbits)
        if size > widest:
            raise QpyOverLimit(f"{label} has a register of {size} bits, more than any circuit here may have")
        reader.skip(name_size + indices * width)

    def expr_type(self, reader: _Reader) -> int:
        """Skip an EXPR_TYPE's code; returns the size of its payload."""
        code = self.data_of(reader, 1)
        if code not in _EXPR_TYPE_PAYLOAD:
            raise QpyMalformed(f"malformed QPY: unknown expression type {code!r}")
        return _EXPR_TYPE_PAYLOAD[code]

    @staticmethod
    def data_of(reader: _Reader, size: int) -> bytes:
        start = reader.skip(size)
        return reader.data[start : start + size]

    def custom_definition(self, reader: _Reader, label: str, depth: int) -> None:
        name_size, kind, qubits, clbits, defined, size, controls, _, base_size = reader.unpack(_CUSTOM_DEFINITION)
        name = self.data_of(reader, name_size)
        if qubits > self.bounds.max_qubits or controls > self.bounds.max_qubits or clbits > self.bounds.max_clbits:
            raise QpyOverLimit(
                f"{label} defines instruction {name[:64].decode(errors='replace')!r} on {qubits} qubits and "
                f"{clbits} classical bits, wider than the backend or limits.max_clbits"
            )
        if defined:
            payload = reader.sub(size)
            if kind != b"p" and not name.startswith(_PAULI_EVOLUTION):
                self.circuit(payload, f"the definition of {name[:64].decode(errors='replace')!r}", depth + 1)
                payload.finish("a gate definition")
        if base_size:
            base = reader.sub(base_size)
            self.instructions(base, 1, label, depth + 1, args=False)
            base.finish("a base gate")

    def instructions(self, reader: _Reader, count: int, label: str, depth: int, args: bool = True) -> None:
        """Skip ``count`` instructions, walking the circuits in their parameters.

        The hot loop of a scan (one pass per instruction of the job), so it works on
        offsets rather than through :class:`_Reader` calls. ``args``: the instructions
        are followed by their qubit and clbit arguments (not so for a base gate, whose
        header counts arguments it does not carry).
        """
        data, pos, end = reader.data, reader.pos, reader.end
        unpack, unpack_param = _INSTRUCTION.unpack_from, _PARAM.unpack_from
        head, param_head, most_controls = _INSTRUCTION.size, _PARAM.size, self.bounds.max_qubits
        for _ in range(count):
            if pos + head > end:
                raise QpyMalformed(f"truncated QPY: an instruction of {label} runs past its end")
            names, labels, params, qargs, cargs, extras, condition, _, controls, _ = unpack(data, pos)
            if controls > most_controls:
                raise QpyOverLimit(f"{label} has an instruction with {controls} control qubits")
            pos += head + names + labels + condition
            if extras & 0b11 == 2:  # the condition is an expression, in one parameter
                reader.pos = pos
                self.param(reader, label, depth)
                pos = reader.pos
            if args:
                pos += 5 * (qargs + cargs)
            for _ in range(params):
                if pos + param_head > end:
                    raise QpyMalformed(f"truncated QPY: a parameter in {label} runs past its end")
                kind, size = unpack_param(data, pos)
                if kind == b"q" or kind == b"t":
                    reader.pos = pos
                    self.param(reader, label, depth)
                    pos = reader.pos
                else:
                    pos += param_head + size
            if extras & 0x80:  # annotations
                reader.pos = pos
                for _ in range(reader.unpack(_U32)[0]):
                    reader.skip(reader.unpack(_ANNOTATION)[1])
                pos = reader.pos
            if pos > end:
                raise QpyMalformed(f"truncated QPY: an instruction of {label} runs past its end")
        reader.pos = pos

    def param(self, reader: _Reader, label: str, depth: int) -> None:
        kind, size = reader.unpack(_PARAM)
        payload = reader.sub(size)
        if kind == b"q":  # a circuit: a control-flow block
            self.circuit(payload, f"a block in {label}", depth + 1)
            payload.finish("a block")
        elif kind == b"t":  # a sequence of parameters (a switch's cases)
            for _ in range(payload.unpack(_U64)[0]):
                self.param(payload, label, depth)
            payload.finish("a sequence")

    def layout(self, reader: _Reader, label: str) -> None:
        exists, initial, inputs, final, extra, input_qubits = reader.unpack(_LAYOUT)
        if not exists:
            return
        if input_qubits > self.bounds.max_qubits:
            raise QpyOverLimit(f"{label}'s layout claims {input_qubits} input qubits")
        for _ in range(extra):
            self.register(reader, label)
        for _ in range(max(0, initial)):
            if self.version >= 18:
                if reader.unpack(_I32)[0] != -1:
                    reader.skip(reader.unpack(_I32)[0])
            else:
                index, size = reader.unpack(_INITIAL_BIT)
                if not (index == -1 and size == -1):
                    reader.skip(size)
        reader.skip(4 * (max(0, inputs) + max(0, final)))
