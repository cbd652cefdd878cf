"""Status mapping, QueueInfo and retry timing: pure functions, no server needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from qiskit.providers import JobStatus

from prefect_ibmq import ApiJobStatus, QueueInfo
from prefect_ibmq.api.retry import RetryPolicy, parse_retry_after
from prefect_ibmq.job import API_TO_JOB_STATUS, api_status_to_job_status
from prefect_ibmq.wire import QueueInfoModel


def test_every_api_status_maps_as_the_legacy_provider_did():
    assert set(API_TO_JOB_STATUS) == set(ApiJobStatus)
    assert api_status_to_job_status("CREATED") is JobStatus.INITIALIZING
    assert api_status_to_job_status(ApiJobStatus.VALIDATED) is JobStatus.VALIDATING
    assert api_status_to_job_status("QUEUED") is JobStatus.QUEUED
    assert api_status_to_job_status("COMPLETED") is JobStatus.DONE
    assert {api_status_to_job_status(s) for s in ApiJobStatus if s.name.startswith("ERROR")} == {JobStatus.ERROR}


def test_queue_info_from_wire_has_local_datetimes_and_formats():
    start = datetime.now(UTC) + timedelta(minutes=5)
    model = QueueInfoModel(position=3, status="QUEUED", estimated_start_time=start.isoformat(), hub_priority=0.5)
    info = QueueInfo.from_model(model, job_id="j1")
    assert info.position == 3 and info.job_id == "j1"
    assert info.estimated_start_time.tzinfo is not None
    assert info.estimated_start_time == start
    assert info.estimated_complete_time is None
    text = info.format()
    assert "queue position: 3" in text and "status: QUEUED" in text
    assert "estimated start time: in 4 minutes" in text or "in 5 minutes" in text
    assert "estimated completion time: unknown" in text
    assert info.to_dict()["hub_priority"] == 0.5
    assert repr(info).startswith("<QueueInfo(job_id='j1', _status='QUEUED'")
    assert "position='3'" in repr(info)


def test_queue_info_without_information_says_so():
    assert not QueueInfo(status="QUEUED", job_id="j").has_information()
    assert "status: QUEUED" in QueueInfo(status="PENDING_IN_QUEUE").format()
    assert QueueInfo(position=1).has_information()


def test_backoff_grows_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_max=4.0)
    delays = [policy.delay(attempt) for attempt in range(4)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(2.0 <= delay <= 4.0 for delay in delays[2:])  # capped
    assert policy.delay(0, retry_after=7.0) == 7.0


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= parse_retry_after(format_datetime(later, usegmt=True)) <= 30
