"""IBMQService: backends, job retrieval, job listing filters, sharing, and the embedded local() server."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQService
from prefect_ibmq.backend import IBMQBackendNotFoundError, IBMQBackendValueError
from prefect_ibmq.circuits import bell
from prefect_ibmq.exceptions import IBMQJobAccessError, IBMQJobNotFoundError


def test_backends_and_unknown_backend_lists_the_names(service):
    names = {backend.name for backend in service.backends()}
    assert {"aer_simulator", "noisy_simulator", "flaky_simulator", "slow_simulator"} <= names
    assert [b.name for b in service.backends(name="aer_simulator")] == ["aer_simulator"]
    with pytest.raises(IBMQBackendNotFoundError, match=r"no backend named 'nope'; it has \[.*'aer_simulator'"):
        service.backend("nope")


def test_job_fetches_a_job_with_its_data(service, aer):
    job = aer.run(bell(), shots=8, job_name="fetch-me")
    again = service.job(job.job_id())
    assert again.job_id() == job.job_id() and again.name() == "fetch-me"
    assert again.backend() is aer


@pytest.fixture(scope="module")
def tagged_jobs(service, aer):
    """Three finished jobs with a fresh tag: two named 'sweep-*', one with an experiment id."""
    tag = f"list-{uuid.uuid4().hex[:8]}"
    jobs = [
        aer.run(bell(), shots=8, job_name="sweep-1", job_tags=[tag, "one"]),
        aer.run(bell(), shots=8, job_name="sweep-2", job_tags=[tag, "two"]),
        aer.run(bell(), shots=8, job_name="other", job_tags=[tag, "one", "two"], experiment_id="exp-x"),
    ]
    for job in jobs:
        job.wait_for_final_state(timeout=60)
    return tag, jobs


def ids(jobs):
    return [job.job_id() for job in jobs]


def test_jobs_newest_first_with_limit_and_skip(service, tagged_jobs):
    tag, jobs = tagged_jobs
    assert ids(service.jobs(job_tags=[tag])) == ids(reversed(jobs))
    assert ids(service.jobs(job_tags=[tag], limit=1, skip=1)) == [jobs[1].job_id()]


def test_jobs_filters(service, tagged_jobs):
    tag, jobs = tagged_jobs
    assert set(ids(service.jobs(job_tags=[tag], job_name="^sweep-"))) == set(ids(jobs[:2]))
    assert ids(service.jobs(job_tags=[tag], experiment_id="exp-x")) == [jobs[2].job_id()]
    both = ids(service.jobs(job_tags=["one", "two"], job_tags_operator="AND", backend_name="aer_simulator"))
    assert jobs[2].job_id() in both and jobs[0].job_id() not in both
    either = ids(service.jobs(job_tags=["one", "two"], job_tags_operator="OR", limit=1000))
    assert set(ids(jobs)) <= set(either)
    assert len(service.jobs(job_tags=[tag], status=JobStatus.DONE)) == 3
    assert service.jobs(job_tags=[tag], status=["ERROR", "CANCELLED"]) == []
    assert len(service.jobs(job_tags=[tag], status="COMPLETED")) == 3
    assert service.jobs(job_tags=[tag], backend_name="noisy_simulator") == []


def test_jobs_time_window(service, tagged_jobs):
    tag, jobs = tagged_jobs
    created = jobs[0].creation_date()
    assert len(service.jobs(job_tags=[tag], start_datetime=created - timedelta(seconds=1))) == 3
    assert service.jobs(job_tags=[tag], end_datetime=created - timedelta(seconds=1)) == []
    naive_future = datetime.now() + timedelta(hours=1)
    assert service.jobs(job_tags=[tag], start_datetime=naive_future) == []


def test_iter_jobs_pages_by_cursor_unmoved_by_newer_jobs(service, aer):
    tag = f"pages-{uuid.uuid4().hex[:8]}"
    jobs = [aer.run(bell(), shots=8, job_name=f"page-{i}", job_tags=[tag]) for i in range(3)]
    pages = service.iter_jobs(page_size=1, job_tags=[tag])  # one job per request
    first = next(pages)
    aer.run(bell(), shots=8, job_tags=[tag])  # newer: paged by offset, the rest would shift by one
    assert ids([first, *pages]) == ids(reversed(jobs))
    assert ids(service.iter_jobs(limit=2, page_size=1, job_tags=[tag], job_name="^page-")) == ids(jobs[:0:-1])
    with pytest.raises(IBMQBackendValueError, match=r"skip=1 is not accepted; give one of the filters backend_name"):
        service.iter_jobs(skip=1)
    with pytest.raises(IBMQBackendValueError, match=r"page_size=0"):
        service.iter_jobs(page_size=0)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"limit": 0}, r"limit=0 .* from 1 to 1000"),
        ({"skip": -1}, r"skip=-1"),
        ({"status": "FINISHED"}, r"status='FINISHED' .* 'DONE'"),
        ({"job_tags_operator": "XOR"}, r"give one of \['OR', 'AND'\]"),
        ({"job_tags": "a"}, r"job_tags='a'"),
    ],
)
def test_jobs_rejects_bad_filters(service, arguments, message):
    with pytest.raises(IBMQBackendValueError, match=message):
        service.jobs(**arguments)


def test_sharing_by_level_and_owner_only_changes(service, bob, aer):
    private_to_alice = aer.run(bell(), shots=8)
    shared_with_group = aer.run(bell(), shots=8, share_level="group")
    with pytest.raises(IBMQJobNotFoundError):
        bob.job(private_to_alice.job_id())
    seen_by_bob = bob.job(shared_with_group.job_id())
    assert seen_by_bob.share_level() == "group"
    with pytest.raises(IBMQJobAccessError, match="FORBIDDEN"):
        seen_by_bob.update_name("bob was here")


def test_local_starts_one_server_per_data_dir_and_reuses_it(tmp_path):
    data_dir = tmp_path / "local"
    first = IBMQService.local(data_dir)
    try:
        assert (data_dir / "server.json").exists()
        second = IBMQService.local(str(data_dir))
        assert second.url == first.url
        job = first.backend("aer_simulator").run(bell(), shots=8)
        assert sum(second.job(job.job_id()).result(timeout=60).get_counts().values()) == 8
        second.close()
        assert first.backend("aer_simulator").status().operational  # still served for `first`
    finally:
        first.close()
    assert not (data_dir / "server.json").exists()  # the last close stopped it


def test_local_uses_the_data_dir_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_IBMQ_DATA_DIR", str(tmp_path / "from-env"))
    with IBMQService.local() as local:
        assert (tmp_path / "from-env" / "server.json").exists()
        assert "aer_simulator" in [backend.name for backend in local.backends()]


def test_local_connects_to_a_server_that_already_serves_the_data_dir(tmp_path):
    from prefect_ibmq.server import JobServer, ServerConfig

    data_dir = tmp_path / "served"
    with JobServer(ServerConfig.default(data_dir)) as running:
        with IBMQService.local(data_dir) as local:
            assert local.url == running.url
            assert local.backend("aer_simulator").status().operational
        assert running.running  # closing the client does not stop a server it did not start
