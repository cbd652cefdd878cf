"""The kinds of job this server runs (:mod:`.jobkind`): ``/v1`` circuits and each runtime program.

The job service hands :func:`server_kinds` to its executor; a new kind of job is a
module here and one line below, and the executor is not changed.
"""

from __future__ import annotations

from ..jobkind import JobKind, JobKinds
from ..runtime.programs import PROGRAMS
from .circuits import KIND, CircuitsKind
from .programs import ProgramKind


def server_kinds() -> JobKinds:
    """Every kind served: the ``/v1`` circuits kind and one per runtime program."""
    kinds: dict[str, JobKind] = {KIND: CircuitsKind()}
    for program_id in PROGRAMS:
        program = ProgramKind(program_id)
        kinds[program.kind] = program
    return JobKinds(kinds)


__all__ = ["server_kinds"]
