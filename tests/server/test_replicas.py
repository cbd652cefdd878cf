"""Two replicas of the service on one PostgreSQL database: wake-ups and cancels cross between them.

Replica A offers no slow_simulator, so a slow job submitted to B can only run on B;
A answers about it from the shared database and hears B's changes through LISTEN/NOTIFY.
"""

from __future__ import annotations

import threading
import time

import pytest
from server_helpers import Api, bell

from prefect_ibmq.server import JobServer
from tests.conftest import TOKENS, server_config


@pytest.fixture(scope="module")
def replicas(pg_cluster, tmp_path_factory):
    url = pg_cluster.create_database("replicas")
    config_b = server_config(tmp_path_factory.mktemp("replica-b"), store_url=url, lease_s=3)
    config_a = server_config(
        tmp_path_factory.mktemp("replica-a"), store_url=url, lease_s=3,
        backends=[spec for spec in config_b.backends if spec.name != "slow_simulator"],
    )
    with JobServer(config_a) as a, JobServer(config_b) as b:
        yield a, b


def _api(server: JobServer) -> Api:
    return Api(server.url, TOKENS["alice"][0])


def test_a_long_poll_on_one_replica_answers_when_the_other_finishes(replicas):
    a, b = replicas
    job = _api(b).submit([bell()] * 2, backend="slow_simulator")
    answer = _api(a).status(job["job_id"], wait=60, until="final")
    assert answer["status"] == "COMPLETED" and answer["timed_out"] is False
    assert set(answer["record"]["time_per_step"]) >= {"QUEUED", "RUNNING", "COMPLETED"}


def test_a_cancel_sent_to_one_replica_stops_the_job_running_on_the_other(replicas):
    a, b = replicas
    job_id = _api(b).submit([bell()] * 60, backend="slow_simulator")["job_id"]  # ~30 s if not stopped
    assert _api(a).wait_for(job_id, {"RUNNING"})["status"] == "RUNNING"
    assert job_id in b.service.executor.running_job_ids()
    waiter: dict = {}
    poll = threading.Thread(target=lambda: waiter.update(_api(b).status(job_id, wait=60, until="final")))
    poll.start()
    cancelled = _api(a).request("POST", f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    poll.join(60)
    assert waiter["status"] == "CANCELLED" and waiter["timed_out"] is False
    # B's worker lets go of the job between experiments (long before its 30 s of work).
    deadline = time.monotonic() + 20
    while job_id in b.service.executor.running_job_ids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job_id not in b.service.executor.running_job_ids()
    record = _api(a).get(f"/jobs/{job_id}").json()
    assert record["status"] == "CANCELLED" and "COMPLETED" not in record["time_per_step"]
