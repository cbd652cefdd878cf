"""Samplex items of the executor program: samplomatic draws each randomisation's parameters and flips.

A samplex item is a template circuit (parametrised gates where the twirling, basis
changes and noise injection go) and a samplex, which samples, for each element of the
item's shape, the template's ``parameter_values`` and the outputs the client's
post-processing needs (``measurement_flips.<register>`` and the like). The item's shape
is the arguments' shape extended on the left: axes where an argument varies sweep it,
the others are randomisations, all drawn in one ``sample`` call per swept element.

samplomatic is optional on the server (``pip install 'prefect-ibmq[executor]'``); without
it a samplex item is refused at submit, naming it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from qiskit.quantum_info import PauliLindbladMap

from .common import InvalidParams
from .executor_wire import PauliLindbladWire, SamplexItemWire, TensorWire, array


def _samplomatic() -> Any:
    try:
        from samplomatic.serialization import samplex_from_json
    except ImportError as exc:
        raise InvalidParams(
            "samplex items (twirling, measurement mitigation, noise injection) need samplomatic on the "
            "server, which is not installed there: pip install 'prefect-ibmq[executor]'"
        ) from exc
    return samplex_from_json


def load(index: int, item: SamplexItemWire, max_bytes: int) -> tuple[Any, Any]:
    """Item ``index``'s samplex and its bound (broadcastable) inputs."""
    samplex_from_json = _samplomatic()
    try:
        samplex = samplex_from_json(item.samplex.samplex_json)
        samplex.finalize()  # a deserialised samplex is not finalised yet
    except Exception as exc:  # samplomatic raises its own errors (and JSON's) for bad input
        raise InvalidParams(f"item {index}: the samplex does not load: {type(exc).__name__}: {exc}") from exc
    inputs = samplex.inputs().make_broadcastable()
    for name, given in item.samplex_arguments.items():
        value: Any = given
        if isinstance(given, TensorWire):
            value = array(given, f"item {index}: samplex_arguments[{name!r}]", max_bytes)
        elif isinstance(given, PauliLindbladWire):
            value = PauliLindbladMap.from_sparse_list(given.sparse_terms, given.num_qubits)
        try:
            inputs[name] = value
        except Exception as exc:  # samplomatic names the unknown or ill-shaped input
            raise InvalidParams(f"item {index}: samplex_arguments[{name!r}]: {exc}") from exc
    return samplex, inputs


def sample(index: int, samplex: Any, inputs: Any, shape: tuple[int, ...], rng: np.random.Generator) -> dict[str, Any]:
    """Every output of the samplex for each element of ``shape``: arrays of shape ``shape + intrinsic``."""
    args_shape = tuple(inputs.shape)
    if len(args_shape) > len(shape):
        raise InvalidParams(f"item {index}: shape {list(shape)} does not extend the arguments' {list(args_shape)}")
    padded = (1,) * (len(shape) - len(args_shape)) + args_shape
    if any(a not in (1, s) for a, s in zip(padded, shape, strict=True)):
        raise InvalidParams(f"item {index}: shape {list(shape)} does not extend the arguments' {list(args_shape)}")
    swept = [axis for axis, size in enumerate(padded) if size > 1]
    randomised = [axis for axis, size in enumerate(padded) if size <= 1]
    draws = math.prod(shape[axis] for axis in randomised)
    outputs: dict[str, np.ndarray] = {}
    offset = len(shape) - len(args_shape)
    for element in np.ndindex(*(shape[axis] for axis in swept)):
        at = dict(zip(swept, element, strict=True))
        argument_index = tuple(at.get(axis + offset, 0) for axis in range(len(args_shape)))
        try:
            drawn = samplex.sample(inputs[argument_index], num_randomizations=draws, rng=rng)
        except Exception as exc:  # samplomatic names missing inputs or bad values
            raise InvalidParams(f"item {index}: the samplex could not sample: {type(exc).__name__}: {exc}") from exc
        target = tuple(at.get(axis, slice(None)) for axis in range(len(shape)))
        for name, values in dict(drawn).items():
            values = np.asarray(values)
            if name not in outputs:
                outputs[name] = np.empty(shape + values.shape[1:], dtype=values.dtype)
            outputs[name][target] = values.reshape(tuple(shape[axis] for axis in randomised) + values.shape[1:])
    return outputs
