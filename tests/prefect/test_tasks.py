"""Each task against the real job server; faults come from a real proxy in between."""

from __future__ import annotations

import uuid

import pytest
from prefect import flow
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQJobTimeoutError, IBMQService
from prefect_ibmq.api import RetryPolicy
from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import bell, ghz
from prefect_ibmq.exceptions import IBMQJobResultConsumedError
from prefect_ibmq.tasks import (
    cancel_job,
    fetch_result,
    job_status,
    submit_job,
    update_job_name,
    update_job_tags,
    wait_for_final_state,
)
from prefect_ibmq.wire import ApiJobStatus
from tests.faultproxy import FaultProxy, Rule
from tests.helpers import HOLD_EXPERIMENTS, HeldWorkers
from tests.prefect.helpers import state_names, task_runs


def test_submit_retried_after_a_lost_response_leaves_one_job(job_server, alice_token, credentials):
    with FaultProxy(job_server.url) as proxy:
        # The service makes the job, but the client never hears of it: twice.
        proxy.add_rule(Rule("drop_response", method="POST", path="/v1/jobs$", times=2))
        via_proxy = IBMQServiceCredentials(url=proxy.url, token=alice_token)

        @flow
        def submit_through_faults() -> str:
            return submit_job([bell()], shots=32, job_name="lost-response", service=via_proxy)

        job_id = submit_through_faults()
        assert proxy.injected["drop_response"] == 2
    jobs = credentials.get_client().jobs(job_name="^lost-response$", limit=100)
    assert [job.job_id() for job in jobs] == [job_id]


def test_a_fault_outlasting_the_clients_retries_is_retried_by_prefect_without_a_second_job(
    job_server, alice_token, credentials
):
    budget = RetryPolicy().max_retries + 1  # the client's attempts per request
    name = f"task-retry-{uuid.uuid4().hex[:8]}"
    with FaultProxy(job_server.url) as proxy:
        # Every attempt of the client reaches the service (which makes the job, then hands the
        # same job back to the repeats of its idempotency key), and every answer is lost.
        proxy.add_rule(Rule("drop_response", method="POST", path="/v1/jobs$", times=budget))
        via_proxy = IBMQServiceCredentials(url=proxy.url, token=alice_token)

        @flow
        def submit_through_a_long_fault() -> str:
            return submit_job([bell()], shots=16, job_name=name, service=via_proxy)

        state = submit_through_a_long_fault(return_state=True)
        job_id = state.result()
        assert proxy.injected["drop_response"] == budget
    # The client gave up (IBMQJobApiError); Prefect ran the task again, which found the same job.
    [submit_run] = [run for run in task_runs(state.state_details.flow_run_id) if run.name == f"submit-{name}"]
    assert submit_run.run_count == 2
    assert "AwaitingRetry" in state_names(submit_run.id)
    jobs = credentials.get_client().jobs(job_name=f"^{name}$", limit=10)
    assert [job.job_id() for job in jobs] == [job_id]


def test_wait_timeout_cancels_the_job_unless_told_not_to(credentials, recorded_events):
    service = credentials.get_client()

    @flow
    def wait_briefly(cancel_on_timeout: bool) -> str:
        # HOLD_EXPERIMENTS on slow_simulator: minutes of work, still running however slow the machine
        # (the one left running is cancelled below).
        job_id = submit_job([ghz(3)] * HOLD_EXPERIMENTS, backend_name="slow_simulator", shots=16, service=credentials)
        state = wait_for_final_state(job_id, timeout=0.5, cancel_on_timeout=cancel_on_timeout,
                                     service=credentials, return_state=True)
        assert state.is_failed()
        with pytest.raises(IBMQJobTimeoutError):
            state.result()
        return job_id

    cancelled = wait_briefly(True)
    assert service.job(cancelled).status() is JobStatus.CANCELLED
    assert recorded_events("prefect-ibmq.job.cancelled")[-1].resource.id == f"prefect-ibmq.job.{cancelled}"
    left_running = wait_briefly(False)
    job = service.job(left_running)
    assert job.status() in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.VALIDATING)
    assert job.cancel()


