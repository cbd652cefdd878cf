"""Program ``executor``: a ``QuantumProgram`` (schema v2.0) of circuit and samplex items, run on aer.

What the client-side primitives of qiskit-ibm-runtime 0.51 (``executor_sampler.Sampler``,
``executor_estimator.Estimator``) and ``Executor`` itself submit. Each item is a circuit
with a grid of parameter bindings (a circuit item) or a template circuit whose bindings
a samplex draws per randomisation (a samplex item: twirling, measurement mitigation,
noise injection). Every binding runs ``shots`` shots; an item's result holds, per
classical register, a bool array ``shape + (shots, bits)`` (bit 0 first), plus a samplex's
own outputs (``measurement_flips.*``, ...). The client's decoders do the rest (undoing
twirls, expectation values, mitigation), as on IBM.

What aer cannot do is refused at submit with the part named: ``meas_level`` other than
``classified`` (no IQ data), ``init_qubits=False``, ``rep_delay``, scheduler timing and
stretch values, experimental options. A dry run (:func:`run` with ``dry_run``) checks
everything and answers the same schema with random bits instead of simulating.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2

from ...config import BackendSpec
from . import samplex as samplex_items
from .common import InvalidParams, check_circuit, check_pub_count
from .executor_wire import SCHEMA_VERSION, CircuitItemWire, ParamsWire, array, circuits, parse, tensor

PROGRAM_ID = "executor"
#: The most bytes of one tensor argument (parameter values, samplex inputs).
MAX_ARGUMENT_BYTES = 64 * 1024 * 1024


@dataclass
class _Item:
    """One item, decoded: its circuit and either its bindings or its samplex."""

    circuit: QuantumCircuit
    shape: tuple[int, ...]
    bindings: np.ndarray | None = None  # circuit items: shape + (parameters,)
    samplex: Any = None  # samplex items: the samplex and its bound inputs
    inputs: Any = None


def _item_shape(index: int, item: Any) -> tuple[int, ...]:
    """The item's extrinsic shape: its ``shape`` broadcast with a circuit item's leading argument axes."""
    if not isinstance(item, CircuitItemWire):
        return tuple(item.shape)
    leading = tuple(item.circuit_arguments.shape[:-1])
    try:
        return tuple(np.broadcast_shapes(tuple(item.shape), leading))
    except ValueError as exc:
        raise InvalidParams(f"item {index}: shape {item.shape} does not extend the arguments' {list(leading)}") from exc


def work(params: Any) -> int:
    """The job's total work: circuit executions (shots x bindings, summed over items), read without decoding."""
    program = parse(params).quantum_program
    return sum(program.shots * math.prod(_item_shape(i, item)) for i, item in enumerate(program.items))


def _check_options(wire: ParamsWire) -> None:
    options, program = wire.options, wire.quantum_program
    refused = []
    if program.meas_level != "classified":
        refused.append(f"meas_level={program.meas_level!r} (aer returns classified bits, no IQ data)")
    if not options.init_qubits:
        refused.append("init_qubits=False (every aer shot starts from |0>)")
    if options.rep_delay is not None:
        refused.append("rep_delay (the backends have dynamic_reprate_enabled=false)")
    if options.scheduler_timing or options.stretch_values:
        refused.append("scheduler_timing / stretch_values (there is no pulse schedule locally)")
    if options.experimental:
        refused.append(f"experimental options {sorted(options.experimental)}")
    if refused:
        raise InvalidParams("not available locally: " + "; ".join(refused))


