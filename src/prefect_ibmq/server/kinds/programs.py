"""The runtime kinds: one per Qiskit Runtime program, each run whole to its ``PrimitiveResult`` text.

A runtime job's inputs were checked in full at submit (:mod:`.runtime.service`), so
validation only lets it through; the run is :func:`.runtime.execute.execute`, in the
simulator processes when the server simulates there, else in the worker thread.
"""

from __future__ import annotations

from qiskit import QuantumCircuit

from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import JobError, JobRecord

from ..kind_handler import Finished, Inputs, RunContext, Validated
from ..rows import RUNTIME_KIND_PREFIX
from ..runtime.execute import execute
from ..simulators import Simulator


class ProgramHandler:
    """Jobs of one runtime program (``POST /api/v1/jobs`` with its ``program_id``)."""

    def __init__(self, program_id: str) -> None:
        self.program_id = program_id
        #: Its records' ``kind``.
        self.kind = RUNTIME_KIND_PREFIX + program_id

    def validate(
        self, record: JobRecord, simulator: Simulator, decoded: list[QuantumCircuit] | None, inputs: Inputs
    ) -> Validated | None:
        """Nothing left to check: the submit checked the params against this backend in full."""
        return Validated()

    def run(self, record: JobRecord, context: RunContext) -> Finished | None:
        """The program, whole: its result text, or its failure's reason (the result IBM serves for it)."""
        job_id = record.job_id
        params = context.inputs.retry(lambda: context.inputs.store.runtime_params(job_id))
        if params is None:
            return None  # deleted meanwhile
        runners = context.runners
        outcome = execute(
            self.program_id, context.simulator.spec, runners.aer_threads, job_id, params,
            record.num_experiments, context.stop, runners.call if runners.in_processes else None,
        )
        if outcome is None:
            return None
        if outcome.text is not None:
            return Finished(S.COMPLETED, outcome.text)
        if outcome.reason_code is None or outcome.reason is None:
            raise RuntimeError(f"runtime job {job_id}'s program ended with neither a result nor a reason")
        # The failure's text is the result IBM serves for a failed job (error_message() reads it).
        return Finished(S.ERROR_RUNNING_JOB, outcome.reason, JobError(code=outcome.reason_code, message=outcome.reason))
