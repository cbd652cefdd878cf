"""``RuntimePlatform``: IBM Quantum Platform with the part of the ``IBMQService`` surface the tasks use.

It wraps one stock ``QiskitRuntimeService`` (built by ``runtime.service``) and
hands out ``RuntimeBackend`` and ``RuntimeJob`` adapters. Execution modes: a
job runs alone (``job``), or in a ``batch`` or a dedicated ``session`` that a
flow opens once and its submit tasks join by id.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from prefect_ibmq.runtime.backend import RuntimeBackend
from prefect_ibmq.runtime.errors import retrying, transient_as_api_error
from prefect_ibmq.runtime.job import RuntimeJob, facts_from_document

#: The most jobs IBM's API lists per request.
MAX_PAGE = 200


class RuntimePlatform:
    """Backends and jobs of one IBM Quantum Platform instance."""

    def __init__(self, service: Any, url: str | None = None) -> None:
        self.service = service  # the stock QiskitRuntimeService
        self.url = url
        self.instance: str = service.active_instance()
        self._backends: dict[str, RuntimeBackend] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RuntimePlatform {self.url or 'IBM Quantum Platform'} instance={self.instance}>"

    @property
    def client(self) -> Any:
        """The runtime client's REST client (raw job documents: status, tags and times in one request)."""
        return self.service._get_api_client()

    def backend(self, name: str) -> RuntimeBackend:
        """The backend called ``name`` (cached: its configuration is read once)."""
        with self._lock:
            if name not in self._backends:
                backend = retrying(f"reading backend {name}", lambda: self.service.backend(name))
                self._backends[name] = RuntimeBackend(self, backend)
            return self._backends[name]

    def job(self, job_id: str, metrics: bool = True) -> RuntimeJob:
        """The job ``job_id`` as it is now; a final one with its metrics (the steps' times) unless told not to."""
        document = retrying(f"reading job {job_id}", lambda: self.client.job_get(job_id))
        job = RuntimeJob(self, facts_from_document(document, self.instance))
        if metrics and job.record.status.is_final:
            job.refresh()
        return job

    def jobs(self, limit: int = 10, skip: int = 0, job_tags: list[str] | None = None,
             backend_name: str | None = None) -> list[RuntimeJob]:
        """Jobs newest first, with all of ``job_tags`` (records without metrics), read in pages of IBM's maximum."""
        documents: list[dict[str, Any]] = []
        while len(documents) < limit:
            wanted = min(limit - len(documents), MAX_PAGE)
            offset = skip + len(documents)
            read_page = partial(
                self.client.jobs_get, limit=wanted, skip=offset, job_tags=job_tags, backend_name=backend_name
            )
            answer = retrying("listing jobs", read_page)
            page = answer.get("jobs") or []
            documents += page
            if len(page) < wanted:
                break
        return [RuntimeJob(self, facts_from_document(doc, self.instance)) for doc in documents[:limit]]

    def open_session(self, backend_name: str, mode: str, max_time: int | None = None) -> str | None:
        """Open a ``batch`` or dedicated ``session`` on the backend; its id (None on a simulator backend)."""
        session_class = _session_class(mode)
        with transient_as_api_error(f"opening a {mode} on {backend_name}"):
            return session_class(self.backend(backend_name).backend, max_time=max_time).session_id

    def close_session(self, session_id: str) -> None:
        """Stop the session accepting jobs; its jobs still run."""
        with transient_as_api_error(f"closing session {session_id}"):
            self.client.close_session(session_id)

    def execution_mode(self, backend: Any, session_id: str | None, mode: str | None) -> Any:
        """What a primitive runs in: the backend (job mode) or the open batch/session ``session_id``."""
        if session_id is None:
            return backend
        return retrying(f"joining session {session_id}",
                        lambda: _session_class(mode or "batch").from_id(session_id, self.service))


def _session_class(mode: str) -> Any:
    from qiskit_ibm_runtime import Batch, Session

    classes = {"batch": Batch, "session": Session}
    if mode not in classes:
        raise ValueError(f"mode {mode!r} has no session; use one of {sorted(classes)} (or 'job' for none)")
    return classes[mode]
