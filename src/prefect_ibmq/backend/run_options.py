"""The options ``IBMQBackend.run(circuits, **options)`` and ``set_options`` take, checked before anything is sent.

They are those of IBM's and qiskit-aer's backends that a simulator can honour, plus the
job's own fields. An option nobody takes, or a value the backend cannot honour, is an
``IBMQValueError`` (an ``IBMQBackendValueError``) that names it and says what is taken.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable
from enum import Enum
from typing import Any

from prefect_ibmq.arguments import check_bool, rejected
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.wire import MEAS_LEVEL_CLASSIFIED, BackendConfiguration, RunOptions

from .validation import check_shots

#: Options sent to the service with the job (``RunOptions``), and their defaults.
RUN_OPTION_DEFAULTS: dict[str, Any] = {
    "shots": 1024,
    "memory": False,
    "seed_simulator": None,
    "meas_level": MEAS_LEVEL_CLASSIFIED,
    "meas_return": "single",
    "rep_delay": None,
    "init_qubits": True,
    "noise_model": None,
    "method": None,
}
#: The job's own fields (``run()`` only; ``set_options`` keeps run options).
JOB_FIELDS = ("job_name", "job_tags", "share_level", "experiment_id", "header", "idempotency_key", "private")
_MEAS_LEVEL_NAMES = {0: "raw (0)", 1: "kerneled (1)"}


def check_option_names(names: Iterable[str], backend_name: str, accepted: Iterable[str]) -> None:
    """Every name is one of ``accepted``; else IBMQValueError naming the others and listing ``accepted``."""
    accepted = list(accepted)
    unknown = [name for name in names if name not in accepted]
    if unknown:
        raise IBMQValueError(f"{backend_name} does not take the option(s) {unknown}; it takes {accepted}.")


def run_options(values: dict[str, Any], configuration: BackendConfiguration) -> RunOptions:
    """The checked ``RunOptions`` of ``values`` (run option names only, all of them given).

    Raises:
        IBMQValueError: Naming the first value the backend cannot honour and what it takes.
    """
    name = configuration.backend_name
    shots = _integer("shots", values["shots"])
    check_shots(shots, configuration)
    seed = values["seed_simulator"]
    seed = None if seed is None else _integer("seed_simulator", seed)
    meas_level = _meas_level(values["meas_level"], configuration)
    meas_return = _enum_value(values["meas_return"])
    if meas_return not in ("single", "avg"):
        raise rejected("meas_return", values["meas_return"], "'single' or 'avg'")
    init_qubits = check_bool("init_qubits", values["init_qubits"])
    if not init_qubits:
        raise IBMQValueError(f"init_qubits=False is not available on {name}: every shot of a simulator starts "
                             "in |0>; give True.")
    method = values["method"]
    if method is not None and method not in configuration.methods:
        raise rejected("method", method, f"one of {configuration.methods} or None")
    return RunOptions(
        shots=shots,
        memory=check_bool("memory", values["memory"]),
        seed_simulator=seed,
        meas_level=meas_level,
        meas_return=meas_return,
        rep_delay=_rep_delay(values["rep_delay"], configuration),
        init_qubits=init_qubits,
        noise_model=_noise_model(values["noise_model"], configuration),
        method=method,
    )


def _integer(name: str, value: Any) -> int:
    """An int from an int or a numpy integer (not a bool)."""
    if isinstance(value, bool):
        raise rejected(name, value, "an int")
    try:
        return operator.index(value)
    except TypeError:
        raise rejected(name, value, "an int") from None


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _meas_level(value: Any, configuration: BackendConfiguration) -> int:
    level = _enum_value(value)  # qiskit's MeasLevel is an IntEnum
    if not isinstance(level, int) or isinstance(level, bool) or level not in (0, 1, 2):
        raise rejected("meas_level", value, f"one of {configuration.meas_levels}")
    if level not in configuration.meas_levels:
        raise IBMQValueError(
            f"meas_level={level} ({_MEAS_LEVEL_NAMES[level]}) is not available on {configuration.backend_name}: "
            f"a simulator has no kerneled or raw measurement data; give one of {configuration.meas_levels} "
            "(2: classified counts)."
        )
    return level


def _rep_delay(value: Any, configuration: BackendConfiguration) -> float | None:
    if value is None:
        return None
    low, high = configuration.rep_delay_range
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise rejected("rep_delay", value, f"seconds within the rep_delay_range [{low}, {high}] of "
                       f"{configuration.backend_name}, or None (its default_rep_delay, "
                       f"{configuration.default_rep_delay} s)")
    return float(value)


def _noise_model(value: Any, configuration: BackendConfiguration) -> dict[str, Any] | None:
    """A qiskit-aer NoiseModel (or its dict) as the JSON-safe dict the service rebuilds it from."""
    if value is None:
        return None
    if not configuration.noise_model_option:
        raise IBMQValueError(
            f"noise_model is not taken by {configuration.backend_name}, which simulates noise of its own "
            "(see its properties()); send noise models to a backend without noise, such as aer_simulator."
        )
    to_dict = getattr(value, "to_dict", None)
    data = to_dict(serializable=True) if callable(to_dict) else value
    if not isinstance(data, dict):
        raise rejected("noise_model", value, "a qiskit_aer.noise.NoiseModel, its to_dict(serializable=True), or None")
    try:
        return json.loads(json.dumps(data))
    except (TypeError, ValueError) as exc:
        raise rejected("noise_model", type(value).__name__,
                       f"a NoiseModel whose to_dict(serializable=True) is JSON ({exc})") from None
