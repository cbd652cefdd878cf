"""``JobRecordView``: what an ``IBMQJob`` answers from the last job record it saw, without a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qiskit.providers import JobStatus

from prefect_ibmq.job.queueinfo import QueueInfo
from prefect_ibmq.job.status import api_status_to_job_status
from prefect_ibmq.job.times import utc_iso_to_local
from prefect_ibmq.wire import ApiJobStatus, JobRecord, JobStatusResponse


class JobRecordView:
    """The legacy accessors that read only the job's record (``_record``, kept fresh by ``IBMQJob``)."""

    _record: JobRecord

    def __repr__(self) -> str:
        return f"<IBMQJob('{self._record.job_id}') on {self._record.backend}: {self._record.status.value}>"

    @property
    def record(self) -> JobRecord:
        """The latest job record this instance has seen (no request; read-only)."""
        return self._record

    @property
    def client_version(self) -> dict[str, str]:
        """Versions of the client that submitted this job, name -> version."""
        return dict(self._record.client_info)

    @property
    def experiment_id(self) -> str | None:
        """Id of the experiment this job is part of (None when it is part of none)."""
        return self._record.experiment_id

    def backend_options(self) -> dict[str, Any]:
        """The run options used for this job (shots, memory, seed_simulator when set)."""
        return self._record.options.model_dump(exclude_none=True)

    def creation_date(self) -> datetime:
        """The job's creation date as a tz-aware datetime in local time."""
        return utc_iso_to_local(self._record.creation_date)

    def header(self) -> dict[str, Any]:
        """The user header given at submission (empty when none was)."""
        return dict(self._record.header)

    def name(self) -> str | None:
        """The job's name, or None if it has none."""
        return self._record.name

    def tags(self) -> list[str]:
        """The job's tags."""
        return list(self._record.tags)

    def share_level(self) -> str:
        """The level the job is shared at: global, hub, group, project or none."""
        return self._record.share_level

    def qobj(self) -> None:
        """Always None: jobs carry QPY circuits (see :meth:`circuits`), and qiskit 2 has no Qobj."""
        return None

    def _job_status(self) -> JobStatus:
        return api_status_to_job_status(self._record.status)

    def _queue_info(self) -> QueueInfo | None:
        model = self._record.queue_info
        if self._record.status is not ApiJobStatus.QUEUED or model is None:
            return None
        info = QueueInfo.from_model(model, job_id=self._record.job_id)
        return info if info.has_information() else None


def record_with_status(record: JobRecord, answer: JobStatusResponse) -> JobRecord:
    """The job's record after a status answer: the whole record when the answer carries it (a final one does)."""
    if answer.record is not None and answer.record.job_id == record.job_id:
        return answer.record
    return record.model_copy(update={"status": answer.status, "queue_info": answer.queue_info, "error": answer.error})
