"""``IBMQService``: the entry point — backends and jobs of one job service, as one identity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from os import PathLike
from typing import Any, TypeAlias

from qiskit.providers import JobStatus

from prefect_ibmq.api import AccountClient, AsyncAccountClient, RetryPolicy
from prefect_ibmq.arguments import check_choice, check_int, check_tags, rejected
from prefect_ibmq.backend.ibmqbackend import IBMQBackend
from prefect_ibmq.exceptions import IBMQBackendNotFoundError
from prefect_ibmq.job import IBMQJob
from prefect_ibmq.job.status import job_status_to_api_statuses
from prefect_ibmq.job.times import to_utc_iso
from prefect_ibmq.wire import ApiJobStatus, JobRecord

#: A status to list jobs by: qiskit's, the service's, or either one's name.
StatusFilter: TypeAlias = str | JobStatus | ApiJobStatus
_MAX_LIST_LIMIT = 1000
#: The filters of :meth:`IBMQService.jobs`, which :meth:`IBMQService.iter_jobs` takes too.
_FILTERS = ("backend_name", "status", "job_name", "start_datetime", "end_datetime", "job_tags",
            "job_tags_operator", "experiment_id")


class IBMQService:
    """Backends and jobs of the job service at ``url``, seen as the token's identity.

    Use it as a context manager, or call :meth:`close`, to release its connections.

    Args:
        url: The service's base URL, e.g. ``http://127.0.0.1:8765``.
        token: The bearer token of your identity; never shown in a repr, log or error.
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for an answer (long-polls add their wait).
        retry: Backoff and number of repeats of transient failures.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api = AccountClient(
            url, token, connect_timeout=connect_timeout, read_timeout=read_timeout, retry=retry
        )
        self._backends: dict[str, IBMQBackend] = {}
        self._on_close: Callable[[], None] | None = None

    @classmethod
    def local(cls, data_dir: str | PathLike[str] | None = None) -> IBMQService:
        """The embedded default: the job service of ``data_dir``, started in this process if none runs.

        ``data_dir`` defaults to ``$PREFECT_IBMQ_DATA_DIR``, else ``~/.prefect-ibmq``.
        If ``data_dir/server.json`` names a server that answers, this connects to
        it; otherwise it starts one in a background thread of this process, which
        later ``local()`` calls for the same directory reuse. That server stops when
        the last service using it is closed, or at interpreter exit.
        """
        from prefect_ibmq.backend.local import acquire_local_server

        lease = acquire_local_server(data_dir)
        service = cls(lease.url, lease.token)
        service._on_close = lease.release
        return service

    @property
    def url(self) -> str:
        """The service's base URL."""
        return self._api.url

    def async_client(self) -> AsyncAccountClient:
        """A new async client of this service and identity (open it in the event loop that uses it)."""
        return self._api.to_async()

    def __repr__(self) -> str:
        return f"IBMQService(url={self.url!r}, token='***')"

    def __enter__(self) -> IBMQService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (and release the embedded server, for :meth:`local` services)."""
        self._api.close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    # --- backends -------------------------------------------------------------

    def backends(self, name: str | None = None) -> list[IBMQBackend]:
        """The service's backends (only the one called ``name``, when given)."""
        for configuration in self._api.list_backends():
            if configuration.backend_name not in self._backends:
                self._backends[configuration.backend_name] = IBMQBackend(configuration, self, self._api)
        return [backend for key, backend in self._backends.items() if name is None or key == name]

    def backend(self, name: str) -> IBMQBackend:
        """The backend called ``name``.

        Raises:
            IBMQBackendNotFoundError: If the service has no such backend (the message lists those it has).
        """
        if name not in self._backends:
            try:
                configuration = self._api.get_backend_configuration(name)
            except IBMQBackendNotFoundError:
                names = sorted(backend.name for backend in self.backends())
                raise IBMQBackendNotFoundError(
                    f"The service has no backend named {name!r}; it has {names}."
                ) from None
            self._backends[name] = IBMQBackend(configuration, self, self._api)
        return self._backends[name]

    # --- jobs -----------------------------------------------------------------

    def job(self, job_id: str) -> IBMQJob:
        """The job ``job_id`` (yours, or shared with you).

        Raises:
            IBMQJobNotFoundError: If there is no such job, or it is not shared with you.
        """
        return self._job_for(self._api.get_job(job_id))

    def jobs(
        self,
        limit: int = 50,
        skip: int = 0,
        backend_name: str | None = None,
        status: StatusFilter | list[StatusFilter] | None = None,
        job_name: str | None = None,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        job_tags: list[str] | None = None,
        job_tags_operator: str = "OR",
        experiment_id: str | None = None,
    ) -> list[IBMQJob]:
        """Jobs you may see, newest first, filtered like the legacy provider's ``jobs()``.

        Args:
            limit: Most jobs to return, 1..1000.
            skip: Jobs to skip first (for paging).
            backend_name: Only jobs on this backend.
            status: Only jobs in this status or these: qiskit ``JobStatus`` members,
                ``ApiJobStatus`` members, or their names (``"DONE"``, ``"ERROR_RUNNING_JOB"``).
            job_name: Only jobs whose name matches this regular expression.
            start_datetime: Only jobs created at or after this time (naive means local time).
            end_datetime: Only jobs created at or before this time (naive means local time).
            job_tags: Only jobs with these tags (see ``job_tags_operator``).
            job_tags_operator: ``"OR"``: any of the tags; ``"AND"``: all of them.
            experiment_id: Only jobs of this experiment.

        Raises:
            IBMQValueError: If a filter is invalid (nothing is sent).
        """
        params = _list_params(limit, skip, status, job_tags, job_tags_operator, backend_name, job_name,
                              start_datetime, end_datetime, experiment_id)
        return [self._job_for(record) for record in self._api.list_jobs(params).jobs]

    def iter_jobs(
        self, limit: int | None = None, page_size: int = _MAX_LIST_LIMIT, **filters: Any
    ) -> Iterator[IBMQJob]:
        """Jobs you may see, newest first, read a page at a time; ``filters`` are those of :meth:`jobs`.

        Each page starts where the one before ended (the service's cursor), so a deep page
        costs what the first does, where ``jobs(skip=n)`` has the service walk past n jobs.

        Args:
            limit: Most jobs to give (None: every one that matches).
            page_size: Jobs per request, 1..1000.
            **filters: Any of ``backend_name``, ``status``, ``job_name``, ``start_datetime``,
                ``end_datetime``, ``job_tags``, ``job_tags_operator``, ``experiment_id``.

        Raises:
            IBMQValueError: If ``limit``, ``page_size`` or a filter is invalid (nothing is sent).
        """
        if limit is not None:
            check_int("limit", limit, 1)
        check_int("page_size", page_size, 1, _MAX_LIST_LIMIT)
        unknown = sorted(set(filters) - set(_FILTERS))
        if unknown:
            raise rejected(unknown[0], filters[unknown[0]], f"one of the filters {', '.join(_FILTERS)}")
        given = {name: filters.get(name) for name in _FILTERS if name != "job_tags_operator"}
        params = _list_params(page_size, 0, job_tags_operator=filters.get("job_tags_operator", "OR"), **given)
        return self._pages(params, limit)

    def _pages(self, params: dict[str, Any], limit: int | None) -> Iterator[IBMQJob]:
        left = limit
        while left is None or left > 0:
            if left is not None:
                params["limit"] = min(params["limit"], left)
            page = self._api.list_jobs(params)
            for record in page.jobs:
                yield self._job_for(record)
            if left is not None:
                left -= len(page.jobs)
            if page.next_cursor is None:  # the last page (or a service that pages by offset only)
                return
            params["cursor"] = page.next_cursor

    def _job_for(self, record: JobRecord) -> IBMQJob:
        return IBMQJob.from_record(self.backend(record.backend), self._api, record)


