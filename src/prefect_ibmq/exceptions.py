"""Exceptions of the client, shared by the ``api``, ``backend`` and ``job`` layers.

They derive from qiskit's exceptions as the legacy qiskit-ibmq-provider did, so
code written for it (``except JobError``) keeps working. Only
:class:`IBMQJobApiError` is worth retrying: it means the server could not be
reached or answered with a transient error. Every other error is about the
request itself and repeating it gives the same answer.
"""

from __future__ import annotations

from qiskit.exceptions import QiskitError
from qiskit.providers import JobError, JobTimeoutError, QiskitBackendNotFoundError


class IBMQError(QiskitError):
    """Base class of every error raised by this client."""


class IBMQJobError(JobError, IBMQError):
    """Base class of the errors about jobs."""


class IBMQJobApiError(IBMQJobError):
    """The server could not be reached or failed transiently; retrying is likely to succeed."""


class IBMQJobFailureError(IBMQJobError):
    """The job failed; ``job.error_message()`` says why."""


class IBMQJobInvalidStateError(IBMQJobError):
    """The job is not in a state that allows the operation, or its input is invalid."""


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
    """A value given to a backend (usually to ``run()``) is invalid; nothing was submitted."""


class IBMQBackendNotFoundError(IBMQBackendValueError, QiskitBackendNotFoundError):
    """No backend of that name exists on the server."""
