"""What wakes a parked long-poll, and what a cancel frees: told by the server's state, not by a clock.

Both tests hold every worker of the session's server with jobs of ``slow_simulator``
(``tests.helpers.workers_held``), so the job under test waits QUEUED for as long as the
test needs, however busy the machine is.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.helpers import workers_held
from tests.server.helpers import Api, parked_long_polls


def test_a_parked_waiter_is_woken_by_its_job_finishing_not_by_its_deadline(job_server, alice, tokens):
    pool = ThreadPoolExecutor(2)
    with workers_held(job_server.url, tokens["alice"], job_server.config.workers):
        job_id = alice.submit()["job_id"]
        assert alice.wait_for(job_id, {"QUEUED"})["status"] == "QUEUED"  # validated, then queued behind the held
        now = alice.status(job_id)
        assert now["status"] == "QUEUED" and now["wake_reason"] == "immediate" and now["timed_out"] is False
        nothing = alice.status(job_id, wait=0.2, known="QUEUED")
        assert nothing["status"] == "QUEUED" and nothing["wake_reason"] == "deadline" and nothing["timed_out"] is True
        # Two waiters parked with wait=30: one for the end, one for the first change.
        waiter = Api(job_server.url, tokens["alice"])  # a session of its own: requests' are not shared by threads
        final = pool.submit(waiter.status, job_id, wait=30, until="final")
        change = pool.submit(Api(job_server.url, tokens["alice"]).status, job_id, wait=30, known="QUEUED")
        parked_long_polls(alice, 2)
    # The held workers were freed as the block ended: the job runs and finishes in milliseconds.
    ended, changed = final.result(), change.result()
    pool.shutdown()
    assert ended["status"] == "COMPLETED" and ended["timed_out"] is False
    # Woken by the job's notification: without it, the waiter would answer at its 30 s deadline.
    assert ended["wake_reason"] == "notified", ended
    assert changed["status"] in ("RUNNING", "COMPLETED") and changed["wake_reason"] == "notified", changed


def test_a_cancel_frees_its_worker_for_the_next_job(job_server, alice, tokens):
    # The session's server simulates in its default pool of processes.
    assert job_server.config.simulation == "processes"
    workers = job_server.config.workers
    with workers_held(job_server.url, tokens["alice"], workers) as hold:
        held = hold.ids
        job_id = alice.submit()["job_id"]
        assert alice.wait_for(job_id, {"QUEUED"})["status"] == "QUEUED"
        cancelled = alice.request("POST", f"/jobs/{held[0]}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
        # The freed worker runs the queued job while the other holding jobs still run (each has
        # minutes of experiments left): only the cancel can have made room for it.
        assert alice.wait_final(job_id)["status"] == "COMPLETED"
        assert [alice.status(other)["status"] for other in held[1:]] == ["RUNNING"] * (workers - 1)