def _list_params(
    limit: Any, skip: Any, status: Any, job_tags: Any, job_tags_operator: Any, backend_name: Any = None,
    job_name: Any = None, start_datetime: Any = None, end_datetime: Any = None, experiment_id: Any = None,
) -> dict[str, Any]:
    """Checked query parameters of a job listing."""
    check_int("limit", limit, 1, _MAX_LIST_LIMIT)
    check_int("skip", skip, 0)
    check_choice("job_tags_operator", job_tags_operator, ("OR", "AND"))
    check_tags("job_tags", job_tags)
    params: dict[str, Any] = {"limit": limit, "offset": skip, "tags_operator": job_tags_operator}
    if job_tags:
        params["tags"] = job_tags
    if status is not None:
        wanted = status if isinstance(status, list) else [status]
        params["status"] = sorted({api.value for item in wanted for api in _api_statuses(item)})
    optional: dict[str, Any] = {
        "backend": backend_name,
        "name": job_name,
        "experiment_id": experiment_id,
        "created_after": to_utc_iso(start_datetime) if start_datetime else None,
        "created_before": to_utc_iso(end_datetime) if end_datetime else None,
    }
    params.update({key: value for key, value in optional.items() if value is not None})
    return params


def _api_statuses(item: Any) -> list[ApiJobStatus]:
    """The service statuses a status filter stands for."""
    if isinstance(item, ApiJobStatus):
        return [item]
    if isinstance(item, JobStatus):
        return job_status_to_api_statuses(item)
    if isinstance(item, str):
        if item in ApiJobStatus.__members__:
            return [ApiJobStatus[item]]
        if item in JobStatus.__members__:
            return job_status_to_api_statuses(JobStatus[item])
    accepted = sorted(set(JobStatus.__members__) | set(ApiJobStatus.__members__))
    raise rejected("status", item, f"one of {accepted} (or a list of them)")
