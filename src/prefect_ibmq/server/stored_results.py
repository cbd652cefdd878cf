"""How the server keeps a job's result and serves it: columnar JSON text, legacy on request.

The store keeps each result as the JSON of ``wire.columnar_result`` (its experiments as
columns, ~150 bytes per 2-5 qubit experiment against ~820 as legacy dicts). A reader
asks for a form (``GET /v1/jobs/{id}/result?format=columnar``); the stored text is
sent as it is when the forms match, so a large result is not decoded and encoded again.

A private job's result read with a read key is held for that key until the reader
acknowledges it; one whose reader never does (its process died in between) is
deleted ``held_result_ttl_s`` after the read that took it (:func:`expire_held_results`,
called by every replica's reaper), as if acknowledged: no one else could ever read it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select, update

from prefect_ibmq.wire import COLUMNAR_MARKER, COLUMNAR_VERSION, ResultFormat, columnar_result, legacy_result

from .engine import guarded
from .schema import jobs, result_reads, results
from .store import Store


def encode_result(result: dict[str, Any]) -> str:
    """A job's result as the JSON text the store keeps: its experiments as columns (see ``wire.columnar_result``)."""
    return json.dumps(columnar_result(result), default=_jsonable, separators=(",", ":"))


#: How a stored result in the columnar form begins (:func:`encode_result` puts the marker first).
_COLUMNAR_START = json.dumps({COLUMNAR_MARKER: COLUMNAR_VERSION}, separators=(",", ":"))[:-1]


def result_text(stored: str, form: ResultFormat) -> str:
    """A stored result (columnar, or legacy when stored by an older server) as JSON text in ``form``."""
    columnar = stored.startswith(_COLUMNAR_START)
    if columnar == (form == "columnar"):
        return stored  # as stored: no decode and re-encode of a large result
    data = json.loads(stored)
    converted = columnar_result(data) if form == "columnar" else legacy_result(data)
    return json.dumps(converted, separators=(",", ":"))


def _jsonable(value: Any) -> Any:
    """Numpy scalars/arrays, complex numbers and qiskit objects in aer's output."""
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(getattr(value, "data", None), np.ndarray):  # e.g. Statevector (its tolist is deprecated)
        return value.data.tolist()
    if hasattr(value, "tolist"):  # numpy arrays and scalars (their .data is a memoryview)
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


@guarded
def expire_held_results(store: Store, ttl_s: float) -> list[str]:
    """Delete the private results held unacknowledged for over ``ttl_s`` since their read; their ids.

    A row held before revision 0005 has no read time: it counts from its job's end.
    """

    def apply(conn: Connection) -> list[str]:
        held_since = func.coalesce(result_reads.c.held_at, jobs.c.finished_at)
        stale = select(jobs.c.job_id).join(result_reads, result_reads.c.job_id == jobs.c.job_id).where(
            jobs.c.private == 1, jobs.c.result_consumed == 0, held_since < time.time() - ttl_s,
        )
        ids = list(conn.execute(stale.with_for_update(of=jobs, skip_locked=True)).scalars())
        if ids:
            conn.execute(update(jobs).where(jobs.c.job_id.in_(ids)).values(result_consumed=1))
            conn.execute(delete(results).where(results.c.job_id.in_(ids)))
        return ids

    return store.write(apply)
