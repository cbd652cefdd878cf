"""``RuntimeJob``: a runtime job with the part of the ``IBMQJob`` surface the tasks and flows use.

It reads the job's raw document (one ``GET /jobs/{id}`` gives status, reason,
tags, creation time and session) and its metrics (timestamps, usage) and keeps
them as a ``wire.JobRecord`` (see ``runtime.records``). Transient faults become
``IBMQJobApiError``, the error the Prefect tasks retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus

from prefect_ibmq.exceptions import IBMQJobFailureError, IBMQJobInvalidStateError
from prefect_ibmq.job.status import api_status_to_job_status
from prefect_ibmq.runtime.errors import retrying, transient_as_api_error
from prefect_ibmq.runtime.programs import get_program
from prefect_ibmq.runtime.records import (
    NAME_TAG,
    RuntimeJobFacts,
    api_status,
    job_record,
    reserved_tags,
)
from prefect_ibmq.wire import ApiJobStatus, JobRecord

if TYPE_CHECKING:
    from prefect_ibmq.runtime.platform import RuntimePlatform

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


class RuntimeJob:
    """A job on IBM Quantum Platform, read through the stock runtime client."""

    def __init__(self, platform: RuntimePlatform, facts: RuntimeJobFacts) -> None:
        self._platform = platform
        self._facts = facts

    def __repr__(self) -> str:
        return f"<RuntimeJob {self.job_id()} {self._facts.status} on {self._facts.backend}>"

    def job_id(self) -> str:
        """The job's id on IBM Quantum Platform."""
        return self._facts.job_id

    @property
    def record(self) -> JobRecord:
        """What was last read about the job, as a JobRecord."""
        return job_record(self._facts)

    def name(self) -> str | None:
        """The name kept in the job's ``job_name:`` tag (IBM Quantum Platform has no job names)."""
        return self.record.name

    def tags(self) -> list[str]:
        """The job's tags as last read (a copy)."""
        return list(self._facts.tags)

    def status(self) -> JobStatus:
        """The job's current status (one request unless it is final)."""
        if not api_status(self._facts.status).is_final:
            self.refresh(metrics=False)
        return api_status_to_job_status(api_status(self._facts.status))

    def queue_position(self, refresh: bool = False) -> None:
        """Always None: IBM removed queue positions from IBM Quantum Platform."""
        return None

    def queue_info(self) -> None:
        """Always None: IBM Quantum Platform reports no queue information."""
        return None

    def error_message(self) -> str | None:
        """Why the job failed, or None unless it ended in ERROR_RUNNING_JOB."""
        return self._facts.error_message if api_status(self._facts.status) is ApiJobStatus.ERROR_RUNNING_JOB else None

    def refresh(self, metrics: bool = True) -> None:
        """Read the job's document again, and its metrics once it is final (unless ``metrics`` is False)."""
        document = retrying(f"reading job {self.job_id()}", lambda: self._platform.client.job_get(self.job_id()))
        facts = facts_from_document(document, self._platform.instance)
        facts.metrics, facts.num_pubs = self._facts.metrics, self._facts.num_pubs
        self._facts = facts
        if metrics and api_status(facts.status).is_final and facts.metrics is None:
            self._read_metrics()

    def _read_metrics(self) -> None:
        self._facts.metrics = retrying(f"reading metrics of job {self.job_id()}",
                                       lambda: self._platform.client.job_metadata(self.job_id()))

    def result(self, partial: bool = False) -> Any:
        """The final job's result as its program hands it out (sampler: a ``qiskit.result.Result``).

        IBM Quantum Platform keeps no partial results: with ``partial`` a failed
        job gives its program's empty form (sampler: a Result whose experiments all
        failed; estimator: a PrimitiveResult without PUB results).

        Raises:
            IBMQJobFailureError: The job failed and ``partial`` is False.
            IBMQJobInvalidStateError: The job is not final, or was cancelled.
        """
        status = api_status(self._facts.status)
        if not status.is_final or status is ApiJobStatus.CANCELLED:
            raise IBMQJobInvalidStateError(f"Job {self.job_id()} is {status.value}; it has no result to read.")
        program = get_program(self._facts.program)

        def read() -> Any:
            runtime_job = self._platform.service.job(self.job_id())
            inputs = runtime_job.inputs
            if status is ApiJobStatus.ERROR_RUNNING_JOB:
                message = self._facts.error_message or "no reason given"
                if not partial:
                    raise IBMQJobFailureError(f"Job {self.job_id()} failed: {message}")
                return program.failed_result(self.job_id(), self._facts.backend, inputs, message)
            return program.result(self.job_id(), self._facts.backend, runtime_job.result(), inputs)

        return retrying(f"reading the result of job {self.job_id()}", read)

    def cancel(self) -> bool:
        """Cancel the job; False when it was already final (IBM answers 409)."""
        from qiskit_ibm_runtime.api.exceptions import RequestsApiError

        try:
            with transient_as_api_error(f"cancelling job {self.job_id()}"):
                self._platform.client.job_cancel(self.job_id())
        except RequestsApiError as error:
            if error.status_code != 409:
                raise
            self.refresh(metrics=False)
            return False
        self.refresh(metrics=False)
        return True

    def update_tags(self, replacement_tags: list[str] | None = None, additional_tags: list[str] | None = None,
                    removal_tags: list[str] | None = None) -> list[str]:
        """Replace, then add, then remove tags (the adapter's name and idempotency tags stay)."""
        current = self._facts.tags
        tags = list(current) if replacement_tags is None else replacement_tags + reserved_tags(current)
        tags += [tag for tag in additional_tags or () if tag not in tags]
        tags = [tag for tag in tags if tag not in (removal_tags or ()) or tag in reserved_tags([tag])]
        return self._put_tags(tags)

    def update_name(self, name: str) -> str:
        """Rename the job: IBM Quantum Platform has no names, so this rewrites its ``job_name:`` tag."""
        self._put_tags([tag for tag in self._facts.tags if not tag.startswith(NAME_TAG)] + [NAME_TAG + name])
        return name

    def _put_tags(self, tags: list[str]) -> list[str]:
        with transient_as_api_error(f"updating the tags of job {self.job_id()}"):
            self._platform.client.update_tags(self.job_id(), list(dict.fromkeys(tags)))
        self.refresh(metrics=False)
        return self.tags()
