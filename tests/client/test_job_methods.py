"""Each method and attribute of the legacy IBMQJob reference page, on real jobs of the session server."""

from __future__ import annotations

from datetime import datetime

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus, JobV1
from qiskit.result import Result

from prefect_ibmq import (
    ApiJobStatus,
    IBMQJob,
    IBMQJobInvalidStateError,
)
from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import JobRecord


@pytest.fixture(scope="module")
def done_job(aer):
    """A finished job on the ideal simulator with every descriptive field set."""
    job = aer.run(
        [bell("first"), bell("second")],
        shots=64,
        seed_simulator=7,
        job_name="methods",
        job_tags=["a", "b"],
        share_level="project",
        experiment_id="exp-1",
        header={"purpose": "test"},
    )
    job.wait_for_final_state(timeout=60)
    return job


def test_job_is_a_qiskit_job_v1(done_job):
    assert isinstance(done_job, JobV1)
    assert done_job.version == 1


def test_job_id_and_backend(done_job, aer):
    assert isinstance(done_job.job_id(), str) and done_job.job_id()
    assert done_job.backend() is aer


def test_status_done_and_flags(done_job):
    assert done_job.status() is JobStatus.DONE
    assert done_job.done() is True
    assert done_job.running() is False
    assert done_job.cancelled() is False
    assert done_job.in_final_state() is True


def test_backend_options(done_job):
    assert done_job.backend_options() == {"shots": 64, "memory": False, "seed_simulator": 7, "meas_level": 2,
                                          "meas_return": "single", "init_qubits": True}


def test_circuits_come_back_as_quantum_circuits(done_job):
    circuits = done_job.circuits()
    assert [c.name for c in circuits] == ["first", "second"]
    assert all(isinstance(c, QuantumCircuit) for c in circuits)
    assert circuits[0].count_ops()["cx"] == 1


def test_creation_date_is_local_and_tz_aware(done_job):
    created = done_job.creation_date()
    assert isinstance(created, datetime) and created.tzinfo is not None
    assert created.utcoffset() == datetime.now().astimezone().utcoffset()


def test_error_message_is_none_for_a_done_job(done_job):
    assert done_job.error_message() is None


def test_header_name_tags_share_level_experiment(done_job):
    assert done_job.header() == {"purpose": "test"}
    assert done_job.name() == "methods"
    assert done_job.tags() == ["a", "b"]
    assert done_job.share_level() == "project"
    assert done_job.experiment_id == "exp-1"


def test_client_version_names_qiskit(done_job):
    import qiskit

    assert done_job.client_version["qiskit"] == qiskit.__version__


def test_properties_of_an_ideal_backend_are_none(done_job):
    assert done_job.properties() is None


def test_qobj_is_none_and_submit_is_unsupported(done_job):
    assert done_job.qobj() is None
    with pytest.raises(NotImplementedError, match="IBMQBackend.run"):
        done_job.submit()


def test_queue_info_and_position_are_none_once_done(done_job):
    assert done_job.queue_info() is None
    assert done_job.queue_position() is None
    assert done_job.queue_position(refresh=True) is None


def test_refresh_and_record(done_job):
    done_job.refresh()
    record = done_job.record
    assert isinstance(record, JobRecord)
    assert record.job_id == done_job.job_id() and record.status is ApiJobStatus.COMPLETED
    assert record.num_experiments == 2


def test_result_counts_and_cache(done_job):
    result = done_job.result()
    assert isinstance(result, Result) and result.success
    counts = result.get_counts("first")
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 64
    assert done_job.result() is result  # cached per instance
    assert done_job.result(refresh=True) is not result


def test_scheduling_mode_is_fairshare_once_run(done_job):
    assert done_job.scheduling_mode() == "fairshare"


def test_time_per_step_is_tz_aware_local_in_lifecycle_order(done_job):
    steps = done_job.time_per_step()
    names = list(steps)
    order = [status.value for status in ApiJobStatus]
    assert names == sorted(names, key=order.index)
    assert names[0] == "CREATING" and names[-1] == "COMPLETED"
    assert {"QUEUED", "RUNNING"} <= set(names)
    times = list(steps.values())
    assert all(moment.tzinfo is not None for moment in times)
    assert times == sorted(times)


def test_update_name(done_job):
    assert done_job.update_name("renamed") == "renamed"
    assert done_job.name() == "renamed"
    done_job.refresh()
    assert done_job.name() == "renamed"


def test_update_name_rejects_a_non_str_without_sending(done_job):
    before = done_job.name()
    with pytest.raises(IBMQJobInvalidStateError, match="name=42 is not accepted; give a str"):
        done_job.update_name(42)
    done_job.refresh()
    assert done_job.name() == before


def test_update_tags_applies_replace_then_add_then_remove(done_job):
    tags = done_job.update_tags(replacement_tags=["x", "y"], additional_tags=["z", "w"], removal_tags=["y", "w"])
    assert sorted(tags) == ["x", "z"]
    assert sorted(done_job.tags()) == ["x", "z"]
    # Added and removed in one call is a no-op; removing a missing tag is ignored.
    assert sorted(done_job.update_tags(additional_tags=["t"], removal_tags=["t", "missing"])) == ["x", "z"]
    done_job.refresh()
    assert sorted(done_job.tags()) == ["x", "z"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({}, "give replacement_tags, additional_tags or removal_tags"),
        ({"additional_tags": "x"}, "additional_tags='x' is not accepted; give a list of str"),
        ({"replacement_tags": ["ok", 3]}, r"replacement_tags=\['ok', 3\] is not accepted"),
        ({"removal_tags": ["ibmq_jobset_abc"]}, "mark a job set"),
    ],
)
def test_update_tags_invalid_input_raises_and_sends_nothing(done_job, arguments, message):
    before = done_job.tags()
    with pytest.raises(IBMQJobInvalidStateError, match=message):
        done_job.update_tags(**arguments)
    done_job.refresh()
    assert done_job.tags() == before


def test_cancel_of_a_finished_job_is_false(done_job):
    assert done_job.cancel() is False
    assert done_job.status() is JobStatus.DONE


def test_constructor_keeps_the_legacy_signature(done_job, aer):
    record = done_job.record
    job = IBMQJob(
        aer,
        done_job._api,
        record.job_id,
        record.creation_date,
        record.status.value,
        kind=record.kind,
        name="n",
        tags=["t"],
        owner=record.owner,
        num_experiments=record.num_experiments,
    )
    assert job.job_id() == record.job_id and job.name() == "n" and job.tags() == ["t"]
    assert job.status() is JobStatus.DONE
