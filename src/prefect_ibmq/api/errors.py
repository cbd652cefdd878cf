"""Turn an error answer of the job service into one of our exceptions.

The mapping goes by the stable ``ErrorBody.code``, never by parsing messages.
Each message keeps the server's words (which name the bad value) and adds what
to do next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from prefect_ibmq.exceptions import (
    IBMQError,
    IBMQJobAccessError,
    IBMQJobApiError,
    IBMQJobError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobNotFoundError,
    IBMQJobResultConsumedError,
    IBMQValueError,
)
from prefect_ibmq.wire import ErrorBody, ErrorCode

#: What to do about a rejected token, wherever it was given (the CLI, a block, ``IBMQService``).
CHECK_TOKEN = "Check the token given for this service (--token, $PREFECT_IBMQ_TOKEN, a credentials block, IBMQService)."
#: code -> (exception type, what to do next)
_BY_CODE: dict[ErrorCode, tuple[type[IBMQError], str]] = {
    ErrorCode.UNAUTHORIZED: (IBMQJobAccessError, CHECK_TOKEN),
    ErrorCode.FORBIDDEN: (IBMQJobAccessError, "Only the job's owner may change it; ask the owner."),
    ErrorCode.NOT_FOUND: (
        IBMQJobNotFoundError,
        "Check the id or name, and that the job is shared with your identity.",
    ),
    ErrorCode.INVALID_REQUEST: (IBMQValueError, "Fix the value named above and try again."),
    ErrorCode.INVALID_TAGS: (IBMQValueError, "Tags are a list of str without the reserved prefix."),
    ErrorCode.INVALID_STATE: (IBMQJobInvalidStateError, "Check job.status() first."),
    ErrorCode.JOB_NOT_FINISHED: (
        IBMQJobInvalidStateError,
        "Wait for the job with job.wait_for_final_state() first.",
    ),
    ErrorCode.JOB_FAILED: (
        IBMQJobFailureError,
        "Use job.error_message() for details, or job.result(partial=True) for the experiments that ran.",
    ),
    ErrorCode.RESULT_CONSUMED: (
        IBMQJobResultConsumedError,
        "A private job's result can be read once; the IBMQJob instance that read it keeps a copy.",
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: (IBMQValueError, "Split the circuits into smaller jobs."),
    ErrorCode.SERVICE_UNAVAILABLE: (IBMQJobApiError, "The service is busy; retrying later is likely to succeed."),
    ErrorCode.INTERNAL: (IBMQJobApiError, "Retrying may succeed; if not, check the server's log."),
}


class Answer(Protocol):
    """What is read of an HTTP answer: a ``requests`` or an ``httpx`` response."""

    status_code: int

    def json(self) -> Any:
        """The answer's body, parsed as JSON."""
        ...


def unreachable_error(call: Any, url: str, reason: str, attempt: int) -> IBMQJobApiError:
    """The error for a call that got no answer (after ``attempt`` repeats)."""
    return IBMQJobApiError(
        f"{call.what} failed: could not reach the job service at {url} "
        f"({reason}, {attempt + 1} attempt(s)). Check that it is running; retrying later may succeed.",
        job_id=call.job_id,
    )


def error_from_response(
    response: Answer,
    what: str,
    secret: str,
    overrides: Mapping[ErrorCode, type[IBMQError]] | None = None,
    job_id: str | None = None,
) -> IBMQError:
    """The exception for an error ``response`` to a request about ``what`` (and job ``job_id``, if any).

    ``overrides`` picks another type for some codes where the context says more
    (an unknown backend is a backend-not-found error). ``secret`` is masked
    should it ever appear in the server's words. The exception carries the
    service's ``code``, the HTTP ``status_code`` and the ``job_id``.
    """
    try:
        body = ErrorBody.model_validate(response.json())
    except (ValueError, ValidationError):
        return _error_without_body(response, what, job_id)
    error_type, next_step = _BY_CODE[body.code]
    if overrides and body.code in overrides:
        error_type = overrides[body.code]
    told = sentence(body.message)
    message = f"{what} failed with {body.code.value} (HTTP {response.status_code}): {told} {next_step}"
    return error_type(
        message.replace(secret, "***") if secret else message,
        code=body.code, status_code=response.status_code, job_id=job_id,
    )


def sentence(text: str) -> str:
    """``text`` ending as a sentence does (the server's words may lack the full stop before ours follow)."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _error_without_body(response: Answer, what: str, job_id: str | None) -> IBMQError:
    """An answer that is not an ErrorBody: a proxy in between, or not our server at all."""
    status = response.status_code
    if status >= 500 or status == 429:
        message = f"{what} failed with HTTP {status}; retrying later is likely to succeed."
        return IBMQJobApiError(message, status_code=status, job_id=job_id)
    if status == 401:
        message = f"{what} failed with HTTP 401. {CHECK_TOKEN}"
        return IBMQJobAccessError(message, status_code=status, job_id=job_id)
    message = f"{what} failed with HTTP {status} and an answer that is not the job service's. Check the service URL."
    return IBMQJobError(message, status_code=status, job_id=job_id)
