"""Runtime jobs as ``wire.JobRecord``: the record the tasks, tables and flows already use.

Where IBM Quantum Platform differs from the legacy job service:

- statuses: ``QUEUED``/``RUNNING``/``DONE``/``ERROR``/``CANCELLED`` map to
  QUEUED, RUNNING, COMPLETED, ERROR_RUNNING_JOB, CANCELLED (a runtime job is
  queued as soon as it is created; there is no validation step to report);
- steps: the metrics' ``timestamps`` give ``created`` (recorded as QUEUED),
  ``running`` and ``finished`` (the final status), so ``queue_s``, ``run_s`` and
  ``total_s`` are known and ``validation_s`` is not;
- no queue positions (IBM removed them), no partial results (a failed job has
  none), no job names: a name is kept as the tag ``job_name:<name>``;
- no Idempotency-Key: a submission carries the tag ``idempotency:<key>``;
- no hub/group/project: the owner's ``project`` is the instance CRN;
- a job still queued when its batch or session reaches its ``max_ttl`` is cancelled
  with reason code :data:`SESSION_EXPIRED_CODE` (:func:`expired_before_running`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prefect_ibmq.wire import ApiJobStatus, Identity, JobError, JobRecord

NAME_TAG = "job_name:"
IDEMPOTENCY_TAG = "idempotency:"
#: ``state.reason_code`` of a job IBM cancelled because its batch or session expired before the job ran.
SESSION_EXPIRED_CODE = 1520
#: Tags the adapter manages; replacing or removing a job's tags keeps them.
RESERVED_TAG_PREFIXES = (NAME_TAG, IDEMPOTENCY_TAG)

#: ``RuntimeJobV2.status()`` values (and raw API states) -> ApiJobStatus.
STATUS_MAP: dict[str, ApiJobStatus] = {
    "INITIALIZING": ApiJobStatus.CREATING,
    "QUEUED": ApiJobStatus.QUEUED,
    "RUNNING": ApiJobStatus.RUNNING,
    "DONE": ApiJobStatus.COMPLETED,
    "COMPLETED": ApiJobStatus.COMPLETED,
    "ERROR": ApiJobStatus.ERROR_RUNNING_JOB,
    "FAILED": ApiJobStatus.ERROR_RUNNING_JOB,
    "CANCELLED": ApiJobStatus.CANCELLED,
}


@dataclass
class RuntimeJobFacts:
    """What the runtime client tells about a job, gathered before it becomes a record."""

    job_id: str
    backend: str
    status: str
    program: str
    instance: str
    created: str | None = None
    tags: list[str] = field(default_factory=list)
    session_id: str | None = None
    num_pubs: int | None = None
    metrics: Mapping[str, Any] | None = None
    error_message: str | None = None
    reason_code: int | None = None


def facts_from_document(document: dict[str, Any], instance: str) -> RuntimeJobFacts:
    """The facts of a job document as ``GET /jobs/{id}`` or a listing gives it."""
    state = document.get("state") or {}
    return RuntimeJobFacts(
        job_id=document["id"],
        backend=document.get("backend") or "",
        status=state.get("status") or document.get("status") or "QUEUED",
        program=(document.get("program") or {}).get("id") or "sampler",
        instance=instance,
        created=document.get("created"),
        tags=list(document.get("tags") or []),
        session_id=document.get("session_id"),
        error_message=state.get("reason"),
        reason_code=state.get("reason_code") or state.get("reasonCode"),
    )


def expired_before_running(record: JobRecord) -> bool:
    """Whether the job was cancelled, never having run, because its batch or session reached its max_ttl."""
    return (record.status is ApiJobStatus.CANCELLED and record.error is not None
            and record.error.code == SESSION_EXPIRED_CODE)


def api_status(status: str) -> ApiJobStatus:
    """The ApiJobStatus of a runtime status name; ValueError names the accepted ones."""
    try:
        return STATUS_MAP[str(status).upper()]
    except KeyError:
        raise ValueError(f"unknown runtime job status {status!r}; expected one of {sorted(STATUS_MAP)}") from None


def name_from_tags(tags: Iterable[str]) -> str | None:
    """The job name kept in a ``job_name:`` tag, if any."""
    return next((tag[len(NAME_TAG):] for tag in tags if tag.startswith(NAME_TAG)), None)


def reserved_tags(tags: Iterable[str]) -> list[str]:
    """The adapter's own tags (name, idempotency key) among ``tags``."""
    return [tag for tag in tags if tag.startswith(RESERVED_TAG_PREFIXES)]


def updated_tags(current: list[str], replacement_tags: list[str] | None, additional_tags: list[str] | None,
                 removal_tags: list[str] | None) -> list[str]:
    """Tags after replacing, then adding, then removing (see ``IBMQJob.update_tags``); the adapter's own stay."""
    tags = list(current) if replacement_tags is None else replacement_tags + reserved_tags(current)
    tags += [tag for tag in additional_tags or () if tag not in tags]
    tags = [tag for tag in tags if tag not in (removal_tags or ()) or tag.startswith(RESERVED_TAG_PREFIXES)]
    return list(dict.fromkeys(tags))


def renamed_tags(current: list[str], name: str) -> list[str]:
    """Tags with the job name ``name`` (IBM Quantum Platform keeps a name as a ``job_name:`` tag)."""
    return [tag for tag in current if not tag.startswith(NAME_TAG)] + [NAME_TAG + name]


def time_per_step(status: ApiJobStatus, created: str | None, metrics: Mapping[str, Any] | None) -> dict[str, str]:
    """Step -> entry time from the metrics timestamps (``created`` alone before metrics are read)."""
    stamps = dict((metrics or {}).get("timestamps") or {})
    steps: dict[str, str] = {}
    queued = stamps.get("created") or created
    if queued:
        steps[ApiJobStatus.QUEUED.value] = queued
    if stamps.get("running"):
        steps[ApiJobStatus.RUNNING.value] = stamps["running"]
    if stamps.get("finished") and status.is_final:
        steps[status.value] = stamps["finished"]
    return steps


def job_record(facts: RuntimeJobFacts) -> JobRecord:
    """The JobRecord of a runtime job (see the module docstring for what maps how)."""
    status = api_status(facts.status)
    metrics = facts.metrics or {}
    num_pubs = facts.num_pubs if facts.num_pubs is not None else metrics.get("num_circuits")
    error = None
    if status in (ApiJobStatus.ERROR_RUNNING_JOB, ApiJobStatus.CANCELLED) and facts.error_message:
        error = JobError(code=int(facts.reason_code or 0), message=facts.error_message)
    steps = time_per_step(status, facts.created, metrics)
    return JobRecord(
        job_id=facts.job_id,
        backend=facts.backend,
        status=status,
        creation_date=facts.created or next(iter(steps.values()), ""),
        kind=f"runtime-{facts.program or 'unknown'}",
        name=name_from_tags(facts.tags),
        tags=list(facts.tags),
        owner=Identity(user="", hub="", group="", project=facts.instance),
        num_experiments=int(num_pubs or 0),
        time_per_step=steps,
        run_mode=None,
        queue_info=None,
        error=error,
        program_id=facts.program,
        session_id=facts.session_id,
    )
