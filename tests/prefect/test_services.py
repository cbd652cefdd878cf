"""What a task's ``service`` argument resolves to: one platform and one client per service per process."""

from __future__ import annotations

import pytest

from prefect_ibmq import IBMQService
from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.platforms import resolve_platform, shared_client


def test_a_block_resolves_to_the_one_platform_and_client_of_its_service(credentials, job_server, alice_token):
    platform = resolve_platform(credentials)
    assert platform is credentials.platform()
    assert platform is IBMQServiceCredentials(url=job_server.url, token=alice_token).platform()
    client = credentials.get_client()
    assert platform.service is client
    assert client is shared_client(job_server.url, alice_token, data_dir="/ignored/for/a/remote/service")
    assert client.backend("aer_simulator").num_qubits > 2  # it reaches the service


def test_another_token_is_another_client(credentials, job_server):
    assert shared_client(job_server.url, "tok-bob-0123456789") is not credentials.get_client()


def test_a_service_is_used_as_it_is(job_server, alice_token):
    with IBMQService(url=job_server.url, token=alice_token) as own:
        assert resolve_platform(own).service is own
        assert resolve_platform(own) is resolve_platform(own)


def test_none_means_the_service_of_the_settings(monkeypatch, credentials, job_server, alice_token):
    monkeypatch.setenv("PREFECT_IBMQ_URL", job_server.url)
    monkeypatch.setenv("PREFECT_IBMQ_TOKEN", alice_token)
    assert resolve_platform(None) is credentials.platform()


def test_anything_else_is_refused_naming_its_type_not_its_value(alice_token):
    with pytest.raises(IBMQValueError, match=r"service is a str, not a service: give an IBMQServiceCred") as caught:
        resolve_platform(alice_token)  # a token where the block belongs
    assert alice_token not in str(caught.value)


def test_the_old_names_still_work_and_warn(credentials, job_server, alice_token):
    from prefect_ibmq.services import resolve_service, shared_service

    with pytest.warns(DeprecationWarning, match="resolve_platform"):
        assert resolve_service(credentials) is credentials.get_client()
    with pytest.warns(DeprecationWarning, match="shared_client"):
        assert shared_service(job_server.url, alice_token) is credentials.get_client()
