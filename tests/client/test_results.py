"""Results: partial results of failed jobs, private results read once, idempotent submission."""

from __future__ import annotations

import uuid

import pytest
from qiskit.exceptions import QiskitError
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQJobFailureError
from prefect_ibmq.circuits import bell
from prefect_ibmq.exceptions import IBMQJobResultConsumedError
from tests.helpers import flaky_failed


@pytest.fixture(scope="module")
def failed_job(service):
    """A flaky job with 40 experiments; the suite's flaky backend is seeded, so under this
    name the same ones fail in every run (``tests.helpers.flaky_failed``)."""
    job = service.backend("flaky_simulator").run([bell(f"e{i}") for i in range(40)], shots=8,
                                                 job_name="partial-40")
    job.wait_for_final_state(timeout=60)
    return job


def test_failed_job_status_and_error_message(failed_job):
    assert failed_job.status() is JobStatus.ERROR
    assert failed_job.done() is False
    message = failed_job.error_message()
    assert isinstance(message, str) and "Error code:" in message


def test_result_of_failed_job_raises_unless_partial(failed_job):
    with pytest.raises(IBMQJobFailureError, match="error_message"):
        failed_job.result()


def test_partial_result_only_failed_experiments_raise(failed_job):
    result = failed_job.result(partial=True)
    assert result.success is False
    outcomes = {experiment.header["name"]: experiment.success for experiment in result.results}
    assert len(outcomes) == 40
    failed = [name for name, ok in outcomes.items() if not ok]
    succeeded = [name for name, ok in outcomes.items() if ok]
    expected = [f"e{i}" for i in flaky_failed("partial-40", 40)]
    assert 0 < len(expected) < 40  # the seed gives a job with failed and good experiments alike
    assert failed == expected and len(succeeded) == 40 - len(expected)
    assert sum(result.get_counts(succeeded[0]).values()) == 8
    with pytest.raises(QiskitError):
        result.get_counts(failed[0])


def test_private_result_is_read_once(service, aer):
    job = aer.run(bell(), shots=16, private=True)
    first = job.result(timeout=60)
    assert sum(first.get_counts().values()) == 16
    other_instance = service.job(job.job_id())
    assert other_instance.record.result_consumed
    with pytest.raises(IBMQJobResultConsumedError, match="read once"):
        other_instance.result()
    # The instance that read it keeps its copy.
    assert job.result() is first


def test_same_idempotency_key_gives_the_same_job(service, aer):
    key = f"key-{uuid.uuid4().hex}"
    tag = f"idem-{uuid.uuid4().hex[:8]}"
    first = aer.run(bell(), shots=8, job_tags=[tag], idempotency_key=key)
    second = aer.run(bell(), shots=8, job_tags=[tag], idempotency_key=key)
    assert first.job_id() == second.job_id()
    assert [job.job_id() for job in service.jobs(job_tags=[tag])] == [first.job_id()]


def test_job_failing_validation_has_no_result_even_partial(aer):
    from qiskit import QuantumCircuit
    from qiskit.circuit import Gate

    # A definition that cannot be transpiled: it passes the submit checks and fails validation.
    inner = QuantumCircuit(1)
    inner.append(Gate("mystery", 1, []), [0])
    wrapper = inner.to_instruction()
    wrapper.name = "wrapper"
    circuit = QuantumCircuit(1)
    circuit.append(wrapper, [0])
    circuit.measure_all()
    job = aer.run(circuit, shots=8)
    job.wait_for_final_state(timeout=60)
    assert job.record.status.value == "ERROR_VALIDATING_JOB"
    assert "circuit 0" in job.error_message()
    with pytest.raises(IBMQJobFailureError, match="failed before running any experiment"):
        job.result(partial=True)
