"""The exception tree: legacy catches keep working, one error for bad input, and errors carry their data."""

from __future__ import annotations

import socket

import pytest
from qiskit.exceptions import QiskitError
from qiskit.providers import JobError

from prefect_ibmq.api import AccountClient, RetryPolicy
from prefect_ibmq.circuits import CircuitInputError, bell, load_circuits
from prefect_ibmq.exceptions import (
    IBMQBackendNotFoundError,
    IBMQBackendValueError,
    IBMQError,
    IBMQJobApiError,
    IBMQJobError,
    IBMQJobInvalidStateError,
    IBMQJobNotFoundError,
    IBMQValueError,
)
from prefect_ibmq.wire import ErrorCode

UNKNOWN_ID = "0badc0de" * 3


def test_the_input_error_is_each_legacy_error_for_bad_input():
    error = IBMQValueError("shots=0 is not accepted")
    for legacy in (ValueError, IBMQJobInvalidStateError, IBMQBackendValueError, IBMQJobError, JobError, QiskitError):
        assert isinstance(error, legacy), legacy
    assert issubclass(CircuitInputError, IBMQValueError)


def test_errors_carry_none_for_data_they_do_not_have():
    error = IBMQJobError("no data")
    assert (error.code, error.status_code, error.job_id) == (None, None, None)
    assert error.message == "no data"


@pytest.fixture(scope="module")
def done_job(aer):
    job = aer.run(bell(), shots=8, job_name="exceptions")
    job.wait_for_final_state(timeout=60)
    return job


def test_a_bad_job_argument_is_caught_as_the_legacy_invalid_state_error(done_job):
    with pytest.raises(IBMQJobInvalidStateError) as caught:
        done_job.update_tags(additional_tags="not-a-list")
    assert type(caught.value) is IBMQValueError
    assert isinstance(caught.value, ValueError)
    with pytest.raises(IBMQJobInvalidStateError, match="name=42 is not accepted"):
        done_job.update_name(42)
    with pytest.raises(ValueError, match="seconds >= 0"):
        done_job.wait_for_final_state(timeout=-1)


def test_a_bad_run_argument_is_caught_as_the_legacy_backend_value_error(aer, service):
    with pytest.raises(IBMQBackendValueError) as caught:
        aer.run(bell(), shots=True)
    assert type(caught.value) is IBMQValueError
    assert "shots=True" in caught.value.message
    with pytest.raises(IBMQJobInvalidStateError, match="limit=0"):
        service.jobs(limit=0)


def test_a_rejected_value_from_the_server_is_the_input_error_with_its_code(service):
    # The client cannot check a name pattern; the server rejects it as an invalid request.
    with pytest.raises(IBMQValueError) as caught:
        service.jobs(job_name="(unclosed")
    error = caught.value
    assert error.code is ErrorCode.INVALID_REQUEST
    assert error.status_code in (400, 422)
    assert error.job_id is None


def test_an_unknown_job_carries_code_status_and_job_id(service):
    with pytest.raises(IBMQJobNotFoundError) as caught:
        service.job(UNKNOWN_ID)
    error = caught.value
    assert (error.code, error.status_code, error.job_id) == (ErrorCode.NOT_FOUND, 404, UNKNOWN_ID)


def test_an_unknown_backend_is_not_found_and_a_value_error(service, job_server, alice_token):
    with pytest.raises(IBMQBackendNotFoundError) as caught:
        service.backend("no_such_backend")  # the client knows the service's backends
    assert isinstance(caught.value, ValueError)
    client = AccountClient(job_server.url, alice_token)
    with pytest.raises(IBMQBackendNotFoundError) as caught:
        client.get_backend_configuration("no_such_backend")  # the server's answer
    client.close()
    assert caught.value.code is ErrorCode.NOT_FOUND and caught.value.status_code == 404


def test_a_result_refused_by_state_carries_the_job_id(slow):
    job = slow.run([bell()] * 20, shots=8)  # 10 s of work: cancelled long before it ends
    assert job.cancel() is True
    with pytest.raises(IBMQJobInvalidStateError, match="cancelled") as caught:
        job.result(timeout=60)
    assert caught.value.job_id == job.job_id()
    assert not isinstance(caught.value, ValueError)


def test_an_unreachable_service_gives_an_api_error_with_the_job_id(alice_token):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AccountClient(f"http://127.0.0.1:{port}", alice_token, retry=RetryPolicy(max_retries=0))
    with pytest.raises(IBMQJobApiError) as caught:
        client.get_job(UNKNOWN_ID)
    client.close()
    assert caught.value.job_id == UNKNOWN_ID
    assert caught.value.status_code is None and caught.value.code is None
    assert isinstance(caught.value, IBMQError) and not isinstance(caught.value, ValueError)


def test_a_circuit_input_error_names_the_item_in_plain_text():
    with pytest.raises(IBMQValueError) as caught:
        load_circuits(["OPENQASM 2.0; not really"])
    assert isinstance(caught.value, CircuitInputError)
    assert str(caught.value).startswith("circuit #0: ")
    assert caught.value.index == 0
