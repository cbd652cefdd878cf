"""The kinds of job this server runs (:mod:`.kind_handler`): ``/v1`` circuits and each runtime program.

The job service hands :func:`server_kinds` to its executor; a new kind of job is a
module here and one line below, and the executor is not changed.
"""

from __future__ import annotations

from ..kind_handler import KindHandler, KindHandlers
from ..runtime.programs import PROGRAMS
from .circuits import KIND, CircuitsHandler
from .programs import ProgramHandler


def server_kinds() -> KindHandlers:
    """Every kind served: the ``/v1`` circuits kind and one per runtime program."""
    kinds: dict[str, KindHandler] = {KIND: CircuitsHandler()}
    for program_id in PROGRAMS:
        program = ProgramHandler(program_id)
        kinds[program.kind] = program
    return KindHandlers(kinds)


__all__ = ["server_kinds"]
