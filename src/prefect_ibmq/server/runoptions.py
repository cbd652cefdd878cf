"""A job's run options on a simulated backend: checked at submit, then turned into aer's options per chunk.

What hardware takes and a simulator cannot do is refused by name (``meas_level`` 0 and 1,
``init_qubits=False``); what it takes and a simulator does anyway is recorded
(``meas_return``, ``rep_delay``: every shot starts in ``|0>``). ``noise_model`` (a
qiskit-aer ``NoiseModel`` as its dict) is taken by backends without noise of their own
and rebuilt where the chunks run (:func:`.aerrun.noise_model`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any

from prefect_ibmq.wire import BackendConfiguration, RunOptions

from .aerrun import NoiseModelRef
from .validation import InvalidJob


def check_run_options(configuration: BackendConfiguration, options: RunOptions) -> None:
    """Raise InvalidJob naming the first option ``configuration``'s backend cannot honour, and what it takes."""
    name = configuration.backend_name
    if options.meas_level not in configuration.meas_levels:
        raise InvalidJob(
            f"options.meas_level={options.meas_level} is not available on {name}: a simulator has no kerneled (1) "
            f"or raw (0) measurement data; accepted: {configuration.meas_levels} (classified counts)"
        )
    low, high = configuration.rep_delay_range
    if options.rep_delay is not None and not low <= options.rep_delay <= high:
        raise InvalidJob(
            f"options.rep_delay={options.rep_delay} s is outside the rep_delay_range [{low}, {high}] s of {name}"
        )
    if not options.init_qubits:
        raise InvalidJob(
            f"options.init_qubits=False is not available on {name}: every shot of a simulator starts in |0>; "
            "accepted: True"
        )
    if options.method is not None and options.method not in configuration.methods:
        raise InvalidJob(f"options.method={options.method!r} is not one of {configuration.methods}")
    if options.noise_model is not None:
        if not configuration.noise_model_option:
            raise InvalidJob(
                f"options.noise_model is not taken by {name}, which simulates noise of its own "
                "(published in its properties); send noise models to a backend without noise, e.g. aer_simulator"
            )
        _check_noise_model(options.noise_model)


def _check_noise_model(data: dict[str, Any]) -> None:
    from qiskit_aer.noise import NoiseModel

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # aer's only way back from its own dict
            NoiseModel.from_dict(data)
    except Exception as exc:  # from_dict raises many types for a malformed dict
        raise InvalidJob(
            f"options.noise_model is not a qiskit-aer NoiseModel dict (NoiseModel.to_dict(serializable=True)): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def aer_options(options: RunOptions) -> dict[str, Any]:
    """Aer's run options for a job's chunks, without the per-chunk seed (see :func:`chunk_options`)."""
    out: dict[str, Any] = {"shots": options.shots, "memory": options.memory}
    if options.method is not None:
        out["method"] = options.method
    if options.noise_model is not None:
        text = json.dumps(options.noise_model, sort_keys=True, separators=(",", ":"))
        out["noise_model"] = NoiseModelRef(hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), text)
    return out


def chunk_options(base: dict[str, Any], options: RunOptions, start: int) -> dict[str, Any]:
    """The aer options of the chunk from circuit ``start`` on (each chunk its own seed)."""
    if options.seed_simulator is None:
        return base
    return {**base, "seed_simulator": options.seed_simulator + start}
