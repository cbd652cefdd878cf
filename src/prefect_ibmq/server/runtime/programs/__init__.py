"""Runtime programs: one module per ``program_id``, registered in :data:`PROGRAMS`.

A program module offers:

- ``PROGRAM_ID``: the id clients send in ``POST /api/v1/jobs``.
- ``check(params, spec) -> list[QuantumCircuit]``: decoded params -> the job's circuits,
  or :class:`InvalidParams` naming what is wrong (nothing is stored then). Runs in the
  server process at submit time.
- ``run(params, spec, aer, seed, dry_run=False) -> str``: the result text; runs in a
  simulator process (:func:`prefect_ibmq.server.runtime.execute.run_program`). A dry run
  (a job on a ``mock_*`` device) checks everything and answers random data in the schema
  a real run answers.
- optionally ``work(params) -> int``: the job's total work (circuit executions), computed
  without decoding, which the submit bounds by ``limits.max_job_shots`` (as a sampler's shots x parameter sets).
"""

from __future__ import annotations

from types import ModuleType

from . import estimator, executor, sampler
from .common import InvalidParams

PROGRAMS: dict[str, ModuleType] = {module.PROGRAM_ID: module for module in (sampler, estimator, executor)}

#: Programs IBM serves that this service does not, and why (the 400 says so).
NOT_AVAILABLE = {
    "noise-learner": (
        "it characterises the noise of a physical device's layers (Pauli-Lindblad models learned from "
        "hardware runs); these backends are aer simulators whose noise model is published in "
        "GET /backends/{name}/properties, so there is nothing to learn"
    ),
}


def program(program_id: str) -> ModuleType:
    """The module of ``program_id``; InvalidParams naming the accepted ids (and why, if IBM has it) otherwise."""
    module = PROGRAMS.get(program_id)
    if module is not None:
        return module
    reason = NOT_AVAILABLE.get(program_id)
    if reason is not None:
        raise InvalidParams(
            f"program_id {program_id!r} is not available locally: {reason}; accepted: {sorted(PROGRAMS)}"
        )
    raise InvalidParams(f"program_id {program_id!r} is not served; accepted: {sorted(PROGRAMS)}")


__all__ = ["NOT_AVAILABLE", "PROGRAMS", "InvalidParams", "program"]
