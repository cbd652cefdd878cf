"""``QueueInfo``: where a queued job stands, as the legacy provider reported it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from qiskit.providers import JobStatus

from prefect_ibmq.job.status import api_status_to_job_status
from prefect_ibmq.job.times import humanize, utc_iso_to_local
from prefect_ibmq.wire import QueueInfoModel

#: The queue's own word for a waiting job (the legacy service's), shown as QUEUED.
_PENDING_IN_QUEUE = "PENDING_IN_QUEUE"


@dataclass
class QueueInfo:
    """Queue information of a job; a field is None when the service does not know it.

    Attributes:
        position: Position in the queue of its backend (1 is next).
        status: The job's status in the queue as the service words it, e.g. ``"PENDING_IN_QUEUE"``.
        estimated_start_time: When the job should start, tz-aware local time.
        estimated_complete_time: When the job should finish, tz-aware local time.
        hub_priority: Dynamic priority of the job's hub.
        group_priority: Dynamic priority of the job's group.
        project_priority: Dynamic priority of the job's project.
        job_id: The job's id.
    """

    position: int | None = None
    status: str | None = None
    estimated_start_time: datetime | None = None
    estimated_complete_time: datetime | None = None
    hub_priority: float | None = None
    group_priority: float | None = None
    project_priority: float | None = None
    job_id: str | None = None

    @classmethod
    def from_model(cls, model: QueueInfoModel, job_id: str | None = None) -> QueueInfo:
        """Build from the wire model (ISO UTC strings become local datetimes)."""
        return cls(
            position=model.position,
            status=model.status,
            estimated_start_time=_local_or_none(model.estimated_start_time),
            estimated_complete_time=_local_or_none(model.estimated_complete_time),
            hub_priority=model.hub_priority,
            group_priority=model.group_priority,
            project_priority=model.project_priority,
            job_id=job_id,
        )

    def has_information(self) -> bool:
        """Whether any field other than the job id and status is known."""
        return any(value is not None for key, value in asdict(self).items() if key not in ("job_id", "status"))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (datetimes stay datetimes)."""
        return asdict(self)

    def format(self) -> str:
        """A report for people, with times relative to now."""
        lines = [
            f"Job {_or_unknown(self.job_id)} queue information:",
            f"    queue position: {_or_unknown(self.position)}",
            f"    status: {self._job_status_name()}",
            f"    estimated start time: {_relative_or_unknown(self.estimated_start_time)}",
            f"    estimated completion time: {_relative_or_unknown(self.estimated_complete_time)}",
            f"    hub priority: {_or_unknown(self.hub_priority)}",
            f"    group priority: {_or_unknown(self.group_priority)}",
            f"    project priority: {_or_unknown(self.project_priority)}",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        fields = [
            f"job_id='{_or_unknown(self.job_id)}'",
            f"_status='{self._job_status_name()}'",
            f"estimated_start_time='{_iso_or_unknown(self.estimated_start_time)}'",
            f"estimated_complete_time='{_iso_or_unknown(self.estimated_complete_time)}'",
            f"position='{_or_unknown(self.position)}'",
            f"hub_priority='{_or_unknown(self.hub_priority)}'",
            f"group_priority='{_or_unknown(self.group_priority)}'",
            f"project_priority='{_or_unknown(self.project_priority)}'",
        ]
        return f"<QueueInfo({', '.join(fields)})>"

    def _job_status_name(self) -> str:
        # Shown as qiskit's status, like the rest of IBMQJob; an unknown value is shown as given.
        if self.status is None:
            return "unknown"
        if self.status == _PENDING_IN_QUEUE:
            return JobStatus.QUEUED.name
        try:
            return api_status_to_job_status(self.status).name
        except ValueError:
            return self.status


def _local_or_none(value: str | None) -> datetime | None:
    return utc_iso_to_local(value) if value else None


def _or_unknown(value: Any) -> Any:
    return "unknown" if value is None else value


def _iso_or_unknown(value: datetime | None) -> str:
    return value.isoformat() if value else "unknown"


def _relative_or_unknown(value: datetime | None) -> str:
    return humanize(value) if value else "unknown"
