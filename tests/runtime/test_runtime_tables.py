"""IBM Quantum Platform data as the project's tables: records from runtime facts, sampler counts, expectation values.

Runtime results are made by qiskit-aer's V2 primitives (the ones the job service runs), not written by hand.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
from prefect_ibmq.circuits import bell
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.runtime.programs import get_program, known_programs
from prefect_ibmq.runtime.records import RuntimeJobFacts, job_record
from prefect_ibmq.runtime.results import failed_result, sampler_counts_result
from prefect_ibmq.tables import counts_frame, expectation_frame, job_summary_frame, time_per_step_frame
from prefect_ibmq.wire import ApiJobStatus

METRICS = {
    "timestamps": {"created": "2026-01-01T10:00:00Z", "running": "2026-01-01T10:00:02.5Z",
                   "finished": "2026-01-01T10:00:03Z"},
    "usage": {"quantum_seconds": 0.5, "seconds": 0.5},
}


def _facts(**changes) -> RuntimeJobFacts:
    base = dict(job_id="job-1", backend="aer_simulator", status="DONE", program="sampler",
                instance="crn:v1:x", created="2026-01-01T10:00:00Z",
                tags=["mine", "job_name:sweep_0_", "idempotency:k"], metrics=METRICS, num_pubs=3)
    return RuntimeJobFacts(**{**base, **changes})


def test_runtime_jobs_tabulate_with_metrics_timestamps():
    done = job_record(_facts())
    failed = job_record(_facts(job_id="job-2", status="ERROR", error_message="simulator crashed", reason_code=1517,
                               tags=[], metrics={"timestamps": {"created": "2026-01-01T10:00:00Z"}}))
    queued = job_record(_facts(job_id="job-3", status="Queued", metrics=None, tags=[]))

    assert (done.status, failed.status, queued.status) == (
        ApiJobStatus.COMPLETED, ApiJobStatus.ERROR_RUNNING_JOB, ApiJobStatus.QUEUED)
    assert done.name == "sweep_0_" and failed.name is None  # names live in a job_name: tag
    assert failed.error.message == "simulator crashed" and failed.error.code == 1517
    assert done.owner.project == "crn:v1:x" and done.queue_info is None

    steps = time_per_step_frame([done, failed, queued])
    assert steps.loc[steps["job_id"] == "job-1", "step"].astype(str).tolist() == ["QUEUED", "RUNNING", "COMPLETED"]
    assert steps.loc[steps["job_id"] == "job-1", "duration_s"].tolist()[:2] == [2.5, 0.5]
    summary = job_summary_frame([done, failed, queued]).set_index("job_id")
    assert summary.loc["job-1", ["queue_s", "run_s", "total_s"]].tolist() == [2.5, 0.5, 3.0]
    assert math.isnan(summary.loc["job-1", "validation_s"])  # IBM Quantum Platform has no validation step
    assert summary.loc["job-1", "num_experiments"] == 3
    assert summary.loc["job-2", "error_message"] == "simulator crashed"
    assert math.isnan(summary.loc["job-3", "run_s"])
    with pytest.raises(ValueError, match="'weird'.*expected one of"):
        job_record(_facts(status="weird"))


def test_sampler_counts_match_the_legacy_result_per_classical_register():
    circuit = QuantumCircuit(QuantumRegister(3), ClassicalRegister(1, "a"), ClassicalRegister(2, "b"), name="regs")
    circuit.x(0)
    circuit.x(2)
    circuit.measure([0, 1, 2], [0, 1, 2])
    angle = Parameter("t")
    rotated = QuantumCircuit(1, name="rx")
    rotated.rx(angle, 0)
    rotated.measure_all()
    primitive = SamplerV2(seed=7).run([circuit, (rotated, [[0.0], [math.pi]]), bell()], shots=64).result()

    result = sampler_counts_result(primitive, "job-9", "aer_simulator", ["regs", "rx", "bell"])
    legacy = AerSimulator(seed_simulator=7).run(circuit, shots=64).result().get_counts()
    assert result.get_counts(0) == legacy == {"10 1": 64}
    frame = counts_frame(result)
    assert frame["circuit"].tolist()[:3] == ["regs", "rx[0]", "rx[1]"]
    assert frame.loc[frame["circuit"] == "rx[1]", "bitstring"].tolist() == ["1"]
    assert set(frame.loc[frame["circuit"] == "bell", "bitstring"]) == {"00", "11"}
    assert (frame.groupby("experiment")["count"].sum() == 64).all()
    # A raw PrimitiveResult tabulates the same way, without names or job id.
    raw = counts_frame(primitive)
    assert raw["bitstring"].tolist() == frame["bitstring"].tolist() and raw["job_id"].isna().all()

    failed = counts_frame(failed_result("job-10", "aer_simulator", ["regs", "bell"], "boom"))
    assert failed["success"].tolist() == [False, False] and failed["count"].isna().all()


def test_expectation_frame_traces_values_to_observables_and_parameter_sets():
    bell_state = bell().remove_final_measurements(inplace=False)
    angle = Parameter("t")
    rotated = QuantumCircuit(2, name="rot")
    rotated.ry(angle, 0)  # cos(t/2)|00> + sin(t/2)|11>: <ZZ> = 1, <XX> = sin t, <ZI> = cos t
    rotated.cx(0, 1)
    mixed = SparsePauliOp(["XX", "ZI"], [0.5, 0.5])
    pubs = [(bell_state, ["ZZ", "XX", "ZI"]), (rotated, [["ZZ"], [mixed]], [[0.0], [math.pi / 2], [math.pi]])]
    result = EstimatorV2(options={"default_precision": 0}).run(pubs).result()
    frame = expectation_frame(result, pubs, job_id="job-e")

    assert len(frame) == 3 + 2 * 3 and (frame["job_id"] == "job-e").all()
    bell_rows = frame[frame["pub"] == 0].set_index("observable")["value"]
    assert bell_rows["ZZ"] == pytest.approx(1.0) and bell_rows["XX"] == pytest.approx(1.0)
    assert bell_rows["ZI"] == pytest.approx(0.0, abs=1e-9)
    rot = frame[frame["pub"] == 1]
    assert set(rot["circuit"]) == {"rot"} and rot["parameter_set"].tolist() == [0, 1, 2, 0, 1, 2]
    assert rot["observable"].tolist() == ["ZZ"] * 3 + ["0.5*XX + 0.5*ZI"] * 3
    assert np.allclose(rot["value"], [1, 1, 1, 0.5, 0.5, -0.5], atol=1e-9)
    assert rot["parameters"].tolist()[1] == [pytest.approx(math.pi / 2)]
    assert (rot["std"] >= 0).all()
    empty = expectation_frame([])
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_programs_are_modules_and_the_block_keeps_the_runtime_client_unloaded():
    assert known_programs() == ["estimator", "executor", "sampler"]
    assert get_program("executor").name == "executor"
    with pytest.raises(IBMQValueError, match=r"program='noise-learner' is not accepted; give one of \['estimator', 'e"):
        get_program("noise-learner")
    creds = IBMQuantumPlatformCredentials(token="secret-api-key", instance="crn:v1:bluemix:public:quantum-computing:x")
    assert "secret-api-key" not in repr(creds) and "secret-api-key" not in creds.model_dump_json()
    with pytest.raises(ValueError, match="crn"):
        IBMQuantumPlatformCredentials(token="k", instance="my-instance")
    with pytest.raises(ValueError, match="instance is required on IBM Cloud"):
        IBMQuantumPlatformCredentials(token="k")
    with pytest.raises(ValueError, match="needs the url of a prefect-ibmq job service"):
        IBMQuantumPlatformCredentials(token="k", url_resolver="prefect-ibmq")
    probe = ("import sys, prefect_ibmq, prefect_ibmq.blocks, prefect_ibmq.tables; "
             "print('qiskit_ibm_runtime' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert loaded.stdout.strip() == "False", loaded.stderr
