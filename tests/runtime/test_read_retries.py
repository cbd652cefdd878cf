"""``runtime.errors.retrying``: reads of IBM Quantum Platform repeated on transient faults (the clients' backoff)."""

from __future__ import annotations

import pytest
import requests

from prefect_ibmq.exceptions import IBMQJobApiError
from prefect_ibmq.runtime.errors import READ_ATTEMPTS, retrying


def flaky(failures: int, error: Exception) -> tuple[list[int], object]:
    """A read that raises ``error`` ``failures`` times, then answers; and the list of its calls."""
    calls: list[int] = []

    def read() -> str:
        calls.append(len(calls))
        if len(calls) <= failures:
            raise error
        return "answer"

    return calls, read


def test_transient_faults_are_repeated_until_the_read_answers():
    calls, read = flaky(2, requests.ConnectionError("reset"))
    assert retrying("reading", read) == "answer"
    assert len(calls) == 3


def test_a_lasting_fault_ends_as_a_retryable_api_error_after_every_attempt():
    calls, read = flaky(READ_ATTEMPTS, requests.ConnectionError("down"))
    with pytest.raises(IBMQJobApiError, match="reading the job failed, worth retrying"):
        retrying("reading the job", read)
    assert len(calls) == READ_ATTEMPTS


def test_other_faults_are_not_repeated():
    calls, read = flaky(1, ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        retrying("reading", read)
    assert len(calls) == 1
