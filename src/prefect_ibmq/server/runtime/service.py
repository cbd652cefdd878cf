"""The runtime jobs (:class:`RuntimeJobs`): what the runtime API's job endpoints do.

They work on the store, queue and executor of the job book
(:class:`prefect_ibmq.server.service.JobBook`). Runtime jobs are jobs of our store
(``jobs.program_id`` set), so queue order, cancel, restart persistence and the status
notifier apply to them unchanged.
Sessions and their expiry are :class:`.session_service.SessionService`'s.
"""

from __future__ import annotations

import json
import logging
import secrets
from types import ModuleType
from typing import Any

from qiskit import QuantumCircuit

from prefect_ibmq.timestamps import parse_iso, to_iso
from prefect_ibmq.wire import FINAL_STATUSES, ApiJobStatus, Identity, JobRecord, RunOptions, circuits_to_qpy

from ..auth import can_see
from ..bounds import FieldTooLarge, check_tags
from ..config import BackendSpec
from ..limit_checks import InvalidJob
from ..quotas import in_flight_admission
from ..rows import NewJob
from ..service import JobBook
from ..simulators import Simulator
from ..store import SessionClosed
from . import backend_info, budget, mock_backends, store_ops
from .codec import UnsupportedValue, decode_params
from .errors import IBMApiError, not_found
from .programs import InvalidParams, program
from .schemas import JobCreate, JobCreated, JobState, Program, RuntimeJob, Usage, zulu
from .session_service import SessionService
from .usage import check_not_exhausted

logger = logging.getLogger("prefect_ibmq.server.runtime")
S = ApiJobStatus
#: A rough estimate of a runtime job's run time: per item (pub), and per circuit execution (shot).
ESTIMATE_S_PER_ITEM = 0.01
ESTIMATE_S_PER_SHOT = 2e-6


def runtime_status(status: ApiJobStatus) -> str:
    """Our lifecycle status -> IBM's ``state.status``."""
    if status is S.RUNNING:
        return "Running"
    if status is S.COMPLETED:
        return "Completed"
    if status is S.CANCELLED:
        return "Cancelled"
    if status in FINAL_STATUSES:
        return "Failed"
    return "Queued"


def parse_time(value: str, name: str) -> str:
    """A query's ISO 8601 time in the store's format (naive is UTC); 400 naming it otherwise."""
    try:
        return to_iso(parse_iso(value))
    except (ValueError, OverflowError) as exc:  # overflow: a year 1 or 9999 time moved past UTC's range
        raise IBMApiError(400, "invalid_request", f"{name}={value!r} is not an ISO 8601 time") from exc


