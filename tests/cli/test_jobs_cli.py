"""``prefect-ibmq jobs ...``: the installed console script, run as a process against the session's job server.

Each call costs a second or two of imports, so each test makes a few calls that check a lot.
Every call also checks that the token appears nowhere in what the command printed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQService
from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import ApiJobStatus
from tests.client.helpers import wait_for_status
from tests.helpers import TOKENS

SCRIPT = Path(sys.executable).with_name("prefect-ibmq")
TOKEN = TOKENS["alice"][0]
LIFECYCLE = [status.value for status in ApiJobStatus]


def _env(token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_IBMQ_")}
    if token is not None:
        env["PREFECT_IBMQ_TOKEN"] = token
    return {**env, **(extra or {})}


def start(*args: str, token: str | None = TOKEN, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``prefect-ibmq jobs ARGS`` started with the token in ``$PREFECT_IBMQ_TOKEN`` (and ``env`` added)."""
    return subprocess.Popen(
        [str(SCRIPT), "jobs", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(token, env)
    )


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """The finished process's output, checked to hold no token and no traceback."""
    stdout, stderr = process.communicate(timeout=120)
    for token, _ in TOKENS.values():
        assert token not in stdout + stderr
    assert "Traceback" not in stderr
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def cli(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    return finish(start(*args, token=token))


def ok_json(*args: str) -> object:
    done = cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def alice(job_server):
    with IBMQService(url=job_server.url, token=TOKEN) as service:
        yield service


def test_list_filters_and_show_time_per_step(job_server, alice):
    tag = "cli-list"  # the session's server is fresh: only this test's jobs carry it
    aer = alice.backend("aer_simulator")
    first = aer.run(bell(), shots=64, job_name="cli-first", job_tags=[tag, "x"], seed_simulator=1)
    first.wait_for_final_state()
    second = aer.run([bell()] * 2, shots=64, job_name="cli-second", job_tags=[tag])
    second.wait_for_final_state()
    noisy = alice.backend("noisy_simulator").run(bell(), shots=64, job_name="cli-noisy", job_tags=[tag])
    noisy.wait_for_final_state()
    url = ["--url", job_server.url]

    table = cli("list", *url, "--tag", tag)
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == [noisy.job_id(), second.job_id(), first.job_id()]  # newest first
    assert rows[2][1:6] == ["DONE", "aer_simulator", *f"{first.creation_date():%Y-%m-%d %H:%M:%S}".split(), "cli-first"]
    assert rows[2][6:] == [f"{tag},", "x"]

    # All four filters at once (status in lower case, as people type it), and the token on the command line.
    done = cli("list", *url, "--token", TOKEN, "--tag", tag, "--status", "done", "--backend", "aer_simulator",
               "--limit", "1", "--json", token=None)
    assert done.returncode == 0, done.stderr
    assert [record["job_id"] for record in json.loads(done.stdout)] == [second.job_id()]
    assert ok_json("list", *url, "--tag", tag, "--status", "CANCELLED", "--status", "ERROR") == []

    shown = cli("show", first.job_id(), *url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["job", "id", first.job_id()]
    assert ["status", "DONE", "(COMPLETED)"] in [line.split() for line in lines]
    assert ["tags", f"{tag},", "x"] in [line.split() for line in lines]
    steps = [line.split()[0] for line in lines[lines.index(next(line for line in lines if "STEP" in line)) + 1:]]
    assert steps == list(first.time_per_step())
    assert steps == sorted(steps, key=LIFECYCLE.index) and steps[-3:] == ["QUEUED", "RUNNING", "COMPLETED"]
    record = ok_json("show", first.job_id(), *url)
    assert record["job_id"] == first.job_id() and record["tags"] == [tag, "x"]
    assert list(record["time_per_step"]) == steps


def test_wait_follows_a_job_that_cancel_stops(job_server, alice):
    url = ["--url", job_server.url]
    # 0.5 s per experiment: 100 s unless cancelled, however slow the machine is today.
    job = alice.backend("slow_simulator").run([bell()] * 200, shots=16, job_name="cli-cancelled")
    waiting = start("wait", job.job_id(), *url, "--json")
    first_line = json.loads(waiting.stdout.readline())  # the waiter is attached: it printed where the job is
    assert first_line["job_id"] == job.job_id()
    assert first_line["status"] in {"CREATING", "CREATED", "VALIDATING", "VALIDATED", "QUEUED", "RUNNING"}
    assert wait_for_status(job, {JobStatus.RUNNING}) is JobStatus.RUNNING

    cancelled = cli("cancel", job.job_id(), *url)
    assert (cancelled.returncode, cancelled.stdout) == (0, f"Cancelled job {job.job_id()} (CANCELLED).\n")
    waited = finish(waiting)
    seen = [first_line] + [json.loads(line) for line in waited.stdout.splitlines()]
    statuses = [line["status"] for line in seen]
    assert waited.returncode == 1  # it ended, but not DONE
    assert statuses[-1] == "CANCELLED" and "RUNNING" in statuses and seen[-1]["job_status"] == "CANCELLED"
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False))  # one line per change
    assert job.status() is JobStatus.CANCELLED

    again = cli("cancel", job.job_id(), *url)
    assert again.returncode == 1 and "already ended (CANCELLED)" in again.stdout
    short = alice.backend("slow_simulator").run([bell()] * 2, shots=16, job_name="cli-done")
    waited = cli("wait", short.job_id(), *url)
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.splitlines()[-1].endswith(f"{short.job_id()}  DONE (COMPLETED)")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bad_arguments_exit_2_with_one_line(job_server):
    url = ["--url", job_server.url]
    cases = {
        "status": (["list", *url, "--status", "FINISHED"], "status='FINISHED' is not accepted"),
        "limit": (["list", *url, "--limit", "-3"], "limit=-3 is not accepted"),
        "job id": (["show", "no-such-job", *url], "'no-such-job' not found. Check the id"),  # sentences end
        "unreachable": (["wait", "x", "--url", f"http://127.0.0.1:{_closed_port()}"], "could not reach"),
        "bad token": (["cancel", "x", *url, "--token", "tok-wrong-0123456789"],
                      "'Authorization: Bearer <token>'. Check the token given for this service (--token"),
        "argparse": (["list", *url, "--limit", "many"], "invalid int value: 'many'"),
        "url and block": (["list", *url, "--block", "mine"], "not allowed with argument"),
    }
    running = {name: start(*args) for name, (args, _) in cases.items()}  # side by side: each waits on imports
    running["no token"] = start("list", *url, token=None)
    for name, process in running.items():
        done = finish(process)
        expected = cases[name][1] if name in cases else "needs a token: set $PREFECT_IBMQ_TOKEN"
        assert done.returncode == 2, (name, done.stderr)
        assert done.stdout == "", name
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("prefect-ibmq"), (name, done.stderr)
        assert expected in done.stderr, (name, done.stderr)
        assert "tok-wrong" not in done.stderr


def test_a_saved_block_or_the_embedded_default_names_the_service(job_server, alice, prefect_harness, tmp_path):
    from prefect.settings import PREFECT_API_URL

    from prefect_ibmq.blocks import IBMQServiceCredentials

    # No --url and no token: a fresh data folder's embedded service, started by the command itself.
    embedded = start("list", "--json", token=None, env={"PREFECT_IBMQ_DATA_DIR": str(tmp_path)})
    IBMQServiceCredentials(url=job_server.url, token=TOKEN).save("cli-block", overwrite=True)
    tag = "cli-block"
    job = alice.backend("aer_simulator").run(bell(), shots=64, job_tags=[tag])
    prefect_api = {"PREFECT_API_URL": PREFECT_API_URL.value()}
    by_block = start("list", "--block", "cli-block", "--tag", tag, "--json", token=None, env=prefect_api)
    no_block = start("show", job.job_id(), "--block", "no-such-block", token=None, env=prefect_api)

    listed = finish(by_block)
    assert listed.returncode == 0, listed.stderr
    assert [record["job_id"] for record in json.loads(listed.stdout)] == [job.job_id()]  # the block's token
    missing = finish(no_block)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "'no-such-block'" in missing.stderr
    local = finish(embedded)
    assert (local.returncode, json.loads(local.stdout)) == (0, []), local.stderr
    assert (tmp_path / "jobs.sqlite3").exists() and not (tmp_path / "server.json").exists()  # started, then stopped
