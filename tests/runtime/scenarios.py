"""What the stock qiskit-ibm-runtime client does against the local service, one scenario per test.

Run in a child process behind guard/sitecustomize.py (``python -m tests.runtime.scenarios
NAME URL TOKEN``); each scenario prints its observations as one JSON line, which the
tests judge. Nothing here asserts: a scenario that cannot go on raises, and the test
shows its traceback.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

warnings.filterwarnings("ignore", category=DeprecationWarning)  # SamplerV2/EstimatorV2 (0.50 deprecations)

from qiskit_ibm_runtime import Batch, EstimatorV2, SamplerV2, Session  # noqa: E402
from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError, RuntimeJobNotFound  # noqa: E402

from prefect_ibmq.runtime.local import local_runtime_service  # noqa: E402
from tests.runtime import scenarios_executor  # noqa: E402


def bell_two_registers() -> QuantumCircuit:
    """A Bell pair measured into two one-bit registers ``a`` and ``b``."""
    q, a, b = QuantumRegister(2, "q"), ClassicalRegister(1, "a"), ClassicalRegister(1, "b")
    circuit = QuantumCircuit(q, a, b, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure(0, a[0])
    circuit.measure(1, b[0])
    return circuit


def bell_unmeasured() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    return circuit


def isa(backend: Any, circuit: QuantumCircuit) -> QuantumCircuit:
    return generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(circuit)


def zz_pub(backend: Any) -> tuple[QuantumCircuit, SparsePauliOp]:
    circuit = isa(backend, bell_unmeasured())
    return circuit, SparsePauliOp("ZZ").apply_layout(circuit.layout)


def job_mode(service: Any) -> dict[str, Any]:
    """Sampler job: counts per register, metrics, tags, listing by tags and times."""
    backend = service.backend("aer_simulator")
    before = datetime.now(UTC) - timedelta(seconds=1)
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = 7
    job = sampler.run([isa(backend, bell_two_registers())], shots=2000)
    job.update_tags(["dry-run", "bell"])
    result = job.result()
    other = SamplerV2(mode=backend).run([isa(backend, bell_two_registers())], shots=10)
    other.update_tags(["dry-run"])
    other.result()
    data = result[0].data
    listed_both = [j.job_id() for j in service.jobs(job_tags=["dry-run", "bell"], limit=10)]
    listed_one = [j.job_id() for j in service.jobs(job_tags=["dry-run"], limit=10)]
    listed_final = [j.job_id() for j in service.jobs(job_tags=["dry-run"], pending=False, limit=10)]
    listed_pending = [j.job_id() for j in service.jobs(job_tags=["dry-run"], pending=True, limit=10)]
    listed_oldest_first = [j.job_id() for j in service.jobs(job_tags=["dry-run"], descending=False, limit=10)]
    listed_after = [
        j.job_id() for j in service.jobs(created_after=before.astimezone(), limit=10, backend_name="aer_simulator")
    ]
    again = service.job(job.job_id())
    metrics = job.metrics()
    noisy = service.backend("noisy_simulator")
    noisy_sampler = SamplerV2(mode=noisy)
    noisy_sampler.options.simulator.seed_simulator = 11
    noisy_counts = (
        noisy_sampler.run([isa(noisy, bell_two_registers())], shots=2000).result()[0].join_data().get_counts()
    )
    return {
        "noisy_counts": noisy_counts,
        "noisy_t1": noisy.properties().t1(0),
        "noisy_coupling_edges": len(noisy.coupling_map.get_edges()),
        "job_id": job.job_id(),
        "other_id": other.job_id(),
        "status": job.status(),
        "registers": sorted(data.keys()),
        "counts_a": data.a.get_counts(),
        "counts_b": data.b.get_counts(),
        "joint": result[0].join_data().get_counts(),
        "shots": data.a.num_shots,
        "tags": again.tags,
        "listed_both": listed_both,
        "listed_one": listed_one,
        "listed_after": listed_after,
        "listed_final": listed_final,
        "listed_pending": listed_pending,
        "listed_oldest_first": listed_oldest_first,
        "input_circuit_qubits": again.inputs["pubs"][0][0].num_qubits,
        "input_shots": again.inputs["pubs"][0][2],
        "timestamps": metrics["timestamps"],
        "quantum_seconds": metrics["usage"]["quantum_seconds"],
        "usage": job.usage(),
        "program": again.primitive_id,
        "creation_date": again.creation_date.isoformat() if again.creation_date else None,
    }


def batch_and_session(service: Any) -> dict[str, Any]:
    """Estimator <ZZ> of a Bell pair in a batch and in a session, with a sampler job beside it; a batch expiring."""
    backend = service.backend("aer_simulator")
    with Batch(backend=backend) as batch:
        estimator = EstimatorV2(mode=batch)
        batch_est = estimator.run([zz_pub(backend)])
        batch_sampler = SamplerV2(mode=batch).run([isa(backend, bell_two_registers())], shots=100)
        batch_evs = float(batch_est.result()[0].data.evs)
        batch_std = float(batch_est.result()[0].data.stds)
        batch_sampler.result()
        batch_id = batch.session_id
        batch_details = batch.details()
    with Session(backend=backend) as session:
        estimator = EstimatorV2(mode=session)
        estimator.options.default_precision = 0.01
        session_job = estimator.run([zz_pub(backend)])
        session_evs = float(session_job.result()[0].data.evs)
        session_id = session.session_id
        open_state = session.details()["state"]
    closed = service._get_api_client().session_details(session_id)
    slow = service.backend("slow_simulator")
    session = Session(backend=slow)
    doomed = SamplerV2(mode=session).run([isa(slow, bell_two_registers())], shots=10)
    session.cancel()  # DELETE /sessions/{id}/close: its jobs not final are cancelled
    doomed.wait_for_final_state(timeout=60)
    cancelled_session = service._get_api_client().session_details(session.session_id)
    expiring = scenarios_executor.expiring_batch(service)
    return {
        "expiring": expiring,
        "batch_id": batch_id,
        "batch_mode": batch_details["mode"] if "mode" in batch_details else None,
        "batch_job_sessions": [batch_est.session_id, batch_sampler.session_id],
        "batch_evs": batch_evs,
        "batch_std": batch_std,
        "session_id": session_id,
        "session_job_session": session_job.session_id,
        "session_evs": session_evs,
        "session_state_while_open": open_state,
        "session_after_close": {"state": closed["state"], "accepting_jobs": closed["accepting_jobs"]},
        "cancelled_session_id": session.session_id,
        "cancelled_session_job": doomed.status(),
        "cancelled_session": {
            "state": cancelled_session["state"],
            "accepting_jobs": cancelled_session["accepting_jobs"],
        },
    }


def failures(service: Any) -> dict[str, Any]:
    """A job the backend fails, a cancelled job, and a cancel of a final job."""
    doomed = SamplerV2(mode=service.backend("doomed_simulator")).run(
        [isa(service.backend("doomed_simulator"), bell_two_registers())], shots=10
    )
    doomed.wait_for_final_state(timeout=120)
    slow = service.backend("slow_simulator")
    running = SamplerV2(mode=slow).run([isa(slow, bell_two_registers())], shots=10)
    while running.status() == "QUEUED":  # the slow backend holds it in RUNNING for seconds
        time.sleep(0.05)
    status_before_cancel = running.status()
    running.cancel()
    cancelled = service.job(running.job_id())
    cancelled.wait_for_final_state(timeout=60)
    try:
        cancelled.cancel()
        second_cancel = "accepted"
    except RuntimeInvalidStateError as exc:
        second_cancel = f"RuntimeInvalidStateError: {exc}"
    try:
        cancelled.result()
        cancelled_result = "a result"
    except RuntimeInvalidStateError as exc:
        cancelled_result = f"RuntimeInvalidStateError: {exc}"
    doomed_logs = doomed.logs()
    cancelled_metrics = cancelled.metrics()["timestamps"]
    service.delete_job(cancelled.job_id())
    try:
        service.job(cancelled.job_id())
        after_delete = "found"
    except RuntimeJobNotFound:
        after_delete = "RuntimeJobNotFound"
    return {
        "doomed_logs": doomed_logs,
        "after_delete": after_delete,
        "doomed_status": doomed.status(),
        "doomed_error": doomed.error_message(),
        "status_before_cancel": status_before_cancel,
        "cancelled_status": cancelled.status(),
        "second_cancel": second_cancel,
        "cancelled_result": cancelled_result,
        "cancelled_metrics": cancelled_metrics,
    }


def embedded(data_dir: str) -> dict[str, Any]:
    """The embedded default (IBMQService.local()'s server, started in this process) through the stock client."""
    from prefect_ibmq import IBMQService
    from prefect_ibmq.runtime.local import embedded_runtime_service

    with embedded_runtime_service(data_dir) as service:
        backend = service.backend("aer_simulator")
        job = SamplerV2(mode=backend).run([isa(backend, bell_two_registers())], shots=64)
        joint = job.result()[0].join_data().get_counts()
        backends = sorted(b.name for b in service.backends())
        with IBMQService.local(data_dir) as legacy:  # the same server, seen through /v1
            seen_by_v1 = legacy.job(job.job_id()).job_id()
    return {"joint": joint, "backends": backends, "seen_by_v1": seen_by_v1, "job_id": job.job_id()}


SCENARIOS: dict[str, Any] = {
    "job_mode": lambda service, url, token: job_mode(service),
    "batch_and_session": lambda service, url, token: batch_and_session(service),
    "failures": lambda service, url, token: failures(service),
    "executor": scenarios_executor.executor,
    "instances": scenarios_executor.instances,
}


def main(argv: list[str]) -> None:
    if argv[0] == "embedded":
        print(json.dumps(embedded(argv[1]), default=str))
        return
    name, url, token, crn = argv
    service = local_runtime_service(url, token)  # the instance is asked of the service
    if service.active_account()["instance"] != crn:
        raise AssertionError(f"the token's instance is {crn}, the service was built for another")
    print(json.dumps(SCENARIOS[name](service, url, token), default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
