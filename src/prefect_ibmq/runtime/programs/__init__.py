"""Qiskit Runtime programs, one module each: ``sampler``, ``estimator``, ``executor`` (a next one is a module).

A program module defines ``PROGRAM``, an object with the :class:`Program` methods:
which primitives it serves (``sampler``: counts; ``estimator``: expectation values),
how its input items become ISA PUBs for a backend, how they are run in a mode
(a backend for job mode, a ``Batch`` or ``Session``), and how a fetched result
(or a failed job) is handed to the tasks and tables.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from prefect_ibmq.arguments import check_choice
from prefect_ibmq.exceptions import IBMQValueError


class Program(Protocol):
    """What the adapter needs from a Qiskit Runtime program."""

    name: str
    #: The primitives it serves: ``sampler`` (circuits -> counts), ``estimator`` (PUBs -> expectation values).
    primitives: frozenset[str]

    def prepare(self, items: Sequence[Any], backend: Any, optimization_level: int | None) -> list[Any]:
        """Coerce ``items`` to PUBs, transpiled to the backend's ISA unless ``optimization_level`` is None."""

    def run(self, mode: Any, pubs: list[Any], tags: list[str], options: Mapping[str, Any]) -> Any:
        """Submit the PUBs in ``mode`` with these job tags; returns the runtime job."""

    def circuit_names(self, inputs: Mapping[str, Any]) -> list[str | None]:
        """The circuit name of each PUB of a job's (decoded) inputs."""

    def result(self, job_id: str, backend_name: str, result: Any, inputs: Mapping[str, Any]) -> Any:
        """What a fetch of a completed job returns."""

    def failed_result(self, job_id: str, backend_name: str, inputs: Mapping[str, Any], message: str) -> Any:
        """What a partial fetch of a failed job returns (IBM has no partial results)."""


def known_programs() -> list[str]:
    """Names of the program modules in this package."""
    return sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_"))


def get_program(name: str) -> Program:
    """The program called ``name``; IBMQValueError names the known ones."""
    return importlib.import_module(f"{__name__}.{check_choice('program', name, known_programs())}").PROGRAM


def check_primitive(program: str, primitive: str) -> None:
    """IBMQValueError unless program ``program`` serves ``primitive`` (``sampler`` or ``estimator``)."""
    served = get_program(program).primitives
    if primitive not in served:
        raise IBMQValueError(f"program {program!r} runs no {primitive}; it runs {sorted(served)}, and "
                             f"{sorted(p for p in known_programs() if primitive in get_program(p).primitives)} "
                             f"run the {primitive}.")


def pass_manager(backend: Any, optimization_level: int) -> Any:
    """The preset pass manager that maps circuits to ``backend``'s ISA (seeded: same input, same output).

    ``optimization_level`` is 0-3, as ``RuntimeOptions`` checked it.
    """
    from qiskit.transpiler import generate_preset_pass_manager

    return generate_preset_pass_manager(optimization_level=optimization_level, backend=backend, seed_transpiler=0)


def job_options(options: Mapping[str, Any], tags: list[str], **defaults: Any) -> dict[str, Any]:
    """Primitive options: the given ones, the defaults where unset, and the job tags."""
    merged = {key: value for key, value in defaults.items() if value is not None}
    merged.update(options)
    environment = dict(merged.get("environment") or {})
    environment["job_tags"] = tags
    merged["environment"] = environment
    return merged


@contextmanager
def primitives_without_deprecation() -> Iterator[None]:
    """qiskit-ibm-runtime 0.50+ deprecates SamplerV2/EstimatorV2 for executor-based primitives; still served."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*(Sampler|Estimator)V2.*")
        yield
