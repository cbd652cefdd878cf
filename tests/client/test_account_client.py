"""AccountClient over a fault-injecting proxy: retries, idempotent submission, error mapping, masked token."""

from __future__ import annotations

import logging
import uuid

import pytest

from prefect_ibmq import IBMQJobApiError, IBMQService
from prefect_ibmq.api import AccountClient
from prefect_ibmq.circuits import bell
from prefect_ibmq.exceptions import IBMQJobAccessError, IBMQJobNotFoundError
from tests.client.helpers import FAST_RETRY
from tests.faultproxy import Rule
from tests.helpers import token_of


@pytest.mark.parametrize("fault", ["500", "502", "503", "429", "reset"])
def test_get_is_repeated_after_a_transient_fault(proxy, proxied, fault):
    proxy.add_rule(Rule(fault, method="GET", path="/v1/backends", times=2))
    assert "aer_simulator" in [backend.name for backend in proxied.backends()]
    assert proxy.injected[fault] == 2


def test_get_gives_up_with_ibmq_job_api_error(proxy, proxied):
    proxy.add_rule(Rule("503", method="GET", path="/v1/backends", times=10))
    with pytest.raises(IBMQJobApiError, match="HTTP 503"):
        proxied.backends()
    assert proxy.injected["503"] == FAST_RETRY.max_retries + 1


def test_submit_repeated_after_a_lost_answer_makes_one_job(proxy, proxied):
    backend = proxied.backend("aer_simulator")
    tag = f"lost-{uuid.uuid4().hex[:8]}"
    proxy.add_rule(Rule("drop_response", method="POST", path="/v1/jobs$", times=1))
    job = backend.run(bell(), shots=8, job_tags=[tag])
    assert proxy.injected["drop_response"] == 1
    assert [listed.job_id() for listed in proxied.jobs(job_tags=[tag])] == [job.job_id()]


def test_post_without_idempotency_key_is_not_repeated(proxy, proxied):
    job = proxied.backend("slow_simulator").run([bell()] * 6, shots=8)
    proxy.add_rule(Rule("503", method="POST", path=f"/v1/jobs/{job.job_id()}/cancel", times=1))
    with pytest.raises(IBMQJobApiError):
        job.cancel()
    assert proxy.injected["503"] == 1
    assert job.cancel() is True  # the fault was transient: asking again works


def test_unreachable_server_is_an_api_error(job_server):
    client = AccountClient("http://127.0.0.1:9", token_of("alice"), retry=FAST_RETRY, connect_timeout=0.5)
    with pytest.raises(IBMQJobApiError, match="could not reach the job service"):
        client.list_backends()
    assert client.health() is False


def test_error_codes_map_to_typed_exceptions(job_server, service):
    with IBMQService(url=job_server.url, token="tok-nobody-0123456789") as stranger:
        with pytest.raises(IBMQJobAccessError, match="UNAUTHORIZED.*Check the token"):
            stranger.backends()
    with pytest.raises(IBMQJobNotFoundError, match="NOT_FOUND"):
        service.job("no-such-job")


def test_token_never_shows_in_repr_errors_or_logs(job_server, proxy, caplog):
    secret = "tok-secret-never-shown-0123456789"
    caplog.set_level(logging.DEBUG)
    with IBMQService(url=proxy.url, token=secret, retry=FAST_RETRY) as service:
        assert secret not in repr(service) and "***" in repr(service)
        assert secret not in repr(service._api)
        proxy.add_rule(Rule("503", method="GET", path="/v1/backends", times=1))
        with pytest.raises(IBMQJobAccessError) as raised:
            service.backends()
    assert secret not in str(raised.value) and secret not in repr(raised.value)
    assert proxy.injected["503"] == 1  # the retry was logged
    assert caplog.records and all(secret not in record.getMessage() for record in caplog.records)


def test_waiting_long_polls_and_a_final_status_is_not_asked_again(proxy, proxied):
    job = proxied.backend("slow_simulator").run([bell()] * 4, shots=8)
    proxy.requests.clear()
    job.wait_for_final_state(timeout=60)
    status_requests = [path for method, path in proxy.requests if "/status" in path]
    assert status_requests and all("wait=" in path and "until=final" in path for path in status_requests)
    # One long-poll that waits for the final status (until=final), not a polling loop.
    assert len(status_requests) == 1
    proxy.requests.clear()
    assert job.status().name == "DONE" and job.done() and job.in_final_state()
    assert proxy.requests == []
