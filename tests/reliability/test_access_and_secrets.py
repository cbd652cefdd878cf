"""Access control through the public API, the bind address, constant-time token lookup,
and a full flow whose distinctive token must never be written anywhere Prefect keeps
things: logs, exception text, artifacts, persisted results, run parameters.

(Raw-HTTP share levels, 401s, owner-only changes and body limits are in tests/server.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import pytest
import requests
from prefect import flow

from prefect_ibmq import IBMQService
from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import ghz
from prefect_ibmq.exceptions import IBMQJobNotFoundError
from prefect_ibmq.flows import circuit_sweep, run_circuits
from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig, auth
from prefect_ibmq.tasks import fetch_result, job_status
from prefect_ibmq.wire import ApiJobStatus, Identity
from tests.helpers import TOKENS
from tests.reliability.helpers import tokens_toml


def _service(user: str, url: str) -> IBMQService:
    return IBMQService(url, TOKENS[user][0])


def test_group_shared_job_through_the_public_api(job_server):
    tag = f"grp-{uuid.uuid4().hex[:6]}"
    job = _service("alice", job_server.url).backend("aer_simulator").run(
        ghz(2), shots=8, share_level="group", job_tags=[tag])
    # bob is in alice's hub and group: he sees it, by id and in lists.
    assert _service("bob", job_server.url).job(job.job_id()).job_id() == job.job_id()
    assert [j.job_id() for j in _service("bob", job_server.url).jobs(job_tags=[tag])] == [job.job_id()]
    # carol (same hub, other group) and dave (other hub) do not: it looks unknown to them.
    for outsider in ("carol", "dave"):
        service = _service(outsider, job_server.url)
        with pytest.raises(IBMQJobNotFoundError):
            service.job(job.job_id())
        assert service.jobs(job_tags=[tag]) == []


def test_an_unshared_job_is_404_on_every_endpoint_for_others(job_server):
    job = _service("alice", job_server.url).backend("aer_simulator").run(ghz(2), shots=8)
    job.wait_for_final_state(timeout=60)
    dave = requests.Session()
    dave.headers["Authorization"] = f"Bearer {TOKENS['dave'][0]}"
    base = f"{job_server.url}/v1/jobs/{job.job_id()}"
    for method, path, body in [
        ("GET", "", None), ("GET", "/status", None), ("GET", "/result", None), ("GET", "/circuits", None),
        ("POST", "/cancel", None), ("PATCH", "/tags", {"additional_tags": ["x"]}),
        ("PUT", "/name", {"name": "mine"}), ("DELETE", "", None),
    ]:
        response = dave.request(method, base + path, json=body, timeout=30)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    # Nothing changed, and alice still reads her result.
    record = _service("alice", job_server.url).job(job.job_id()).record
    assert record.name != "mine" and "x" not in record.tags
    assert _service("alice", job_server.url).job(job.job_id()).result().get_counts()


def test_server_binds_loopback_unless_told_otherwise(tmp_path, server_process):
    from prefect_ibmq.cli import _config, _parser

    assert _config(_parser().parse_args(["server", "--data-dir", str(tmp_path / "a"), "--token", "t"])).host \
        == "127.0.0.1"
    config_file = tmp_path / "c.toml"
    config_file.write_text(f'data_dir = "{tmp_path / "b"}"\n', encoding="utf-8")
    assert _config(_parser().parse_args(["server", "--config", str(config_file)])).host == "127.0.0.1"
    assert _config(_parser().parse_args(["server", "--config", str(config_file), "--host", "0.0.0.0"])).host \
        == "0.0.0.0"
    # The running console command: its listening socket is on 127.0.0.1 (as the kernel reports it).
    server = server_process(f'data_dir = "{tmp_path / "c"}"\n' + tokens_toml(TOKENS)).start()
    listening = _listening_addresses(server.port)
    assert listening == {"127.0.0.1"}, listening


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, state = fields[1], fields[3]
            host_hex, port_hex = address.split(":")
            if int(port_hex, 16) != port or state != "0A":  # 0A: LISTEN
                continue
            if len(host_hex) == 8:
                found.add(".".join(str(int(host_hex[i:i + 2], 16)) for i in (6, 4, 2, 0)))
            else:
                found.add(f"ipv6:{host_hex}")
    return found


def test_tokens_are_compared_in_constant_time_against_every_entry(monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    identities = {token: identity for token, identity in TOKENS.values()}
    table = auth.TokenTable(identities)
    for given, expected in [(TOKENS["alice"][0], "alice"), (TOKENS["dave"][0], "dave"), ("tok-nobody-1", None)]:
        compared.clear()
        found = table.identify(given)
        assert (found.user if found else None) == expected
        # Every entry compared, with compare_digest, whether found first, last or never: no early exit.
        assert len(compared) == len(identities)
        assert all(b == given.encode() for _, b in compared)


# --- secrets never written -----------------------------------------------------------------

SECRET = "tok-SECRET-7f3a9c1e5b2d4086-do-not-leak"


@pytest.fixture
def secret_server(tmp_path):
    config = ServerConfig(
        data_dir=tmp_path / "secret-server",
        tokens={SECRET: Identity(user="sec", hub="hs", group="gs", project="ps")},
        backends=[BackendSpec(name="aer_simulator")],
        workers=1,
    )
    with JobServer(config) as server:
        yield server


def _contains_secret(value: object) -> bool:
    return SECRET in (value if isinstance(value, str) else json.dumps(value, default=str))


def test_a_full_flow_never_writes_its_token(secret_server, prefect_harness, caplog, figures, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

    caplog.set_level(logging.DEBUG)
    credentials = IBMQServiceCredentials(url=secret_server.url, token=SECRET)
    sweep_id = f"secret-{uuid.uuid4().hex[:6]}"
    report = circuit_sweep([ghz(2), ghz(3)] * 3, shots=16, max_experiments_per_job=2, sweep_id=sweep_id,
                           service=credentials)
    assert len(report.job_ids) == 3
    single = run_circuits([ghz(2)], shots=16, job_name="secret-run", service=credentials)
    assert single.status is ApiJobStatus.COMPLETED and int(single.counts["count"].sum()) == 16

    @flow(name="secret-failing")
    def failing(creds: IBMQServiceCredentials):
        return job_status("0" * 24, service=creds)  # unknown job: the task fails (not retried)

    state = failing(credentials, return_state=True)
    assert state.is_failed()
    with pytest.raises(IBMQJobNotFoundError) as caught:
        state.result()
    texts = [str(caught.value), repr(caught.value), state.message or ""]

    @flow(name="secret-fetch")
    def fetch(creds: IBMQServiceCredentials, job_id: str):
        return fetch_result(job_id, service=creds)

    assert fetch(credentials, report.job_ids[0]).get_counts()

    APILogWorker.drain_all(timeout=30)  # ship the run logs to the API before reading them back

    async def read_back():
        async with get_client() as client:
            async def every(read, **kwargs):  # the API pages at 200
                out, offset = [], 0
                while True:
                    page = await read(limit=200, offset=offset, **kwargs)
                    out.extend(page)
                    if len(page) < 200:
                        return out
                    offset += 200

            runs = await every(client.read_flow_runs)
            logs = await every(client.read_logs, log_filter=LogFilter(flow_run_id={"any_": [r.id for r in runs]}))
            return runs, logs, await every(client.read_task_runs), await every(client.read_artifacts)

    flow_runs, logs, task_runs, artifacts = asyncio.run(read_back())
    assert flow_runs and logs and task_runs and artifacts  # there is something to look into
    assert any(sweep_id in log.message for log in logs)
    parameters = [r.parameters for r in flow_runs]
    assert any("service" in p for p in parameters)
    task_run_fields = [t.model_dump(mode="json") for t in task_runs]
    artifact_fields = [a.model_dump(mode="json") for a in artifacts]

    storage = Path(PREFECT_LOCAL_STORAGE_PATH.value()).expanduser()
    stored_files = [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []
    assert stored_files, f"fetch_result persists its result under {storage}"
    leaks = {
        "caplog": SECRET in caplog.text,
        "exception_text": any(SECRET in t for t in texts),
        "prefect_run_logs": any(SECRET in log.message for log in logs),
        "flow_run_parameters": _contains_secret(parameters),
        "task_runs": _contains_secret(task_run_fields),
        "artifacts": _contains_secret(artifact_fields),
        "persisted_results": any(SECRET.encode() in p.read_bytes() for p in stored_files),
    }
    assert not any(leaks.values()), leaks
    assert "***" in str(credentials) or "**********" in repr(credentials)
    figures.record(
        "secrets",
        token_found_in={k: v for k, v in leaks.items()},
        places_checked=len(leaks),
        log_lines_checked=len(caplog.records) + len(logs),
        flow_runs_checked=len(flow_runs),
        task_runs_checked=len(task_runs),
        artifacts_checked=len(artifacts),
        result_files_checked=len(stored_files),
    )
