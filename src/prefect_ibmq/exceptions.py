"""Exceptions of the client, shared by the ``api``, ``backend`` and ``job`` layers.

They derive from qiskit's exceptions as the legacy qiskit-ibmq-provider did, so
code written for it (``except JobError``, ``except IBMQJobInvalidStateError``,
``except IBMQBackendValueError``) keeps working. Only :class:`IBMQJobApiError`
is worth retrying: it means the server could not be reached or answered with a
transient error. Every other error is about the request itself and repeating it
gives the same answer.

The tree (``(...)`` are further bases; ``[module]`` where a class lives elsewhere)::

    Exception
    ├── QiskitError                               [qiskit]
    │   └── IBMQError                             base of every client error: .code .status_code .job_id
    │       ├── IBMQJobError (JobError)
    │       │   ├── IBMQJobApiError               unreachable or transient (5xx, 429): retry
    │       │   ├── IBMQJobFailureError           the job failed: job.error_message()
    │       │   ├── IBMQJobInvalidStateError      not allowed in the job's state (cancelled, not final, ...)
    │       │   │   ├── IBMQValueError (IBMQBackendValueError)   a bad argument; nothing was sent
    │       │   │   └── IBMQSessionClosedError    the batch or session accepts no more jobs (closed, max_ttl)
    │       │   ├── IBMQJobTimeoutError (JobTimeoutError)
    │       │   ├── IBMQJobNotFoundError
    │       │   ├── IBMQJobAccessError            token rejected, or only the owner may
    │       │   └── IBMQJobResultConsumedError    a private job's result was read already
    │       └── IBMQBackendError
    │           └── IBMQBackendValueError (ValueError)
    │               ├── IBMQValueError            (see above)
    │               │   └── CircuitInputError     [prefect_ibmq.circuits] an unreadable circuit: .index
    │               └── IBMQBackendNotFoundError (QiskitBackendNotFoundError)
    ├── RuntimeError
    │   └── SweepError                            [prefect_ibmq.flows.sweep] some jobs of a sweep failed: rerun
    └── JobStageError                             [prefect_ibmq.flows.job] a task of a job's flow failed: .stage

:class:`IBMQValueError` is the one error for a bad argument anywhere in the
client: a ``ValueError`` for new code, and an ``IBMQJobInvalidStateError`` and
``IBMQBackendValueError`` for code written against the legacy provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qiskit.exceptions import QiskitError
from qiskit.providers import JobError, JobTimeoutError, QiskitBackendNotFoundError

if TYPE_CHECKING:
    from prefect_ibmq.wire import ErrorCode


class IBMQError(QiskitError):
    """Base class of every error raised by this client.

    Args:
        message: The message (parts are joined with spaces, as qiskit does).
        code: The job service's error code, when the error is its answer.
        status_code: The HTTP status of that answer.
        job_id: The job the error is about, when there is one.

    Attributes:
        code: The service's :class:`~prefect_ibmq.wire.ErrorCode`, or None.
        status_code: The HTTP status, or None when no answer came (or none was asked for).
        job_id: The job's id, or None.
    """

    def __init__(
        self,
        *message: str,
        code: ErrorCode | None = None,
        status_code: int | None = None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(*message)
        self.code = code
        self.status_code = status_code
        self.job_id = job_id


class IBMQJobError(JobError, IBMQError):
    """Base class of the errors about jobs."""


class IBMQJobApiError(IBMQJobError):
    """The server could not be reached or failed transiently; retrying is likely to succeed."""


class IBMQJobFailureError(IBMQJobError):
    """The job failed; ``job.error_message()`` says why."""


class IBMQJobInvalidStateError(IBMQJobError):
    """The job is not in a state that allows the operation (or, as :class:`IBMQValueError`, an argument is bad)."""


class IBMQSessionClosedError(IBMQJobInvalidStateError):
    """The batch or session a job was submitted to accepts no more jobs: closed, or past its ``max_ttl``.

    Nothing was submitted; the job can go to a new batch (the sweeps do that themselves).
    """


class IBMQJobTimeoutError(JobTimeoutError, IBMQJobError):
    """The job did not reach a final state within the timeout."""


class IBMQJobNotFoundError(IBMQJobError):
    """The server knows no such job, or it is not shared with this token's identity."""


class IBMQJobAccessError(IBMQJobError):
    """The token was rejected, or only the job's owner may do this."""


class IBMQJobResultConsumedError(IBMQJobError):
    """The result of a private job was already read, and can be read only once."""


class IBMQBackendError(IBMQError):
    """Base class of the errors about backends."""


class IBMQBackendValueError(IBMQBackendError, ValueError):
    """A value given to a backend is invalid; nothing was submitted."""


class IBMQValueError(IBMQJobInvalidStateError, IBMQBackendValueError):
    """An argument is invalid (its message names the value and what is accepted); nothing was sent.

    The one error for bad input, to a job, a backend, the service or a task. It is
    a ``ValueError``, and also each of the legacy provider's errors for bad input
    (:class:`IBMQJobInvalidStateError`, :class:`IBMQBackendValueError`), so code
    written for either keeps catching it.
    """


class IBMQBackendNotFoundError(IBMQBackendValueError, QiskitBackendNotFoundError):
    """No backend of that name exists on the server."""
