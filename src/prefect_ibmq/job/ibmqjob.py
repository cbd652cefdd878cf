"""``IBMQJob``: a job of circuits on the job service, method for method the legacy provider's."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from qiskit import QuantumCircuit
from qiskit.providers import JobStatus, JobV1
from qiskit.qpy.exceptions import QpyError
from qiskit.result import Result

from prefect_ibmq.api import AccountClient
from prefect_ibmq.arguments import check_seconds, check_str, tags_update
from prefect_ibmq.exceptions import (
    IBMQJobApiError,
    IBMQJobInvalidStateError,
)
from prefect_ibmq.job.queueinfo import QueueInfo
from prefect_ibmq.job.record_view import JobRecordView, record_with_status
from prefect_ibmq.job.result_checks import check_result_readable, result_unavailable_error
from prefect_ibmq.job.times import utc_iso_to_local
from prefect_ibmq.job.waiting import Waiting, poll_seconds
from prefect_ibmq.wire import (
    JobRecord,
    JobStatusResponse,
    base64_to_circuits,
    lifecycle_index,
    new_read_key,
)

if TYPE_CHECKING:
    from prefect_ibmq.properties import BackendProperties

logger = logging.getLogger(__name__)


JobCallback = Callable[..., None]


class JobBackend(Protocol):
    """What a job needs of its backend (an ``IBMQBackend``): its name and its published noise."""

    @property
    def name(self) -> str:
        """The backend's name."""
        ...

    def properties(self) -> BackendProperties | None:
        """The backend's noise properties, or None for an ideal backend."""
        ...


