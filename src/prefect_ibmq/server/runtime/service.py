"""What the runtime API's endpoints do, on the job service's store, queue and executor.

Runtime jobs are jobs of our store (``jobs.program_id`` set), so queue order,
cancel, restart persistence and the status notifier apply to them unchanged.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from prefect_ibmq.timestamps import parse_iso, to_iso
from prefect_ibmq.wire import FINAL_STATUSES, ApiJobStatus, Identity, JobRecord, RunOptions, circuits_to_qpy

from ..auth import can_see
from ..bounds import FieldTooLarge, check_tags
from ..quotas import check_jobs_in_flight
from ..rows import NewJob
from ..service import JobService
from ..store import SessionClosed
from . import budget, session_store
from .codec import UnsupportedValue, decode_params
from .crn import instance_crn
from .errors import IBMApiError, not_found
from .programs import InvalidParams, program
from .schemas import JobCreate, JobCreated, JobState, Program, RuntimeJob, SessionCreate, SessionInfo, Usage

logger = logging.getLogger("prefect_ibmq.server.runtime")
S = ApiJobStatus
#: The session length when the client gives none (IBM's default max_ttl, 8 h).
DEFAULT_MAX_TTL_S = 8 * 3600


def runtime_status(status: ApiJobStatus) -> str:
    """Our lifecycle status -> IBM's ``state.status``."""
    if status is S.RUNNING:
        return "Running"
    if status is S.COMPLETED:
        return "Completed"
    if status is S.CANCELLED:
        return "Cancelled"
    if status in FINAL_STATUSES:
        return "Failed"
    return "Queued"


def zulu(iso: str | None) -> str | None:
    """A stored time as IBM writes it (``...Z``)."""
    return iso.replace("+00:00", "Z") if iso else None


def parse_time(value: str, name: str) -> str:
    """A query's ISO 8601 time in the store's format (naive is UTC); 400 naming it otherwise."""
    try:
        return to_iso(parse_iso(value))
    except (ValueError, OverflowError) as exc:  # overflow: a year 1 or 9999 time moved past UTC's range
        raise IBMApiError(400, "invalid_request", f"{name}={value!r} is not an ISO 8601 time") from exc


def _expired(row: session_store.SessionRow) -> bool:
    """Past its max_ttl since it was created (it then accepts no more jobs, as on IBM Quantum)."""
    age = datetime.now(UTC) - parse_iso(row.created)
    return age.total_seconds() > row.max_ttl


