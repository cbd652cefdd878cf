"""A restarted server keeps every job; one data directory has one server."""

from __future__ import annotations

import json
import os

import pytest

from prefect_ibmq.circuits import bell
from prefect_ibmq.server import BackendSpec, JobServer, ServerAlreadyRunning, ServerConfig
from tests.server.helpers import Api


def _config(job_server, data_dir) -> ServerConfig:
    return ServerConfig(
        data_dir=data_dir,
        tokens=job_server.config.tokens,
        backends=[BackendSpec(name="slow_simulator", n_qubits=5, experiment_delay_s=0.3)],
        workers=1,
    )


def test_restart_keeps_queued_and_running_jobs(job_server, tokens, tmp_path):
    config = _config(job_server, tmp_path)
    first = JobServer(config).start()
    try:
        api = Api(first.url, tokens["alice"])
        jobs = [api.submit([bell()] * 4, backend="slow_simulator", name=f"p{i}") for i in range(3)]
        assert api.wait_for(jobs[0]["job_id"], {"RUNNING"})["status"] == "RUNNING"
        assert api.wait_for(jobs[2]["job_id"], {"QUEUED"})["status"] == "QUEUED"
        assert json.loads((tmp_path / "server.json").read_text())["url"] == first.url
    finally:
        first.stop()
    assert not (tmp_path / "server.json").exists()

    with JobServer(config) as second:
        api = Api(second.url, tokens["alice"])
        listed = api.get("/jobs").json()
        assert {j["job_id"] for j in listed["jobs"]} == {j["job_id"] for j in jobs}
        for job in jobs:
            assert api.wait_final(job["job_id"])["status"] == "COMPLETED"
            record = api.get(f"/jobs/{job['job_id']}").json()
            assert list(record["time_per_step"]) == [
                "CREATING", "CREATED", "VALIDATING", "VALIDATED", "QUEUED", "RUNNING", "COMPLETED"
            ]
        # The job that was running when the first server stopped was queued again, once.
        assert api.get(f"/jobs/{jobs[0]['job_id']}").json()["requeued"] == 1
        assert api.get(f"/jobs/{jobs[2]['job_id']}").json()["requeued"] == 0
        result = api.get(f"/jobs/{jobs[0]['job_id']}/result").json()
        assert len(result["results"]) == 4


def test_second_server_on_the_same_data_dir_is_refused(job_server, tmp_path):
    config = _config(job_server, tmp_path)
    with JobServer(config) as running:
        with pytest.raises(ServerAlreadyRunning) as caught:
            JobServer(config).start()
        assert running.url in str(caught.value)
        assert caught.value.pid == os.getpid()
        first = Api(running.url, None).get("/health").json()["store_id"]
    # Once stopped, the directory is free again; the store is the same one (its id too, on another port).
    with JobServer(config) as again:
        health = Api(again.url, None).get("/health")
        assert health.status_code == 200 and health.json()["store_id"] == first


def test_the_session_server_holds_its_own_data_dir(job_server):
    with pytest.raises(ServerAlreadyRunning):
        JobServer(job_server.config).start()


def test_default_config_token_survives_restarts(tmp_path):
    config = ServerConfig.default(tmp_path, backends=[BackendSpec(name="aer_simulator")], workers=1)
    token_file = tmp_path / "local-token"
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert ServerConfig.default(tmp_path).tokens.keys() == config.tokens.keys()
    with JobServer(config) as server:
        assert server.token == token_file.read_text().strip()
        me = Api(server.url, server.token)
        job = me.submit()
        assert me.wait_final(job["job_id"])["status"] == "COMPLETED"
        assert me.get(f"/jobs/{job['job_id']}").json()["owner"] == {
            "user": "local", "hub": "local", "group": "local", "project": "local"
        }


def test_config_from_toml_and_json(tmp_path):
    toml = tmp_path / "server.toml"
    toml.write_text(
        'data_dir = "data"\nworkers = 3\n'
        '[tokens.tok-1]\nuser = "u"\nhub = "h"\ngroup = "g"\nproject = "p"\n'
        '[[backends]]\nname = "tiny"\nkind = "noisy"\nseed = 7\n'
    )
    config = ServerConfig.from_file(toml)
    assert config.workers == 3
    assert config.data_dir == tmp_path / "data"
    assert config.tokens["tok-1"].user == "u"
    assert config.backends[0].n_qubits == 5 and config.backends[0].kind == "noisy"
    js = tmp_path / "server.json"
    js.write_text(json.dumps({"data_dir": str(tmp_path), "backends": [{"name": "f", "kind": "flaky"}]}))
    loaded = ServerConfig.from_file(js)
    assert loaded.backends[0].failure_probability == 0.2
    with pytest.raises(ValueError):
        ServerConfig.from_file(tmp_path / "server.yaml")
