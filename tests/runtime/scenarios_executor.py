"""Scenarios of today's client (0.51): the executor-based primitives, dry runs, instances, plans, batches.

Run by ``tests.runtime.scenarios`` in the loopback-only child process; each returns its
observations for the test to judge. ``mark(NAME)`` / ``mark("/" + NAME)`` bracket the
requests of one step in the guard's log (``ClientRun.between``).
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, EstimatorV2, Executor, QuantumProgram
from qiskit_ibm_runtime.exceptions import IBMInputValueError, IBMRuntimeError
from qiskit_ibm_runtime.executor_estimator import Estimator
from qiskit_ibm_runtime.executor_sampler import Sampler

from prefect_ibmq.runtime.local import local_runtime_service


def mark(name: str) -> None:
    with open(os.environ["RUNTIME_GUARD_LOG"], "a", encoding="utf-8") as log:
        log.write(f"mark {name}\n")


def _isa(backend: Any, circuit: QuantumCircuit) -> QuantumCircuit:
    return generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(circuit)


def _bell(measured: bool = True) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    return circuit.measure_all(inplace=False) if measured else circuit


def executor(service: Any, url: str, token: str) -> dict[str, Any]:
    """Sampler and Estimator on program executor (plain and twirled), Executor by hand, a dry run."""
    backend = service.backend("aer_simulator")
    bell = _isa(backend, _bell())
    mark("sampler-job")
    job = Sampler(mode=backend).run([bell], shots=1000)
    result = job.result()
    mark("/sampler-job")
    theta = Parameter("theta")
    rotation = QuantumCircuit(1)
    rotation.rx(theta, 0)
    rotation.measure_all()
    # The other jobs are all submitted first and read afterwards: they run side by side.
    sweep = Sampler(mode=backend).run([(_isa(backend, rotation), [[0.0], [math.pi], [math.pi / 2]])], shots=400)
    twirled_sampler = Sampler(mode=backend)
    twirled_sampler.options.twirling.enable_gates = True
    twirled_sampler.options.twirling.enable_measure = True
    twirled_job = twirled_sampler.run([bell], shots=1000)

    unmeasured = _isa(backend, _bell(measured=False))
    zz = SparsePauliOp("ZZ").apply_layout(unmeasured.layout)
    ry = QuantumCircuit(1)
    ry.ry(theta, 0)
    ry_isa = _isa(backend, ry)
    angles = [[0.0], [math.pi / 2], [math.pi]]
    estimator_job = Estimator(mode=backend).run(
        [(unmeasured, zz), (ry_isa, SparsePauliOp("Z").apply_layout(ry_isa.layout), angles)]
    )

    # Executor with a hand-built QuantumProgram: one circuit item, three bindings of rx.
    program = QuantumProgram(shots=64)
    program.append_circuit_item(_isa(backend, rotation), circuit_arguments=np.array([[0.0], [math.pi], [0.0]]))
    by_hand_job = Executor(mode=backend).run(program)

    dry = Sampler(mode=backend).run([bell], shots=128, dry_run=True)

    # The server-side estimator program (the deprecated EstimatorV2): IBM's metadata and default precision.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = EstimatorV2(mode=backend).run([(unmeasured, SparsePauliOp("ZI").apply_layout(unmeasured.layout))])

    swept = sweep.result()[0].data.meas
    twirled = twirled_job.result()[0]
    estimated = estimator_job.result()
    by_hand = by_hand_job.result()
    item = by_hand[0]
    dry_bits = dry.result()[0].data.meas
    legacy_result = legacy.result()[0]

    auto = local_runtime_service(url, token, instance="auto", region="us-east")
    return {
        "job_id": job.job_id(),
        "program": service.job(job.job_id()).primitive_id,
        "counts": result[0].data.meas.get_counts(),
        "result_shots": result.metadata.get("shots"),
        "sweep_shape": list(swept.shape),
        "sweep_counts": [swept.get_counts(i) for i in range(3)],
        "twirled_counts": twirled.data.meas.get_counts(),
        "twirled_randomizations": twirled.metadata.get("num_randomizations"),
        "zz": float(estimated[0].data.evs),
        "ry_z": [float(v) for v in estimated[1].data.evs],
        "estimator_shots": estimated.metadata.get("shots"),
        "by_hand_type": type(by_hand).__name__,
        "by_hand_shape": list(item["meas"].shape),
        "by_hand_ones": [int(item["meas"][i].sum()) for i in range(3)],
        "by_hand_timing_parts": len(by_hand.metadata.chunk_timing),
        "dry_backend": dry.backend().name,
        "dry_listed_backend": service.job(dry.job_id()).backend().name,
        "dry_shape": [dry_bits.num_shots, dry_bits.num_bits],
        "dry_estimate": dry.usage_estimation["quantum_seconds"],
        "dry_usage": dry.metrics()["usage"]["quantum_seconds"],
        "legacy_metadata": legacy_result.metadata,
        "legacy_std": float(legacy_result.data.stds),
        "legacy_ev": float(legacy_result.data.evs),
        "auto_instance": auto.active_instance(),
        "mock_listed": "mock_simulator" in [b.name for b in service.backends(include_mocks=True)],
        "mock_hidden": "mock_simulator" not in [b.name for b in service.backends()],
    }


def instances(service: Any, url: str, token: str) -> dict[str, Any]:
    """carol's named eu-de instance: name and region, plan limit and refusal, calibration, a private job."""
    mark("by-name")
    by_name = local_runtime_service(url, token, instance="carol-lab")
    mark("/by-name")
    by_region = local_runtime_service(url, token, instance="auto", region="eu-de")
    try:
        local_runtime_service(url, token, instance="auto", region="us-east")
        wrong_region = "found"
    except IBMInputValueError as exc:
        wrong_region = f"IBMInputValueError: {exc}"
    backend = service.backend("aer_simulator")
    calibration = backend.properties().calibration_id
    recalibrated = service.backend("aer_simulator", calibration_id=calibration).name
    try:
        service.backend("aer_simulator", calibration_id="no-such-calibration")
        unknown_calibration = "found"
    except Exception as exc:  # the client wraps the 404 in QiskitBackendNotFoundError
        unknown_calibration = f"{type(exc).__name__}: {exc}"
    before = service.usage()

    private = Sampler(mode=backend)
    private.options.environment.private = True
    job = private.run([_isa(backend, _bell())], shots=50)
    first = job.result()[0].data.meas.get_counts()
    inputs = service.job(job.job_id()).inputs
    try:
        service.job(job.job_id()).result()
        second = "a result again"
    except Exception as exc:
        second = f"{type(exc).__name__}: {exc}"

    after = service.usage()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            Sampler(mode=backend).run([_isa(backend, _bell())], shots=10)
            refused = "accepted"
        except IBMRuntimeError as exc:
            refused = f"IBMRuntimeError: {exc}"
    dry_while_exhausted = Sampler(mode=backend).run([_isa(backend, _bell())], shots=10, dry_run=True).status()

    from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
    from ibm_platform_services import ResourceControllerV2

    controller = ResourceControllerV2(authenticator=IAMAuthenticator(token, url=url))
    controller.set_service_url(url)
    listed = controller.list_resource_instances(name="carol-lab").get_result()
    guid = listed["resources"][0]["guid"] if listed["resources"] else None
    fetched = controller.get_resource_instance(id=guid).get_result() if guid else {}
    none = controller.list_resource_instances(name="someone-else").get_result()["rows_count"]
    return {
        "by_name": by_name.active_instance(),
        "by_region": by_region.active_instance(),
        "wrong_region": wrong_region,
        "physical_qubits": backend.physical_qubits,
        "recalibrated": recalibrated,
        "unknown_calibration": unknown_calibration,
        "usage_before": before,
        "usage_after": after,
        "private_counts": first,
        "private_inputs": inputs,
        "private_second_read": second,
        "refused": refused,
        "limit_warnings": [str(w.message) for w in caught],
        "dry_while_exhausted": dry_while_exhausted,
        "rc_listed": [(r["crn"], r["name"], r["region_id"]) for r in listed["resources"]],
        "rc_fetched": fetched.get("crn"),
        "rc_other": none,
    }


def expiring_batch(service: Any) -> dict[str, Any]:
    """A batch with a 4 s max_ttl: the jobs still queued at its expiry are cancelled, the running ones finish."""
    slow = service.backend("slow_simulator")
    bell = _isa(slow, _bell())
    with Batch(backend=slow, max_time=4) as batch:
        sampler = Sampler(mode=batch)
        # Two workers, 2 s per item: the first two run for 6 s, the others are still queued at 4 s.
        jobs = [sampler.run([bell, bell, bell], shots=10) for _ in range(4)]
        for job in jobs:
            job.wait_for_final_state(timeout=120)
        batch_id = batch.session_id
    states = [service._get_api_client().job_get(job.job_id())["state"] for job in jobs]
    return {
        "batch_id": batch_id,
        "statuses": [job.status() for job in jobs],
        "states": states,
        "sessions": [job.session_id for job in jobs],
        "batch_state": service._get_api_client().session_details(batch_id)["state"],
    }