def _decode(params: Any, spec: BackendSpec) -> tuple[ParamsWire, list[_Item]]:
    wire = parse(params)
    _check_options(wire)
    program = wire.quantum_program
    check_pub_count(program.items, spec)
    items = []
    for index, (circuit, item) in enumerate(zip(circuits(program.circuits), program.items, strict=True)):
        check_circuit(index, circuit, spec)
        if not circuit.cregs:
            raise InvalidParams(f"item {index}: the circuit has no classical register to return")
        shape = _item_shape(index, item)
        if not math.prod(shape):
            raise InvalidParams(f"item {index}: its shape {list(shape)} has no elements to run")
        if isinstance(item, CircuitItemWire):
            values = array(item.circuit_arguments, f"item {index}: circuit_arguments", MAX_ARGUMENT_BYTES)
            if values.ndim == 0 or values.shape[-1] != circuit.num_parameters:
                raise InvalidParams(
                    f"item {index}: circuit_arguments of shape {list(values.shape)} must end in the circuit's "
                    f"{circuit.num_parameters} parameters"
                )
            bindings = np.broadcast_to(values.astype(float), shape + (circuit.num_parameters,))
            items.append(_Item(circuit, shape, bindings=bindings))
        else:
            found, inputs = samplex_items.load(index, item, MAX_ARGUMENT_BYTES)
            items.append(_Item(circuit, shape, samplex=found, inputs=inputs))
    return wire, items


def check(params: Any, spec: BackendSpec) -> list[QuantumCircuit]:
    """The items' circuits, once everything is checked (InvalidParams naming what is wrong)."""
    _, items = _decode(params, spec)
    return [item.circuit for item in items]


def run(params: Any, spec: BackendSpec, aer: AerSimulator, seed: int, dry_run: bool = False) -> str:
    """Run every item on ``aer`` (seeded); the result text (QuantumProgramResultModel v2.0).

    With ``dry_run`` nothing is simulated: the registers hold random bits, everything else
    (shapes, samplex outputs, metadata) is what a real run answers.
    """
    wire, items = _decode(params, spec)
    shots = wire.quantum_program.shots
    rng = np.random.default_rng(seed)
    sampler = SamplerV2.from_backend(aer, seed=seed)
    data, spans = [], []
    for index, item in enumerate(items):
        start = datetime.now(UTC)
        results: dict[str, np.ndarray] = {}
        bindings = item.bindings
        if item.samplex is not None:
            results = samplex_items.sample(index, item.samplex, item.inputs, item.shape, rng)
            bindings = results.pop("parameter_values", np.zeros(item.shape + (0,)))
        if bindings is None or bindings.shape[-1] != item.circuit.num_parameters:
            raise InvalidParams(f"item {index}: the samplex does not bind the template's parameters")
        if dry_run:
            registers = {creg.name: rng.integers(0, 2, item.shape + (shots, creg.size), dtype=np.uint8).astype(bool)
                         for creg in item.circuit.cregs}
        else:
            registers = _simulate(sampler, item.circuit, bindings, shots)
        results.update(registers)
        data.append({"results": {name: tensor(values) for name, values in results.items()},
                     "metadata": {"scheduler_timing": None, "stretch_values": None}})
        size = math.prod(item.shape)
        spans.append({"start": _utc(start), "stop": _utc(datetime.now(UTC)), "parts": [
            {"idx_item": index, "size": size, "permutation": list(range(len(item.shape))),
             "element_range": [0, size, 1]},
        ]})
    return json.dumps({
        "schema_version": SCHEMA_VERSION,
        "data": data,
        "metadata": {"chunk_timing": spans},
        "passthrough_data": wire.quantum_program.passthrough_data,
        "semantic_role": wire.quantum_program.semantic_role,
    }, separators=(",", ":"))


def _simulate(sampler: SamplerV2, circuit: QuantumCircuit, bindings: np.ndarray, shots: int) -> dict[str, np.ndarray]:
    """Each register's bits, shape ``bindings.shape[:-1] + (shots, bits)``."""
    shape = bindings.shape[:-1]
    if circuit.num_parameters:
        pub = SamplerPub(circuit, BindingsArray({tuple(circuit.parameters): bindings}), shots)
    else:  # every element is the same circuit: one run of all their shots, then split
        pub = SamplerPub(circuit, shots=shots * math.prod(shape))
    bits = sampler.run([pub]).result()[0].data
    return {
        name: bit_array.to_bool_array(order="little").reshape(shape + (shots, bit_array.num_bits))
        for name, bit_array in dict(bits).items()
    }


def _utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")

