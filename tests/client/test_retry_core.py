"""The retry core both clients drive: fed what happened to an attempt, it decides (no I/O, no sleeping here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect_ibmq.api import calls
from prefect_ibmq.api.retry import Attempts, RetryPolicy
from prefect_ibmq.exceptions import IBMQJobApiError, IBMQJobNotFoundError
from prefect_ibmq.wire import ErrorCode

POLICY = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.02)
URL = "http://127.0.0.1:9"


@dataclass
class Answered:
    """What the core reads of an HTTP answer (a requests or httpx response has the same two members)."""

    status_code: int
    body: Any = field(default_factory=dict)

    def json(self) -> Any:
        return self.body


def _error(code: ErrorCode, message: str = "says the server") -> dict[str, str]:
    return {"code": code.value, "message": message}


def test_a_success_is_returned():
    assert Attempts(calls.get_job("j1"), POLICY, URL, "tok").answered(Answered(200), None).action == "return"


def test_a_busy_server_is_asked_again_after_its_retry_after_then_the_error_is_raised():
    attempts = Attempts(calls.get_job("j1"), POLICY, URL, "tok")
    busy = Answered(503, _error(ErrorCode.SERVICE_UNAVAILABLE))
    first = attempts.answered(busy, "3")
    assert (first.action, first.delay) == ("repeat", 3.0)  # Retry-After is a lower bound on the backoff
    assert attempts.answered(busy, None).action == "repeat"
    last = attempts.answered(busy, None)
    assert last.action == "raise" and isinstance(last.error, IBMQJobApiError)
    assert (last.error.code, last.error.status_code, last.error.job_id) == (ErrorCode.SERVICE_UNAVAILABLE, 503, "j1")


def test_a_post_without_a_key_is_never_repeated():
    attempts = Attempts(calls.cancel_job("j1"), POLICY, URL, "tok")
    assert attempts.answered(Answered(503, _error(ErrorCode.SERVICE_UNAVAILABLE)), "1").action == "raise"
    assert Attempts(calls.cancel_job("j1"), POLICY, URL, "tok").no_answer("ConnectTimeout").action == "raise"


def test_no_answer_is_repeated_while_allowed_then_names_the_url_and_attempts():
    attempts = Attempts(calls.get_job_status("j2"), POLICY, URL, "tok")
    assert [attempts.no_answer("ConnectError").action for _ in range(2)] == ["repeat", "repeat"]
    last = attempts.no_answer("ConnectError")
    assert last.action == "raise" and isinstance(last.error, IBMQJobApiError)
    assert URL in last.error.message and "3 attempt(s)" in last.error.message
    assert last.error.job_id == "j2" and last.error.status_code is None


def test_a_failure_that_is_not_transient_is_raised_at_once():
    decision = Attempts(calls.get_job("j1"), POLICY, URL, "tok").no_answer("InvalidURL", transient=False)
    assert decision.action == "raise" and "InvalidURL" in decision.error.message


def test_a_client_error_maps_to_its_type_with_the_token_masked():
    attempts = Attempts(calls.get_job("j3"), POLICY, URL, "s3cret")
    decision = attempts.answered(Answered(404, _error(ErrorCode.NOT_FOUND, "no job j3 for s3cret")), None)
    assert decision.action == "raise" and isinstance(decision.error, IBMQJobNotFoundError)
    assert "s3cret" not in decision.error.message and "***" in decision.error.message
    assert attempts.attempt == 0  # nothing was repeated
