"""Jobs between Python and the store's rows: a new job's ``jobs`` row, and rows back to records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import RowMapping

from prefect_ibmq.wire import ApiJobStatus, Identity, JobError, JobRecord, RunOptions

from .schema import jobs, steps

#: Job ids per steps query: stays under SQLite's bound-parameter limit.
_CHUNK = 500
#: A job record's ``kind`` (the executor's key for it, :mod:`.kind_handler`): ``/v1`` circuits, or a runtime program's.
CIRCUITS_KIND = "qpy-circuits"
RUNTIME_KIND_PREFIX = "runtime-"


@dataclass
class NewJob:
    """What :meth:`~prefect_ibmq.server.store.Store.create_job` needs."""

    job_id: str
    backend: str
    owner: Identity
    qpy: bytes
    num_experiments: int
    options: RunOptions
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    share_level: str = "none"
    experiment_id: str | None = None
    client_info: dict[str, str] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    private: bool = False
    idempotency_key: str | None = None
    #: Qiskit Runtime jobs only: the program, its parameters (the client's JSON text) and session.
    program_id: str | None = None
    params: str | None = None
    session_id: str | None = None


def job_row(job: NewJob, created: str) -> dict[str, Any]:
    """The ``jobs`` row of a new job, CREATED at ``created``."""
    return {
        "job_id": job.job_id, "backend": job.backend, "status": ApiJobStatus.CREATED.value,
        "creation_date": created, "name": job.name, "tags": json.dumps(job.tags),
        "share_level": job.share_level, "experiment_id": job.experiment_id,
        "client_info": json.dumps(job.client_info), "options": job.options.model_dump_json(),
        "header": json.dumps(job.header), "private": int(job.private),
        "owner_user": job.owner.user, "owner_hub": job.owner.hub, "owner_group": job.owner.group,
        "owner_project": job.owner.project, "num_experiments": job.num_experiments,
        "idempotency_key": job.idempotency_key, "program_id": job.program_id,
        "session_id": job.session_id,
    }


@dataclass(frozen=True)
class StatusRow:
    """A job's status and who may see it: what a status answer or a visibility check reads (no steps, no options).

    A long-poll reads this at every wake-up; the whole record (~4x the cost) only once the job is final.
    """

    status: ApiJobStatus
    error: JobError | None
    owner: Identity
    share_level: str


#: The ``jobs`` columns a :class:`StatusRow` is read from.
STATUS_COLUMNS = (jobs.c.status, jobs.c.error_code, jobs.c.error_message, jobs.c.owner_user, jobs.c.owner_hub,
                  jobs.c.owner_group, jobs.c.owner_project, jobs.c.share_level)


def status_row(row: RowMapping) -> StatusRow:
    """A row of :data:`STATUS_COLUMNS` as a :class:`StatusRow`."""
    return StatusRow(status=ApiJobStatus(row["status"]), error=_error(row), owner=_owner(row),
                     share_level=row["share_level"])


def _error(row: RowMapping) -> JobError | None:
    if row["error_code"] is None:
        return None
    return JobError(code=row["error_code"], message=row["error_message"] or "")


def _owner(row: RowMapping) -> Identity:
    return Identity(user=row["owner_user"], hub=row["owner_hub"], group=row["owner_group"],
                    project=row["owner_project"])


def records(conn: Connection, rows: list[RowMapping]) -> list[JobRecord]:
    """The records of ``jobs`` rows, with their steps read in the same transaction."""
    ids = [row["job_id"] for row in rows]
    by_job: dict[str, dict[str, str]] = {job_id: {} for job_id in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = select(steps.c.job_id, steps.c.status, steps.c.at).where(steps.c.job_id.in_(chunk))
        for step in conn.execute(query.order_by(steps.c.id)):
            by_job[step.job_id][step.status] = step.at
    return [record(row, by_job[row["job_id"]]) for row in rows]


def record(row: RowMapping, steps_at: dict[str, str]) -> JobRecord:
    """One ``jobs`` row and its steps (status -> time entered) as the wire's record."""
    return JobRecord(
        job_id=row["job_id"],
        backend=row["backend"],
        status=ApiJobStatus(row["status"]),
        creation_date=row["creation_date"],
        name=row["name"],
        tags=json.loads(row["tags"]),
        share_level=row["share_level"],
        experiment_id=row["experiment_id"],
        client_info=json.loads(row["client_info"]),
        options=RunOptions.model_validate_json(row["options"]),
        header=json.loads(row["header"]),
        private=bool(row["private"]),
        owner=_owner(row),
        num_experiments=row["num_experiments"],
        time_per_step=steps_at,
        run_mode=row["run_mode"],
        error=_error(row),
        result_consumed=bool(row["result_consumed"]),
        requeued=row["requeued"],
        program_id=row["program_id"],
        session_id=row["session_id"],
        # A Qiskit Runtime job is its program's inputs, not a list of QPY circuits.
        kind=RUNTIME_KIND_PREFIX + row["program_id"] if row["program_id"] else CIRCUITS_KIND,
    )
