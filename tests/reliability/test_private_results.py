"""A private job's result whose answer is lost on the wire is read again, and still only once.

The real FaultProxy forwards the result read to the server (which hands the result
out) and then drops the answer: the client never sees it. The client reads with a
read key, so the server keeps the result for that key until the client acknowledges
it (docs/rest-api.md, "Private results: read, then acknowledge").
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from prefect_ibmq import IBMQService
from prefect_ibmq.api.retry import RetryPolicy
from prefect_ibmq.circuits import ghz
from prefect_ibmq.exceptions import IBMQJobApiError, IBMQJobResultConsumedError
from prefect_ibmq.server import JobServer
from prefect_ibmq.server.limits import Limits
from prefect_ibmq.wire import READ_KEY_HEADER
from tests.faultproxy import FaultProxy, Rule
from tests.helpers import TOKENS, server_config

RESULT_PATH = r"/v1/jobs/[^/]+/result"
SHOTS = 64


def _finished_private_job(url: str, token: str, name: str):
    job = IBMQService(url, token).backend("aer_simulator").run([ghz(3)] * 2, shots=SHOTS, private=True, job_name=name)
    job.wait_for_final_state(timeout=120)
    return job


def test_private_result_survives_lost_answers_and_stays_read_once(job_server, alice_token, figures):
    direct = IBMQService(job_server.url, alice_token)
    quick = RetryPolicy(max_retries=1, backoff_base=0.01)
    with FaultProxy(job_server.url) as proxy:
        job_id = _finished_private_job(job_server.url, alice_token, "private-lost-answers").job_id()
        reader = IBMQService(proxy.url, alice_token, retry=quick).job(job_id)
        # More lost answers than the client's own repeats: the first result() gives up...
        proxy.add_rule(Rule("drop_response", method="GET", path=RESULT_PATH, times=2))
        with pytest.raises(IBMQJobApiError, match="could not reach"):
            reader.result()
        assert direct.job(job_id).record.result_consumed is False  # held for the reader, not gone
        # ...the next one, from the same job object, gets it; its acknowledgement is lost once too.
        proxy.add_rule(Rule("drop_response", method="GET", path=RESULT_PATH, times=1))
        proxy.add_rule(Rule("drop_response", method="DELETE", path=RESULT_PATH, times=1))
        counts = reader.result(refresh=True).get_counts()
        injected = Counter(proxy.injected)
    consumed = direct.job(job_id).record.result_consumed
    with pytest.raises(IBMQJobResultConsumedError):
        direct.job(job_id).result()  # read once: any other reader is refused
    figures.record(  # what was counted, recorded before it is judged
        "private_result_lost_answers",
        result_answers_dropped=3,
        acknowledgements_dropped=1,
        drop_response_injected=injected["drop_response"],
        result_read=int(all(sum(c.values()) == SHOTS for c in counts)),
        acknowledged=int(consumed),
    )
    assert injected["drop_response"] == 4
    assert len(counts) == 2 and all(sum(c.values()) == SHOTS for c in counts)
    assert consumed is True  # the acknowledgement arrived (repeated): nothing held any more
    assert reader.result().get_counts() == counts  # the reader keeps its copy


def test_private_result_read_by_two_objects_through_lost_answers_goes_to_one(job_server, alice_token):
    job_id = _finished_private_job(job_server.url, alice_token, "private-two-readers").job_id()
    with FaultProxy(job_server.url) as proxy:
        service = IBMQService(proxy.url, alice_token)
        first, second = service.job(job_id), service.job(job_id)
        proxy.add_rule(Rule("drop_response", method="GET", path=RESULT_PATH, times=1))
        counts = first.result().get_counts()  # its first answer lost, repeated with the same key
        with pytest.raises(IBMQJobResultConsumedError):
            second.result()
    assert proxy.injected["drop_response"] == 1
    assert sum(counts[0].values()) == SHOTS


def test_fetch_result_task_reads_a_private_result_through_lost_answers(
    job_server, alice_token, prefect_harness, figures
):
    """The Prefect task (async client): its read and its acknowledgement each lose one answer."""
    from prefect import flow

    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.tasks import fetch_result

    job_id = _finished_private_job(job_server.url, alice_token, "private-task-lost-answers").job_id()
    with FaultProxy(job_server.url) as proxy:
        proxy.add_rule(Rule("drop_response", method="GET", path=RESULT_PATH, times=1))
        proxy.add_rule(Rule("drop_response", method="DELETE", path=RESULT_PATH, times=1))
        via_proxy = IBMQServiceCredentials(url=proxy.url, token=alice_token)

        @flow
        def read_private() -> list[dict]:
            return fetch_result(job_id, service=via_proxy).get_counts()

        counts = read_private()
        dropped = proxy.injected["drop_response"]
    direct = IBMQService(job_server.url, alice_token)
    consumed = direct.job(job_id).record.result_consumed
    figures.record("private_result_lost_answers_task", drop_response_injected=dropped, acknowledged=int(consumed))
    assert dropped == 2
    assert len(counts) == 2 and all(sum(c.values()) == SHOTS for c in counts)
    assert consumed is True
    with pytest.raises(IBMQJobResultConsumedError):
        direct.job(job_id).result()


def test_a_held_result_never_acknowledged_expires(tmp_path, figures):
    """A reader that died between its read and its acknowledgement: the result is deleted after the TTL."""
    token = TOKENS["alice"][0]
    config = server_config(tmp_path, lease_s=0.6, limits=Limits(held_result_ttl_s=0.5), workers=1)
    with JobServer(config) as server:
        job_id = _finished_private_job(server.url, token, "held-then-abandoned").job_id()
        read = {"Authorization": f"Bearer {token}", READ_KEY_HEADER: "reader-that-dies"}
        url = f"{server.url}/v1/jobs/{job_id}/result"
        first = requests.get(url, headers=read, timeout=30)
        assert first.status_code == 200 and first.headers["Result-Held"] == "until-acknowledged"
        # Never acknowledged. The reaper runs every lease_s / 3; the key reads it until the TTL is past.
        deadline = time.monotonic() + 60
        while (again := requests.get(url, headers=read, timeout=30)).status_code == 200:
            assert time.monotonic() < deadline, "the held result was never expired"
            time.sleep(0.1)
        record = IBMQService(server.url, token).job(job_id).record
    figures.record("private_results", held_result_expired={"ttl_s": 0.5, "answer_after": again.status_code,
                                                           "result_consumed": record.result_consumed})
    assert again.status_code == 410 and again.json()["code"] == "RESULT_CONSUMED"
    assert record.result_consumed is True