class IBMQJob(JobRecordView, JobV1):
    """A job that runs circuits on a backend of the job service.

    Made by :meth:`IBMQBackend.run` or fetched by :meth:`IBMQService.job` /
    :meth:`IBMQService.jobs`. Methods that need the server raise
    :class:`IBMQJobApiError` when it cannot be reached (retrying is likely to
    succeed). Waiting (:meth:`wait_for_final_state`, :meth:`result`) uses the
    service's long-poll: a request answers as soon as the job is final (with a
    callback: as soon as it changes), so waiting costs one request per ``wait``
    window and no sleeping, and the final answer brings the whole job record.

    Args:
        backend: The backend the job runs on.
        api_client: The client connected to the service.
        job_id: Job id.
        creation_date: Creation date, ISO 8601 (UTC).
        status: The service status (an ``ApiJobStatus`` value).
        kind: Job type (``"qpy-circuits"``).
        name: Job name.
        time_per_step: Step name -> ISO time the step was entered.
        result: A result dict, cached as this job's result.
        qobj: Accepted for compatibility and ignored: jobs carry QPY circuits, not Qobj.
        error: The job's error ``{"code", "message"}``, if it failed.
        tags: Job tags.
        run_mode: Scheduling mode the job runs in.
        share_level: Level the job is shared at (global, hub, group, project, none).
        client_info: Versions of the client that submitted the job.
        experiment_id: Id of the experiment the job is part of.
        kwargs: Further fields of :class:`~prefect_ibmq.wire.JobRecord`
            (``owner`` and ``num_experiments`` are required; the service always
            sends them). Unknown fields are ignored.

    Raises:
        pydantic.ValidationError: If the fields do not make a valid job record.
    """

    def __init__(
        self,
        backend: JobBackend,
        api_client: AccountClient,
        job_id: str,
        creation_date: str,
        status: str,
        kind: str | None = None,
        name: str | None = None,
        time_per_step: dict | None = None,
        result: dict | None = None,
        qobj: Any = None,
        error: dict | None = None,
        tags: list[str] | None = None,
        run_mode: str | None = None,
        share_level: str | None = None,
        client_info: dict[str, str] | None = None,
        experiment_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backend, job_id)
        self._api = api_client
        given = dict(kind=kind, name=name, time_per_step=time_per_step, error=error, tags=tags, run_mode=run_mode,
                     share_level=share_level, client_info=client_info, experiment_id=experiment_id)
        fields = {**kwargs, **{key: value for key, value in given.items() if value is not None}}
        fields.update(job_id=job_id, backend=backend.name, creation_date=creation_date, status=status)
        self._record = JobRecord.model_validate(fields)
        self._result: Result | None = Result.from_dict(result) if result else None
        # This instance's key for reading a private result: a read that failed may be repeated.
        self._read_key = new_read_key()
        self._circuits: list[QuantumCircuit] | None = None

    @classmethod
    def from_record(cls, backend: JobBackend, api_client: AccountClient, record: JobRecord) -> IBMQJob:
        """A job instance for a record the service sent."""
        return cls(backend, api_client, **record.model_dump(exclude={"backend"}))

    def submit(self) -> None:
        """Unsupported: submit with :meth:`IBMQBackend.run`.

        Raises:
            NotImplementedError: Always.
        """
        raise NotImplementedError("IBMQJob.submit() is not supported; use IBMQBackend.run() to submit a job.")

    # --- status --------------------------------------------------------------

    def status(self) -> JobStatus:
        """The job's status; once final it is cached and no request is made.

        For waiting use :meth:`wait_for_final_state`, which long-polls instead of
        asking again and again.

        Raises:
            IBMQJobApiError: If the service could not be reached.
        """
        if not self._record.status.is_final:
            self._apply_status(self._api.get_job_status(self.job_id()))
        return self._job_status()

    def done(self) -> bool:
        """Whether the job has run successfully."""
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        """Whether the job is running."""
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        """Whether the job was cancelled."""
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Whether the job is done, cancelled or failed."""
        return self.status() in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR)

    def error_message(self) -> str | None:
        """Why the job failed, or None if it has not failed.

        Unlike the legacy provider this does not wait for a running job to finish:
        a job that has not failed (yet) answers None.
        """
        if self.status() is not JobStatus.ERROR:
            return None
        error = self._record.error
        if error is None:
            return f"The job ended in {self._record.status.value}; the service gave no details."
        return f"{error.message}. Error code: {error.code}."

    def queue_info(self) -> QueueInfo | None:
        """Queue information, or None when the job is not queued or nothing is known yet.

        Asks the service for the latest status first.
        """
        self.status()
        return self._queue_info()

    def queue_position(self, refresh: bool = False) -> int | None:
        """The job's position in its backend's queue, or None when unknown or not queued.

        Args:
            refresh: If True, ask the service; otherwise answer from the last status seen.
        """
        if refresh:
            self.status()
        info = self._queue_info()
        return info.position if info else None

    def scheduling_mode(self) -> str | None:
        """How the job is scheduled (``"fairshare"``), or None before it is."""
        if self._record.run_mode is None and not self._record.status.is_final:
            self.refresh()
        return self._record.run_mode

    def time_per_step(self) -> dict[str, datetime] | None:
        """Step name -> tz-aware local time it was entered, in lifecycle order; None if nothing is known."""
        if not self._record.time_per_step or not self._record.status.is_final:
            self.refresh()
        steps = self._record.time_per_step
        if not steps:
            return None
        names = sorted(steps, key=lifecycle_index)
        return {step: utc_iso_to_local(steps[step]) for step in names}

    def refresh(self) -> None:
        """Get the latest job information from the service.

        Raises:
            IBMQJobApiError: If the service could not be reached.
        """
        self._record = self._api.get_job(self.job_id())

    # --- waiting and results -------------------------------------------------

    def wait_for_final_state(
        self,
        timeout: float | None = None,
        wait: float | None = None,
        callback: JobCallback | None = None,
    ) -> None:
        """Wait until the job is done, cancelled or failed.

        Without ``callback`` each request is a long-poll that the service answers
        only when the job is final (or after ``wait`` seconds): one request per
        ``wait`` seconds (60 when None), however many statuses the job passes
        through. With ``callback`` each long-poll also ends at a status change,
        so the callback hears every change. The final answer carries the job's
        whole record, so :attr:`record`, :meth:`time_per_step` and
        :meth:`scheduling_mode` need no further request afterwards.

        Args:
            timeout: Seconds to wait; None waits as long as it takes.
            wait: Seconds between calls of ``callback`` (each call follows one
                long-poll of that length, which also ends early at a status
                change); without ``callback``, the longest single long-poll. If
                None, ``callback`` is called only when the status or the queue
                position changed.
            callback: Called after each query of a job not yet final as
                ``callback(job_id, job_status, job, queue_info=queue_info)``, with
                the qiskit ``JobStatus`` and a :class:`QueueInfo` or None.

        Raises:
            IBMQJobTimeoutError: If the job is not final within ``timeout``.
            IBMQValueError: If ``timeout`` or ``wait`` is negative or not a number.
            IBMQJobApiError: If the service could not be reached for
                ``WAIT_OUTAGE_TOLERANCE_S`` seconds (shorter outages are waited out).
        """
        check_seconds("timeout", timeout)
        check_seconds("wait", wait)
        watch_queue = callback is not None and wait is None
        waiting = Waiting(self.job_id(), timeout, poll_seconds(wait), time.monotonic)
        while not self._record.status.is_final:
            seconds = waiting.next_poll(self._record.status)
            known_position = self.queue_position() if watch_queue else None
            try:
                # `known` too: a server without `until` then still waits from the status we know.
                answer = self._api.get_job_status(
                    self.job_id(), wait=seconds, known=self._record.status, known_position=known_position,
                    until_final=callback is None,
                )
            except IBMQJobApiError as exc:
                time.sleep(waiting.unreachable(exc))
                continue
            waiting.answered()
            self._apply_status(answer)
            changed = not answer.timed_out
            if callback is not None and not self._record.status.is_final and (wait is not None or changed):
                callback(self.job_id(), self._job_status(), self, queue_info=self._queue_info())

    def result(
        self,
        timeout: float | None = None,
        wait: float = 5,
        partial: bool = False,
        refresh: bool = False,
    ) -> Result:
        """The job's result, after waiting for the job to finish.

        The first call reads the result from the service and caches it in this
        instance; later calls answer from the cache. A private job's result can
        be read from the service only once: other instances then get
        :class:`IBMQJobResultConsumedError`. This instance may repeat a read
        that failed on the way (the service holds the result for it until the
        client acknowledges the answer).

        With ``partial=True`` a failed job answers the experiments that ran;
        ``result.success`` is then False and ``get_counts`` of a failed
        experiment raises ``QiskitError``.

        Args:
            timeout: Seconds to wait for the job; None waits as long as it takes.
            wait: Longest seconds between status queries (each is a long-poll).
            partial: Return the partial result of a failed job.
            refresh: Read the result from the service again instead of the cache.

        Raises:
            IBMQJobInvalidStateError: If the job was cancelled.
            IBMQJobFailureError: If the job failed (and ``partial`` is False, or
                it failed before running any experiment).
            IBMQJobResultConsumedError: If this private job's result was already read.
            IBMQJobTimeoutError: If the job is not final within ``timeout``.
            IBMQJobApiError: If the service could not be reached.
        """
        check_seconds("wait", wait)
        self.wait_for_final_state(timeout=timeout, wait=poll_seconds(wait))
        check_result_readable(self._record, partial)
        if self._result is None or refresh:
            self._result = Result.from_dict(self._read_result(partial))
        return self._result

    def _read_result(self, partial: bool) -> dict[str, Any]:
        try:
            return self._api.get_job_result(self.job_id(), partial=partial, read_key=self._read_key)
        except IBMQJobInvalidStateError as exc:
            error = result_unavailable_error(self._record, exc)
            if error is exc:
                raise
            raise error from exc

    # --- changes -------------------------------------------------------------

    def cancel(self) -> bool:
        """Ask the service to cancel the job.

        Returns:
            True if the job is cancelled, False if it could not be (it was already final).

        Raises:
            IBMQJobApiError: If the service could not be reached.
        """
        if self._record.status.is_final:
            return False
        try:
            answer = self._api.cancel_job(self.job_id())
        except IBMQJobInvalidStateError:
            # It reached a final state before the request arrived.
            self.refresh()
            return False
        self._record = self._record.model_copy(update={"status": answer.status})
        if answer.status.is_final:
            self.refresh()
        return answer.cancelled

    def update_name(self, name: str) -> str:
        """Rename the job and return its new name.

        Raises:
            IBMQValueError: If ``name`` is not a str (nothing is sent).
            IBMQJobApiError: If the service could not be reached.
        """
        check_str("name", name)
        new_name = self._api.update_job_name(self.job_id(), name)
        self._record = self._record.model_copy(update={"name": new_name})
        return new_name

    def update_tags(
        self,
        replacement_tags: list[str] | None = None,
        additional_tags: list[str] | None = None,
        removal_tags: list[str] | None = None,
    ) -> list[str]:
        """Update the job's tags and return the new ones.

        Applied in this order: ``replacement_tags`` replace the tags, then
        ``additional_tags`` are added, then ``removal_tags`` are removed (a tag
        both added and removed is a no-op; removing a tag the job lacks is
        ignored). Tags starting with ``ibmq_jobset`` mark a job set: a
        replacement keeps them and no list may name them.

        Raises:
            IBMQValueError: If no list is given, a list is not a list of
                str, or a list names a job-set tag (nothing is sent then).
            IBMQJobApiError: If the service could not be reached.
        """
        update = tags_update(replacement_tags, additional_tags, removal_tags)
        new_tags = self._api.update_job_tags(self.job_id(), update)
        self._record = self._record.model_copy(update={"tags": new_tags})
        return list(new_tags)

    # --- the job's data on the service ---------------------------------------

    def circuits(self) -> list[QuantumCircuit]:
        """The job's circuits (read once from the service, then cached).

        Returns an empty list when the stored circuits cannot be read by this
        qiskit (a QPY version it does not know).
        """
        if self._circuits is None:
            text = self._api.get_job_circuits(self.job_id())
            try:
                self._circuits = base64_to_circuits(text)
            except QpyError as exc:
                logger.warning("The circuits of job %s cannot be read: %s", self.job_id(), exc)
                return []
        return list(self._circuits)

    def properties(self) -> BackendProperties | None:
        """The noise properties of the job's backend, or None for an ideal backend.

        Raises:
            IBMQJobApiError: If the service could not be reached.
        """
        return self.backend().properties()

    # --- internals -----------------------------------------------------------

    def _apply_status(self, answer: JobStatusResponse) -> None:
        """Take in a status answer; a final one carries the whole record (else it is read once)."""
        self._record = record_with_status(self._record, answer)
        if answer.status.is_final and self._record is not answer.record:
            self.refresh()  # a server that does not send the record with a final status
