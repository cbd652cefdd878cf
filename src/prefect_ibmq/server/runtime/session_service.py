"""Sessions and batches of the runtime API: open, read, close, cancel, and expire at ``max_ttl``.

As on IBM Quantum, a session lives at most ``max_ttl`` seconds from its creation
(default 8 h): then it accepts no jobs, and the jobs still waiting in it (not yet
running) are cancelled with :data:`SESSION_EXPIRED_CODE` and a reason saying so; jobs
already running finish. :class:`.session_expiry.SessionExpiry` calls
:meth:`SessionService.expire_session` at each deadline.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from prefect_ibmq.timestamps import parse_iso
from prefect_ibmq.wire import FINAL_STATUSES, ApiJobStatus, Identity, JobError

from ..service import JobBook
from . import session_store, store_ops
from .errors import IBMApiError, not_found
from .instances import Instance, Instances
from .schemas import SessionCreate, SessionInfo, zulu
from .session_expiry import SessionExpiry

logger = logging.getLogger("prefect_ibmq.server.runtime.sessions")
S = ApiJobStatus
#: The session length when the client gives none (IBM's default max_ttl, 8 h).
DEFAULT_MAX_TTL_S = 8 * 3600
#: ``state.reason_code`` of a job cancelled because its session or batch expired before it ran.
SESSION_EXPIRED_CODE = 1520


def deadline(row: session_store.SessionRow) -> float:
    """When the session expires (epoch seconds)."""
    return parse_iso(row.created).timestamp() + row.max_ttl


def expired(row: session_store.SessionRow) -> bool:
    """Past its max_ttl since it was created (it then accepts no more jobs, as on IBM Quantum)."""
    return datetime.now(UTC).timestamp() > deadline(row)


class SessionService:
    """Sessions on the job service's store; the base of :class:`.service.RuntimeJobs`."""

    def __init__(self, jobs: JobBook) -> None:
        self.jobs = jobs
        self.store = jobs.store
        self.settings = jobs.config.runtime
        self.instances = Instances(self.settings)
        #: The timer that expires sessions (set by :func:`.app.install`); told of each new one.
        self.expiry: SessionExpiry | None = None

    def instance(self, who: Identity) -> Instance:
        """The instance of ``who``'s project."""
        return self.instances.of(who)

    def create_session(self, who: Identity, body: SessionCreate) -> SessionInfo:
        """Open a session on a backend for ``who``."""
        if body.backend not in self.jobs.simulators:
            raise IBMApiError(
                400, "invalid_backend", f"backend {body.backend!r} not found; available: {sorted(self.jobs.simulators)}"
            )
        if body.instance is not None and body.instance != self.instance(who).crn:
            raise IBMApiError(403, "forbidden", f"instance {body.instance!r} is not this token's instance")
        session_id = secrets.token_hex(10)
        max_ttl = body.max_ttl or DEFAULT_MAX_TTL_S
        session_store.create_session(self.store, session_id, body.mode, body.backend, who, max_ttl)
        info = self.session(who, session_id)
        if self.expiry is not None:
            self.expiry.watch(session_id, parse_iso(info.started_at).timestamp() + max_ttl)
        return info

    def _session_row(self, who: Identity, session_id: str) -> session_store.SessionRow:
        row = session_store.get_session(self.store, session_id)
        if row is None or self.instance(row.owner).crn != self.instance(who).crn:
            raise not_found(f"session {session_id!r}")
        return row

    def check_session_open(self, who: Identity, session_id: str, backend: str) -> None:
        """409 unless the session accepts jobs (open, not expired); 400 if it runs on another backend."""
        row = self._session_row(who, session_id)
        if expired(row):
            raise IBMApiError(
                409, "session_closed", f"session {session_id!r} reached its max_ttl of {row.max_ttl} s and is closed"
            )
        if not row.accepting_jobs:
            raise IBMApiError(409, "session_closed", f"session {session_id!r} is closed and accepts no more jobs")
        if row.backend != backend:
            raise IBMApiError(
                400, "invalid_backend", f"session {session_id!r} runs on {row.backend!r}, not {backend!r}"
            )

    def session(self, who: Identity, session_id: str) -> SessionInfo:
        """The session as the runtime API shows it; 404 unless ``who``'s instance owns it."""
        row = self._session_row(who, session_id)
        jobs = session_store.session_jobs(self.store, session_id)
        pending = any(S(job["status"]) not in FINAL_STATUSES for job in jobs)
        accepting = row.accepting_jobs and not expired(row)
        if accepting:
            state = "active" if jobs else "open"
        else:
            state = "active" if pending else "closed"
        return SessionInfo(
            id=row.session_id,
            mode=row.mode,
            backend_name=row.backend,
            state=state,
            accepting_jobs=accepting,
            max_ttl=row.max_ttl,
            started_at=zulu(row.created) or "",
            closed_at=zulu(row.closed) if state == "closed" else None,
        )

    def close_session(self, who: Identity, session_id: str, cancel: bool) -> None:
        """Close (queued jobs still run) or, with ``cancel``, also cancel its jobs not yet final."""
        self._session_row(who, session_id)
        session_store.close_session(self.store, session_id)
        if cancel:
            for job in session_store.session_jobs(self.store, session_id):
                if S(job["status"]) not in FINAL_STATUSES:
                    try:
                        self.jobs.cancel(who, job["job_id"])
                    except Exception as exc:  # final meanwhile, or another owner's job in the session
                        logger.info("session %s: job %s not cancelled: %s", session_id, job["job_id"], exc)

    # --- expiry ------------------------------------------------------------------------------------------

    def waiting_sessions(self) -> list[tuple[str, float]]:
        """(id, deadline) of each session with jobs not yet running (what the expiry timer watches)."""
        return [
            (session_id, parse_iso(created).timestamp() + max_ttl)
            for session_id, created, max_ttl in store_ops.sessions_with_waiting_jobs(self.store)
        ]

    def expire_if_due(self, session_id: str) -> None:
        """Expire the session now if its max_ttl has passed."""
        row = session_store.get_session(self.store, session_id)
        if row is not None and expired(row):
            self.expire_session(session_id)

    def expire_session(self, session_id: str) -> list[str]:
        """Close the expired session and cancel its jobs that have not started; their ids."""
        row = session_store.get_session(self.store, session_id)
        if row is None:
            return []
        session_store.close_session(self.store, session_id)
        reason = (
            f"session {session_id} ({row.mode}) reached its maximum time to live (max_ttl {row.max_ttl} s) "
            "before this job ran; jobs still queued in an expired session or batch are cancelled"
        )
        error = JobError(code=SESSION_EXPIRED_CODE, message=reason)
        cancelled = []
        for job in session_store.session_jobs(self.store, session_id):
            if S(job["status"]) in store_ops.NOT_STARTED and self.jobs.executor.move(
                job["job_id"], S.CANCELLED, store_ops.NOT_STARTED, error=error
            ):
                self.jobs.queue.remove(job["job_id"])
                cancelled.append(job["job_id"])
        if cancelled:
            logger.info("session %s expired: %d queued jobs cancelled", session_id, len(cancelled))
        return cancelled