def test_status_tags_name_cancel_and_fetch_tasks(job_server, alice_token, credentials, recorded_events):
    hold = HeldWorkers(job_server.url, alice_token, job_server.config.workers)

    @flow
    def manage() -> dict:
        # The job waits QUEUED behind the held workers through the three tasks before the wait, and the
        # wait starts before it runs: the workers are freed once the wait is parked in its long-poll.
        # Four experiments on slow_simulator (~2 s), so the wait hears RUNNING on the way.
        job_id = submit_job([bell()] * 4, backend_name="slow_simulator", shots=16, job_tags=["a", "b"],
                            service=credentials)
        out = {
            "status": job_status(job_id, service=credentials),
            "tags": update_job_tags(job_id, replacement_tags=["x"], additional_tags=["y", "z"],
                                    removal_tags=["z"], service=credentials),
            "name": update_job_name(job_id, "renamed", service=credentials),
        }
        hold.release_once_parked()
        record = wait_for_final_state(job_id, service=credentials)
        out["final"] = record.status
        out["result"] = fetch_result(job_id, service=credentials)
        out["cancel_finished"] = cancel_job(job_id, service=credentials)
        return out

    try:
        hold.hold()
        out = manage()
    finally:
        hold.close()
    # Not running yet (the workers were held): still being validated, or queued.
    assert out["status"] in (JobStatus.INITIALIZING, JobStatus.VALIDATING, JobStatus.QUEUED)
    assert sorted(out["tags"]) == ["x", "y"]
    assert out["name"] == "renamed"
    assert out["final"] is ApiJobStatus.COMPLETED
    assert set(out["result"].get_counts(0)) <= {"00", "11"}
    assert out["cancel_finished"] is False
    # One event per status change the wait saw, about the job as a resource.
    events = recorded_events("prefect-ibmq.job.")
    job_id = out["result"].job_id
    assert {e.resource.id for e in events} == {f"prefect-ibmq.job.{job_id}"}
    names = [e.event for e in events]
    assert names[-1] == "prefect-ibmq.job.completed"
    assert "prefect-ibmq.job.running" in names
    assert names == [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]  # no repeats


def test_tasks_use_the_service_from_the_environment(job_server, alice_token, monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_IBMQ_URL", job_server.url)
    monkeypatch.setenv("PREFECT_IBMQ_TOKEN", alice_token)
    # Were the environment ignored, the embedded default would start here (not in the user's folder).
    embedded = tmp_path / "embedded-default"
    monkeypatch.setenv("PREFECT_IBMQ_DATA_DIR", str(embedded))
    name = f"from-env-{uuid.uuid4().hex[:8]}"

    @flow
    def from_env() -> str:
        return submit_job([bell()], shots=8, job_name=name)

    job_id = from_env()
    # The job is on the service the environment names, as alice's, and nothing started elsewhere.
    on_server = IBMQService(job_server.url, alice_token).jobs(job_name=f"^{name}$", limit=10)
    assert [job.job_id() for job in on_server] == [job_id]
    assert not embedded.exists()


def test_a_read_once_result_survives_a_retry_of_a_later_step(credentials):
    attempts = []

    @flow(retries=1, retry_delay_seconds=0)
    def private_then_flaky_step() -> dict:
        job_id = submit_job([bell()], shots=64, private=True, job_name="read-once",
                            idempotency_key="read-once-flow", service=credentials)
        wait_for_final_state(job_id, service=credentials)
        counts = fetch_result(job_id, service=credentials).get_counts()
        attempts.append(job_id)
        if len(attempts) == 1:
            raise RuntimeError("a later step fails once")
        return counts

    counts = private_then_flaky_step()
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert sum(counts.values()) == 64
    # The service gave the result out once; the retried flow read Prefect's persisted copy.
    with pytest.raises(IBMQJobResultConsumedError):
        credentials.get_client().job(attempts[0]).result()


class _PathLog(FaultProxy):
    """The fault proxy (no faults), keeping the method and path of every request."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.requests: list[tuple[str, str]] = []

    def choose_fault(self, method: str, path: str) -> str | None:
        self.requests.append((method, path.split("?")[0]))
        return super().choose_fault(method, path)


def test_wait_task_asks_only_for_news_and_gets_the_record_with_the_final_status(
    job_server, alice_token, credentials, recorded_events
):
    with _PathLog(job_server.url) as proxy:
        via_proxy = IBMQServiceCredentials(url=proxy.url, token=alice_token)
        via_proxy.get_client().backend("slow_simulator")  # the backend is read once per service
        start = proxy.forwarded

        def submit_then_wait():
            # Submitted directly (not counted) inside the flow: a flow run slow to start (a busy Prefect
            # server late in the suite) cannot outlast the job (~3 s on slow_simulator) before the wait.
            job_id = credentials.get_client().backend("slow_simulator").run([bell()] * 6, shots=8).job_id()
            return wait_for_final_state(job_id, service=via_proxy)

        record = flow(submit_then_wait, name="wait-counted")()
        forwarded, requests = proxy.forwarded - start, proxy.requests[-(proxy.forwarded - start):]
    job_id = record.job_id
    assert record.status is ApiJobStatus.COMPLETED and "COMPLETED" in record.time_per_step
    # One read of the job, then long-polls only: no status() right after it, no read of the record at the end.
    assert requests[0] == ("GET", f"/v1/jobs/{job_id}")
    polls = requests[1:]
    assert polls and set(polls) == {("GET", f"/v1/jobs/{job_id}/status")}
    # Each long-poll brought news: one event for the record first read, then one per answer.
    events = [e for e in recorded_events("prefect-ibmq.job.") if e.resource.id == f"prefect-ibmq.job.{job_id}"]
    assert len(events) == 1 + len(polls) == forwarded, [e.event for e in events]
