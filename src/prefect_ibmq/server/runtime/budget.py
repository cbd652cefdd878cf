"""The bounds of a runtime job, on what decoding it costs and on the work it asks for.

A 10 KiB sampler job of 1,000,000 parameter bindings x 100,000 shots was accepted
(10^11 shots); only pub count and per-pub shots were checked. A job's total work
is now bounded as on ``/v1``, before anything is stored, each refusal a 400
naming the limit: shots over every binding of every pub (sampler), classical bits
kept shot by shot (sampler results keep every shot), expectation values over
observables x parameter sets (estimator), and the simulator seed within aer's range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from qiskit.primitives.containers.observables_array import ObservablesArray

from ..bounds import check_json, check_tags, qpy_bounds
from ..config import BackendSpec
from ..limit_checks import OverLimit, check_job_shots, check_kept_bits, check_seed
from ..limits import Limits
from .codec import DecodeBudget
from .programs.common import options_of
from .programs.sampler import DEFAULT_SHOTS
from .schemas import JobCreate


def decode_budget(spec: BackendSpec, limits: Limits) -> DecodeBudget:
    """What decoding one job's values for ``spec`` may cost: one circuit per value, as wide as the backend."""
    return DecodeBudget(max_bytes=limits.max_decompressed_bytes, circuit=qpy_bounds(spec, limits, max_circuits=1))


def check_fields(body: JobCreate, limits: Limits) -> None:
    """The job's tags and the nesting of its parameters (FieldTooLarge naming the limit)."""
    check_tags(body.tags, limits)
    check_json("params", body.params, limits)


def check_executions(executions: int, limits: Limits) -> None:
    """A program's circuit executions (shots x parameter bindings over its items) within ``limits.max_job_shots``."""
    check_job_shots(executions, "shots x parameter bindings over its items", limits)


def check_work(program_id: str, params: Mapping[str, Any], limits: Limits) -> None:
    """The total work of decoded (and checked) sampler and estimator parameters; OverLimit naming the limit."""
    if program_id not in ("sampler", "estimator"):
        return  # the executor's work is counted from its shapes before decoding (check_executions)
    options = options_of(params)
    simulator = options.get("simulator") or {}
    seed = simulator.get("seed_simulator") if isinstance(simulator, Mapping) else None
    if isinstance(seed, (int, np.integer)):
        check_seed("options.simulator.seed_simulator", int(seed))
    pubs = params["pubs"]
    if program_id == "sampler":
        _sampler_work(pubs, options.get("default_shots") or DEFAULT_SHOTS, limits)
    elif program_id == "estimator":
        _estimator_work(pubs, limits)


def _bindings(values: Any) -> tuple[int, ...]:
    """The shape of a pub's parameter sets (``()``: one set, or none), as ``common.parameter_values`` reads them."""
    if values is None or np.size(values) == 0:
        return ()
    return tuple(np.shape(values)[:-1])


def _sampler_work(pubs: list[list[Any]], default_shots: int, limits: Limits) -> None:
    shots = bits = 0
    for item in pubs:
        circuit = item[0]
        sets = int(np.prod(_bindings(item[1] if len(item) > 1 else None), dtype=object))
        pub_shots = item[2] if len(item) > 2 and item[2] is not None else default_shots
        shots += sets * pub_shots
        bits += sets * pub_shots * circuit.num_clbits
    check_job_shots(shots, "parameter sets x shots over its pubs", limits)
    check_kept_bits(bits, "shots x classical bits over its pubs", limits)


def _estimator_work(pubs: list[list[Any]], limits: Limits) -> None:
    estimates = 0
    for item in pubs:
        observables = ObservablesArray.coerce(item[1]).shape
        sets = _bindings(item[2] if len(item) > 2 else None)
        estimates += int(np.prod(np.broadcast_shapes(observables, sets), dtype=object))
    if estimates > limits.max_job_estimates:
        raise OverLimit(
            f"the job asks for {estimates} expectation values (observables x parameter sets over its pubs); "
            f"limits.max_job_estimates={limits.max_job_estimates}"
        )