class RuntimeService:
    """The Qiskit Runtime API over the job service: its jobs, results and sessions."""
    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.store = jobs.store

    # --- jobs --------------------------------------------------------------------------------------------

    def submit(self, who: Identity, body: JobCreate) -> JobCreated:
        """Check everything, then store the job (nothing is stored on bad input) and queue it."""
        try:
            module = program(body.program_id)
        except InvalidParams as exc:
            raise IBMApiError(400, "invalid_program", str(exc)) from exc
        if body.backend is None:
            raise IBMApiError(400, "invalid_backend", "backend is required: this service has no default backend")
        simulator = self.jobs.simulators.get(body.backend)
        if simulator is None:
            raise IBMApiError(
                400, "invalid_backend", f"backend {body.backend!r} not found; available: {sorted(self.jobs.simulators)}"
            )
        if body.session_id is not None:
            self._check_session_open(who, body.session_id, body.backend)
        limits = self.jobs.config.limits
        try:
            budget.check_fields(body, limits)
        except FieldTooLarge as exc:
            raise IBMApiError(400, "invalid_request", str(exc)) from None
        text = json.dumps(body.params, separators=(",", ":"))
        try:
            params = decode_params(text, budget.decode_budget(simulator.spec, limits))
            circuits = module.check(params, simulator.spec)
            budget.check_work(body.program_id, params, limits)
        except (InvalidParams, UnsupportedValue) as exc:
            raise IBMApiError(400, "invalid_params", f"invalid {body.program_id} params: {exc}") from exc
        check_jobs_in_flight(self.store, who, limits)
        job = NewJob(
            job_id=secrets.token_hex(10),
            backend=body.backend,
            owner=who,
            qpy=circuits_to_qpy(circuits),
            num_experiments=len(circuits),
            options=RunOptions(),
            tags=list(dict.fromkeys(body.tags)),
            private=body.private,
            program_id=body.program_id,
            params=text,
            session_id=body.session_id,
        )
        try:
            job_id, _ = self.store.create_job(job)
        except SessionClosed as exc:  # closed after the check above
            raise IBMApiError(409, "session_closed", str(exc)) from exc
        logger.info("runtime job %s (%s, %d pubs) created on %s", job_id, body.program_id, len(circuits), body.backend)
        self.jobs.notifier.notify(job_id)
        self.jobs.executor.validate_later(job_id)
        return JobCreated(id=job_id, backend=body.backend, session_id=body.session_id)

    def record(self, who: Identity, job_id: str) -> JobRecord:
        """The runtime job's record; 404 if unknown, not a runtime job, or not visible to ``who``."""
        record = self.store.get_job(job_id)
        if record is None or record.program_id is None or not can_see(record, who):
            raise not_found(f"job {job_id!r}")  # not yours looks like unknown: no existence leak
        return record

    def view(self, record: JobRecord, with_params: bool = False) -> RuntimeJob:
        """The record as the runtime API shows a job."""
        status = runtime_status(record.status)
        reason = record.error.message if record.error and status == "Failed" else None
        reason_code = record.error.code if record.error and status == "Failed" else None
        params = None
        if with_params:
            stored = self.store.runtime_params(record.job_id)
            params = json.loads(stored) if stored else None
        steps = record.time_per_step
        return RuntimeJob(
            id=record.job_id,
            backend=record.backend,
            program=Program(id=record.program_id or ""),
            state=JobState(status=status, reason=reason, reason_code=reason_code),
            status=status,
            created=zulu(steps.get(S.CREATING.value, record.creation_date)) or "",
            ended=zulu(steps.get(record.status.value)) if record.status in FINAL_STATUSES else None,
            tags=record.tags,
            session_id=record.session_id,
            private=record.private,
            user_id=record.owner.user,
            usage=Usage(quantum_seconds=self.quantum_seconds(record), seconds=self.quantum_seconds(record)),
            params=params,
        )

    @staticmethod
    def quantum_seconds(record: JobRecord) -> float:
        """Time the job ran (RUNNING to its final step): what IBM bills as quantum seconds."""
        steps = record.time_per_step
        start = steps.get(S.RUNNING.value)
        end = steps.get(record.status.value) if record.status in FINAL_STATUSES else None
        if not start or not end:
            return 0.0
        return round(max(0.0, (parse_iso(end) - parse_iso(start)).total_seconds()), 3)

    def metrics(self, record: JobRecord) -> dict[str, Any]:
        """The job's timestamps (IBM's ``...Z``) and usage."""
        steps = record.time_per_step
        final = record.status in FINAL_STATUSES
        seconds = self.quantum_seconds(record)
        return {
            "timestamps": {
                "created": zulu(steps.get(S.CREATING.value, record.creation_date)),
                "running": zulu(steps.get(S.RUNNING.value)),
                "finished": zulu(steps.get(record.status.value)) if final else None,
            },
            "bss": {"seconds": seconds},
            "usage": {
                "quantum_seconds": seconds,
                "seconds": seconds,
                "qpu_charge_time_seconds": seconds,
                "status": "final" if final else "pending",
            },
            "executions": record.num_experiments,
            "num_circuits": record.num_experiments,
            "qiskit_version": "",
        }

    def results(self, record: JobRecord) -> str:
        """The result text: a PrimitiveResult (Completed) or the failure's message (Failed)."""
        status = runtime_status(record.status)
        if status in ("Queued", "Running"):
            raise IBMApiError(409, "job_not_finished", f"job {record.job_id!r} is {status}; its results are not ready")
        if status == "Cancelled":
            raise IBMApiError(409, "job_cancelled", f"job {record.job_id!r} was cancelled and has no results")
        text = self.store.read_result(record.job_id, consume=record.private)
        if text is None:
            if status == "Failed" and record.error is not None:
                return record.error.message  # failed before running: no stored text
            raise IBMApiError(
                410, "results_gone", f"the results of private job {record.job_id!r} were already read once"
            )
        return text

    @staticmethod
    def logs(record: JobRecord) -> str:
        """The job's steps, one line each, and its error."""
        lines = [f"{zulu(at)} {step}" for step, at in record.time_per_step.items()]
        if record.error is not None:
            lines.append(f"error {record.error.code}: {record.error.message}")
        return "\n".join(lines) + "\n"

    def cancel(self, who: Identity, record: JobRecord) -> None:
        """Cancel the job; 409 if it is already final."""
        if record.status in FINAL_STATUSES:
            raise IBMApiError(
                409,
                "job_final",
                f"job {record.job_id!r} is already {runtime_status(record.status)}; it cannot be cancelled",
            )
        self.jobs.cancel(who, record.job_id)  # 409 there too if it became final meanwhile

    def replace_tags(self, who: Identity, record: JobRecord, tags: list[str]) -> None:
        """Replace the job's tags (owner only)."""
        if record.owner != who:
            raise IBMApiError(403, "forbidden", f"only the owner of job {record.job_id!r} may change its tags")
        try:
            check_tags(tags, self.jobs.config.limits)
        except FieldTooLarge as exc:
            raise IBMApiError(400, "invalid_request", str(exc)) from None
        self.store.update_tags(record.job_id, lambda _: list(dict.fromkeys(tags)))

    # --- sessions ----------------------------------------------------------------------------------------

    def create_session(self, who: Identity, body: SessionCreate) -> SessionInfo:
        """Open a session on a backend for ``who``."""
        if body.backend not in self.jobs.simulators:
            raise IBMApiError(
                400, "invalid_backend", f"backend {body.backend!r} not found; available: {sorted(self.jobs.simulators)}"
            )
        if body.instance is not None and body.instance != instance_crn(who):
            raise IBMApiError(403, "forbidden", f"instance {body.instance!r} is not this token's instance")
        session_id = secrets.token_hex(10)
        session_store.create_session(
            self.store, session_id, body.mode, body.backend, who, body.max_ttl or DEFAULT_MAX_TTL_S
        )
        return self.session(who, session_id)

    def _session_row(self, who: Identity, session_id: str) -> session_store.SessionRow:
        row = session_store.get_session(self.store, session_id)
        if row is None or instance_crn(row.owner) != instance_crn(who):
            raise not_found(f"session {session_id!r}")
        return row

    def _check_session_open(self, who: Identity, session_id: str, backend: str) -> None:
        row = self._session_row(who, session_id)
        if not row.accepting_jobs:
            raise IBMApiError(409, "session_closed", f"session {session_id!r} is closed and accepts no more jobs")
        if _expired(row):
            raise IBMApiError(
                409, "session_closed", f"session {session_id!r} reached its max_ttl of {row.max_ttl} s and is closed"
            )
        if row.backend != backend:
            raise IBMApiError(
                400, "invalid_backend", f"session {session_id!r} runs on {row.backend!r}, not {backend!r}"
            )

    def session(self, who: Identity, session_id: str) -> SessionInfo:
        """The session as the runtime API shows it; 404 unless ``who``'s instance owns it."""
        row = self._session_row(who, session_id)
        jobs = session_store.session_jobs(self.store, session_id)
        pending = any(S(job["status"]) not in FINAL_STATUSES for job in jobs)
        accepting = row.accepting_jobs and not _expired(row)
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
