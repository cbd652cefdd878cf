"""The ``/v1`` kind: a job of QPY circuits, run in chunks to a ``qiskit.result.Result`` dict.

Validation checks (and, where needed, transpiles) the circuits against the
backend's target; the run sends the stored QPY in chunks to the simulators
(:func:`.circuit_run.run_circuits` plans, runs and assembles them).
"""

from __future__ import annotations

import logging

from qiskit import QuantumCircuit

from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import JobError, JobRecord, circuits_to_qpy, qpy_to_circuits

from ..aerrun import JobQpy
from ..kind_handler import Finished, Inputs, RunContext, Validated
from ..limit_checks import InvalidJob
from ..rows import CIRCUITS_KIND
from ..simulators import Simulator
from ..stored_results import encode_result
from .circuit_run import run_circuits

logger = logging.getLogger("prefect_ibmq.server.executor")

KIND = CIRCUITS_KIND
#: JobError codes (in the style of the legacy service's numeric codes).
RUN_ERROR_CODE = 1500


class CircuitsHandler:
    """Jobs of ``POST /v1/jobs``: circuits validated in the background, run chunk by chunk."""

    def validate(
        self, record: JobRecord, simulator: Simulator, decoded: list[QuantumCircuit] | None, inputs: Inputs
    ) -> Validated | None:
        """The circuits checked against the backend; the transpiled ones when any had to be."""
        circuits = decoded
        try:
            if circuits is None:
                data = inputs.retry(lambda: inputs.store.circuits(record.job_id))
                if data is None:
                    return None
                circuits = qpy_to_circuits(data)
            runnable, transpiled = simulator.prepare(circuits, record.options)
        except InvalidJob:
            raise
        except Exception as exc:  # QPY that no longer loads
            raise InvalidJob(f"cannot load the job's circuits: {exc}") from exc
        return Validated(runnable_qpy=circuits_to_qpy(runnable) if transpiled else None)

    def run(self, record: JobRecord, context: RunContext) -> Finished | None:
        """Every experiment, chunk by chunk; a job whose experiments failed ends ERROR_RUNNING_JOB with them."""
        job_id, store, retry = record.job_id, context.inputs.store, context.inputs.retry
        data = retry(lambda: store.circuits(job_id, runnable=True)) or retry(lambda: store.circuits(job_id))
        if data is None:
            return None  # deleted meanwhile
        try:
            # The stored QPY goes to the simulator processes as it is: they decode it, not this process.
            job = JobQpy.of(data, record.num_experiments)
            outcome = run_circuits(
                context.simulator.spec, context.runner, job, record.options, job_id, record.header,
                context.stop, record.name,
            )
        except Exception as exc:
            if context.stopping.is_set():  # e.g. ServerStopping: left RUNNING, a restart queues it again
                return None
            logger.exception("job %s could not run", job_id)
            failure = JobError(code=RUN_ERROR_CODE, message=f"the job could not run: {type(exc).__name__}: {exc}")
            result = {"backend_name": record.backend, "backend_version": "1.0.0", "qobj_id": job_id,
                      "job_id": job_id, "success": False, "status": failure.message, "results": []}
            return Finished(S.ERROR_RUNNING_JOB, encode_result(result), failure)
        if outcome is None:
            return None  # cancelled (the cancel already stored CANCELLED) or shutting down (stays RUNNING)
        if not outcome.failed:
            return Finished(S.COMPLETED, encode_result(outcome.result))
        first = next(e for e in outcome.result["results"] if not e["success"])
        error = JobError(
            code=RUN_ERROR_CODE,
            message=f"{outcome.failed} of {outcome.total} experiments failed; first: {first.get('status')}",
        )
        return Finished(S.ERROR_RUNNING_JOB, encode_result(outcome.result), error)
