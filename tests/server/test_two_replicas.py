"""Two replicas of the service on one PostgreSQL database: wake-ups and cancels cross between them.

Replica A offers no slow_simulator, so a slow job submitted to B can only run on B;
A answers about it from the shared database and hears B's changes through LISTEN/NOTIFY.
"""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from prefect_ibmq.circuits import bell
from prefect_ibmq.server import JobServer
from tests.helpers import TOKENS, server_config
from tests.server.helpers import Api


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


def _readme_replica_commands() -> tuple[str, list[str]]:
    """The STORE URL and the server commands of the README's "Replicas ... on PostgreSQL" block."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Replicas of the job service on PostgreSQL", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = block.strip().splitlines()
    store = next(line.split("=", 1)[1] for line in lines if line.startswith("export STORE="))
    return store, [line.rstrip(" &") for line in lines if line.startswith("prefect-ibmq server")]


def test_the_readme_commands_run_two_replicas_on_one_database(pg_cluster, tmp_path):
    store, commands = _readme_replica_commands()
    assert len(commands) == 2
    # The README's database, on the throwaway cluster: only host and port differ.
    url = pg_cluster.create_database(store.rsplit("/", 1)[1])
    assert store.replace(":5432/", f":{pg_cluster.port}/") == url
    script = Path(sys.executable).with_name("prefect-ibmq")
    processes, urls = [], []
    try:
        for command in commands:
            args = shlex.split(command.replace('"$STORE"', url))
            port = str(_free_port())
            args[args.index("--port") + 1] = port
            data_dir = args.index("--data-dir") + 1
            args[data_dir] = str(tmp_path / Path(args[data_dir]).name)
            processes.append(subprocess.Popen([str(script), *args[1:]], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        token = shlex.split(commands[0])[shlex.split(commands[0]).index("--token") + 1]
        one, two = Api(urls[0], token), Api(urls[1], token)
        for api in (one, two):
            _wait_healthy(api)
        job = one.submit([bell()])
        answer = two.status(job["job_id"], wait=60, until="final")
        assert answer["status"] == "COMPLETED"
        assert two.get(f"/jobs/{job['job_id']}/result").status_code == 200
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=30) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(api: Api) -> None:
    for _ in range(600):  # startup imports qiskit: a few seconds
        try:
            if api.get("/health").ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"{api.url} never answered")
