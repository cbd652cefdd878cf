"""Runtime programs: one module per ``program_id``, registered in :data:`PROGRAMS`.

A program module offers three things:

- ``PROGRAM_ID``: the id clients send in ``POST /api/v1/jobs``.
- ``check(params, spec) -> list[QuantumCircuit]``: decoded params -> the job's circuits,
  or :class:`InvalidParams` naming what is wrong (nothing is stored then). Runs in the
  server process at submit time.
- ``run(params, spec, aer, seed) -> PrimitiveResult``: runs in a simulator process
  (:func:`prefect_ibmq.server.runtime.execute.run_program`) with qiskit-aer's primitives.

A future program (``executor``) is one more module and one more line below.
"""

from __future__ import annotations

from types import ModuleType

from . import estimator, sampler
from .common import InvalidParams

PROGRAMS: dict[str, ModuleType] = {module.PROGRAM_ID: module for module in (sampler, estimator)}


def program(program_id: str) -> ModuleType:
    """The module of ``program_id``; InvalidParams naming the accepted ids otherwise."""
    module = PROGRAMS.get(program_id)
    if module is None:
        raise InvalidParams(f"program_id {program_id!r} is not served; accepted: {sorted(PROGRAMS)}")
    return module


__all__ = ["PROGRAMS", "InvalidParams", "program"]