class RuntimeJobs(SessionService):
    """The Qiskit Runtime API over the job service: its jobs, results, instances and sessions."""

    def __init__(self, jobs: JobBook) -> None:
        super().__init__(jobs)
        #: Mock device name -> the backend it is the twin of.
        self.mocks = mock_backends.mock_twins(jobs.simulators)

    def backend(self, name: str | None) -> tuple[Simulator, str | None]:
        """The simulator a device name runs on, and the mock name when it is a mock twin; 400 otherwise."""
        if name is None:
            raise IBMApiError(400, "invalid_backend", "backend is required: this service has no default backend")
        real = self.mocks.get(name, name)
        simulator = self.jobs.simulators.get(real)
        if simulator is None:
            available = sorted(self.jobs.simulators) + sorted(self.mocks)
            raise IBMApiError(400, "invalid_backend", f"backend {name!r} not found; available: {available}")
        return simulator, (name if name in self.mocks else None)

    # --- jobs --------------------------------------------------------------------------------------------

    def submit(self, who: Identity, body: JobCreate) -> JobCreated:
        """Check everything, then store the job (nothing is stored on bad input) and queue it."""
        try:
            module = program(body.program_id)
        except InvalidParams as exc:
            raise IBMApiError(400, "invalid_program", str(exc)) from exc
        simulator, mock = self.backend(body.backend)
        spec = simulator.spec
        if body.calibration_id is not None and body.calibration_id != backend_info.calibration_id(simulator):
            raise IBMApiError(
                400, "invalid_calibration",
                f"calibration_id {body.calibration_id!r} is not one of {body.backend}'s; "
                f"accepted: [{backend_info.calibration_id(simulator)!r}]",
            )
        if mock is None:  # a dry run uses no quantum time
            check_not_exhausted(self.store, who, self.instance(who), self.settings.usage_period_days)
        if body.session_id is not None:
            self.check_session_open(who, body.session_id, spec.name)
        limits = self.jobs.config.limits
        try:
            budget.check_fields(body, limits)
        except FieldTooLarge as exc:
            raise IBMApiError(400, "invalid_request", str(exc)) from None
        text = json.dumps(body.params, separators=(",", ":"))
        circuits, work = self._checked(module, body.program_id, text, spec)
        header: dict[str, Any] = {"estimated_running_time_seconds": round(
            len(circuits) * (ESTIMATE_S_PER_ITEM + spec.experiment_delay_s) + (work or 0) * ESTIMATE_S_PER_SHOT, 3
        )}
        if mock is not None:
            header[mock_backends.DRY_RUN_HEADER] = mock
        job = NewJob(
            job_id=secrets.token_hex(10),
            backend=spec.name,
            owner=who,
            qpy=circuits_to_qpy(circuits),
            num_experiments=len(circuits),
            options=RunOptions(),
            header=header,
            tags=list(dict.fromkeys(body.tags)),
            private=body.private,
            program_id=body.program_id,
            params=mock_backends.wrap(text) if mock else text,
            session_id=body.session_id,
        )
        try:
            job_id, _ = self.store.create_job(job, in_flight_admission(who, limits))
        except SessionClosed as exc:  # closed after the check above
            raise IBMApiError(409, "session_closed", str(exc)) from exc
        logger.info("runtime job %s (%s, %d items) created on %s", job_id, body.program_id, len(circuits), body.backend)
        self.jobs.notifier.notify(job_id)
        self.jobs.executor.validate_later(job_id)
        if body.session_id is not None:
            self.expire_if_due(body.session_id)  # it may have expired between the check and the store
        return JobCreated(id=job_id, backend=mock or spec.name, session_id=body.session_id)

    def _checked(
        self, module: ModuleType, program_id: str, text: str, spec: BackendSpec
    ) -> tuple[list[QuantumCircuit], int | None]:
        """The job's circuits and work (programs that compute it), once its params are checked; 400 otherwise."""
        limits = self.jobs.config.limits
        try:
            params = decode_params(text, budget.decode_budget(spec, limits))
            work = module.work(params) if hasattr(module, "work") else None  # read before anything is built
            if work is not None:
                budget.check_executions(work, limits)
            circuits = module.check(params, spec)
            budget.check_work(program_id, params, limits)
            return circuits, work
        except (InvalidParams, InvalidJob, UnsupportedValue) as exc:  # InvalidJob: a limit (OverLimit)
            raise IBMApiError(400, "invalid_params", f"invalid {program_id} params: {exc}") from exc

    def record(self, who: Identity, job_id: str) -> JobRecord:
        """The runtime job's record; 404 if unknown, not a runtime job, or not visible to ``who``."""
        record = self.store.get_job(job_id)
        if record is None or record.program_id is None or not can_see(record, who):
            raise not_found(f"job {job_id!r}")  # not yours looks like unknown: no existence leak
        return record

    def view(self, record: JobRecord, with_params: bool = False) -> RuntimeJob:
        """The record as the runtime API shows a job (a private job never shows its params)."""
        status = runtime_status(record.status)
        # Why it failed, or why the service (not its owner) cancelled it, e.g. its session expired.
        explained = record.error is not None and status in ("Failed", "Cancelled")
        params = None
        if with_params and not record.private:
            stored = self.store.runtime_params(record.job_id)
            params = json.loads(mock_backends.unwrap(stored)[0]) if stored else None
        steps = record.time_per_step
        seconds = self.quantum_seconds(record)
        return RuntimeJob(
            id=record.job_id,
            backend=record.header.get(mock_backends.DRY_RUN_HEADER) or record.backend,
            program=Program(id=record.program_id or ""),
            state=JobState(
                status=status,
                reason=record.error.message if explained and record.error else None,
                reason_code=record.error.code if explained and record.error else None,
            ),
            status=status,
            created=zulu(steps.get(S.CREATING.value, record.creation_date)) or "",
            ended=zulu(steps.get(record.status.value)) if record.status in FINAL_STATUSES else None,
            tags=record.tags,
            session_id=record.session_id,
            private=record.private,
            user_id=record.owner.user,
            usage=Usage(quantum_seconds=seconds, seconds=seconds),
            estimated_running_time_seconds=record.header.get("estimated_running_time_seconds"),
            params=params,
        )

    @staticmethod
    def quantum_seconds(record: JobRecord) -> float:
        """Time the job ran (RUNNING to its final step): what IBM bills as quantum seconds (0 for a dry run)."""
        steps = record.time_per_step
        start = steps.get(S.RUNNING.value)
        end = steps.get(record.status.value) if record.status in FINAL_STATUSES else None
        if not start or not end or mock_backends.DRY_RUN_HEADER in record.header:
            return 0.0
        return round(max(0.0, (parse_iso(end) - parse_iso(start)).total_seconds()), 3)

    def metrics(self, record: JobRecord) -> dict[str, Any]:
        """The job's timestamps (IBM's ``...Z``) and usage."""
        steps = record.time_per_step
        final = record.status in FINAL_STATUSES
        seconds = self.quantum_seconds(record)
        return {
            "timestamps": {
                "created": zulu(steps.get(S.CREATING.value, record.creation_date)),
                "running": zulu(steps.get(S.RUNNING.value)),
                "finished": zulu(steps.get(record.status.value)) if final else None,
            },
            "bss": {"seconds": seconds},
            "usage": {
                "quantum_seconds": seconds,
                "seconds": seconds,
                "qpu_charge_time_seconds": seconds,
                "status": "final" if final else "pending",
            },
            "estimated_running_time_seconds": record.header.get("estimated_running_time_seconds"),
            "executions": record.num_experiments,
            "num_circuits": record.num_experiments,
            "qiskit_version": "",
        }

    def results(self, record: JobRecord) -> str:
        """The result text: a PrimitiveResult (Completed) or the failure's message (Failed).

        A private job's results are handed out once, and its params are deleted with them.
        """
        status = runtime_status(record.status)
        if status in ("Queued", "Running"):
            raise IBMApiError(409, "job_not_finished", f"job {record.job_id!r} is {status}; its results are not ready")
        if status == "Cancelled":
            raise IBMApiError(409, "job_cancelled", f"job {record.job_id!r} was cancelled and has no results")
        text = self.store.read_result(record.job_id, consume=record.private)
        if text is None:
            if status == "Failed" and record.error is not None:
                return record.error.message  # failed before running: no stored text
            raise IBMApiError(
                410, "results_gone", f"the results of private job {record.job_id!r} were already read once"
            )
        if record.private:
            store_ops.forget_params(self.store, record.job_id)
        return text

    @staticmethod
    def logs(record: JobRecord) -> str:
        """The job's steps, one line each, and its error."""
        lines = [f"{zulu(at)} {step}" for step, at in record.time_per_step.items()]
        if record.error is not None:
            lines.append(f"error {record.error.code}: {record.error.message}")
        return "\n".join(lines) + "\n"

    def cancel(self, who: Identity, record: JobRecord) -> None:
        """Cancel the job; 409 if it is already final."""
        if record.status in FINAL_STATUSES:
            raise IBMApiError(
                409,
                "job_final",
                f"job {record.job_id!r} is already {runtime_status(record.status)}; it cannot be cancelled",
            )
        self.jobs.cancel(who, record.job_id)  # 409 there too if it became final meanwhile

    def replace_tags(self, who: Identity, record: JobRecord, tags: list[str]) -> None:
        """Replace the job's tags (owner only)."""
        if record.owner != who:
            raise IBMApiError(403, "forbidden", f"only the owner of job {record.job_id!r} may change its tags")
        try:
            check_tags(tags, self.jobs.config.limits)
        except FieldTooLarge as exc:
            raise IBMApiError(400, "invalid_request", str(exc)) from None
        self.store.update_tags(record.job_id, lambda _: list(dict.fromkeys(tags)))
