"""The ``name`` filter of a job listing: a regular expression matched in linear time (RE2).

``name=(a+)+$`` against ``'a' * 24 + '!'`` took Python's ``re`` 9.6 s inside
SQLite's REGEXP, holding the GIL and the store's lock while every other request
waited. The pattern is now compiled with RE2 (``google-re2``), which never
backtracks: it is a regular expression as before (searched anywhere in the
name), except for backreferences and lookaround, which RE2 refuses (400 naming
them). On SQLite, :func:`register_sqlite` makes :func:`name_search` the
connection's ``REGEXP`` (what ``regexp_match`` compiles to there); on PostgreSQL
the database's own ``~`` matches it, in its own process and under the statement
timeout (the pattern was checked by RE2 first, so it carries no backreference).
"""

from __future__ import annotations

import functools
from typing import Any

import re2

#: RE2's memory for one compiled pattern: a pattern needing more is refused, not built.
_MAX_PATTERN_MEMORY = 8 << 20


class BadPattern(ValueError):
    """A name filter RE2 cannot compile; the message says why."""


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled by RE2; :class:`BadPattern` when it cannot be (cached: listings repeat)."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _MAX_PATTERN_MEMORY
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise BadPattern(
            f"{reason} (names are matched by RE2, in linear time: no backreferences or lookaround)"
        ) from None


def name_search(pattern: str, name: str | None) -> bool:
    """Whether ``pattern`` is found in ``name`` (the SQLite function; None never matches)."""
    return name is not None and compile_pattern(pattern).search(name) is not None


def register_sqlite(dbapi_connection: Any) -> None:
    """Make :func:`name_search` the connection's REGEXP (replacing SQLAlchemy's, which uses ``re``).

    Called from the engine's ``connect`` listener, which runs after the dialect's own.
    """
    dbapi_connection.create_function("regexp", 2, name_search, deterministic=True)
