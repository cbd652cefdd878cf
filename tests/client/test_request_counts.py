"""How many HTTP requests waiting costs, counted on the wire through the fault proxy (no faults).

Counts, never times: a test that depends on how long a job runs asserts what each
request answered (timed out or not), not how many windows fit into the run.
"""

from __future__ import annotations

import pytest
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQService
from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import ApiJobStatus


@pytest.fixture()
def proxied(proxied: IBMQService) -> IBMQService:
    proxied.backend("slow_simulator")  # its configuration is read once, before any count
    return proxied


@pytest.fixture()
def answers(proxied, monkeypatch):
    """Every status answer the client received, in order."""
    seen = []
    original = proxied._api.get_job_status

    def spy(*args, **kwargs):
        answer = original(*args, **kwargs)
        seen.append(answer)
        return answer

    monkeypatch.setattr(proxied._api, "get_job_status", spy)
    return seen


def _counted(proxy):
    """Start counting: returns a function giving (forwarded since, [(method, path)] since)."""
    forwarded, logged = proxy.forwarded, len(proxy.requests)
    return lambda: (proxy.forwarded - forwarded, proxy.requests[logged:])


def test_wait_without_callback_is_one_long_poll_until_final(proxy, proxied, answers):
    # Submitted CREATED, the job then goes VALIDATING, VALIDATED, QUEUED, RUNNING, COMPLETED.
    job = proxied.backend("slow_simulator").run([bell()] * 2, shots=8)
    count = _counted(proxy)
    job.wait_for_final_state(timeout=60)
    forwarded, requests = count()
    assert forwarded == 1, requests
    ((method, path),) = requests
    assert method == "GET" and path.startswith(f"/v1/jobs/{job.job_id()}/status?") and "until=final" in path
    assert answers[-1].status is ApiJobStatus.COMPLETED and not answers[-1].timed_out
    # The answer carried the record: every step the wait slept through is in it.
    assert {"QUEUED", "RUNNING", "COMPLETED"} <= set(job.record.time_per_step)

    # Nothing below asks the service again: the final record came with the status.
    steps = job.time_per_step()
    assert list(steps)[-1] == "COMPLETED" and "RUNNING" in steps
    assert job.scheduling_mode() == "fairshare"
    assert job.status() is JobStatus.DONE and job.in_final_state() and job.error_message() is None
    assert job.record.run_mode == "fairshare"
    assert count()[0] == 1

    assert job.result().get_counts(0)
    forwarded, requests = count()
    assert forwarded == 2 and requests[-1][1].startswith(f"/v1/jobs/{job.job_id()}/result")


def test_wait_without_callback_costs_one_request_per_window(proxy, proxied, answers):
    # 3 experiments of 0.5 s against 0.2 s windows: several windows pass, several changes too.
    job = proxied.backend("slow_simulator").run([bell()] * 3, shots=8)
    count = _counted(proxy)
    job.wait_for_final_state(timeout=60, wait=0.2)
    forwarded, requests = count()
    assert forwarded == len(answers) == len(requests)
    assert all("/status?" in path and "until=final" in path for _, path in requests)
    # Every request but the last used up its whole window: none was spent on an intermediate change.
    assert all(answer.timed_out for answer in answers[:-1]), [(a.status, a.timed_out) for a in answers]
    assert answers[-1].status is ApiJobStatus.COMPLETED and not answers[-1].timed_out
    job.time_per_step()
    job.scheduling_mode()
    assert count()[0] == forwarded


def test_result_waits_until_final_and_reads_the_result_once(proxy, proxied, answers):
    job = proxied.backend("slow_simulator").run([bell()] * 2, shots=8)
    count = _counted(proxy)
    assert job.result(wait=30).get_counts(1)
    forwarded, requests = count()
    assert forwarded == 2, requests
    assert "until=final" in requests[0][1] and requests[1][1].startswith(f"/v1/jobs/{job.job_id()}/result")
    assert job.time_per_step() and count()[0] == 2


def test_wait_with_callback_asks_only_for_news(proxy, proxied, answers):
    job = proxied.backend("slow_simulator").run([bell()] * 2, shots=8)
    heard = []
    count = _counted(proxy)
    job.wait_for_final_state(timeout=60, callback=lambda *args, queue_info: heard.append(args[1]))
    forwarded, requests = count()
    # Status requests only (no GET of the record at the end), each answered by a change.
    assert forwarded == len(answers) == len(requests)
    assert all("/status?" in path and "until=" not in path for _, path in requests)
    assert not any(answer.timed_out for answer in answers)
    assert answers[-1].status is ApiJobStatus.COMPLETED and answers[-1].record is not None
    # The callback heard every answer but the final one.
    assert len(heard) == len(answers) - 1
    job.time_per_step()
    assert count()[0] == forwarded


def test_a_job_read_when_final_needs_no_more_requests(proxy, proxied):
    job = proxied.backend("slow_simulator").run([bell()], shots=8)
    job.wait_for_final_state(timeout=60)
    again = proxied.job(job.job_id())
    count = _counted(proxy)
    again.wait_for_final_state()
    assert again.time_per_step() and again.scheduling_mode() == "fairshare" and again.done()
    assert count()[0] == 0
