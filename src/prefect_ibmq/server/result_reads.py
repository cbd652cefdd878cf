"""Reading a ``/v1`` job's result: when there is one, and a private job's result for one reader only.

A private job's result read with a ``read_key`` stays stored for that key until the
reader acknowledges it; read without one it is deleted at once.
"""

from __future__ import annotations

from prefect_ibmq.wire import FINAL_STATUSES, ApiJobStatus, ErrorCode, JobRecord, ResultFormat

from .errors import ApiError
from .store import Store
from .stored_results import result_text

S = ApiJobStatus


def check_readable(record: JobRecord, partial: bool) -> None:
    """409 naming why ``record`` has no ``/v1`` result to give (``partial``: a failed job's experiments are)."""
    job_id, status = record.job_id, record.status
    if record.program_id is not None:
        raise ApiError(
            409, ErrorCode.INVALID_STATE,
            f"job {job_id!r} is a Qiskit Runtime {record.program_id} job; "
            f"its result is at /api/v1/jobs/{job_id}/results",
        )
    if status not in FINAL_STATUSES:
        raise ApiError(409, ErrorCode.JOB_NOT_FINISHED, f"job {job_id!r} is {status.value}; its result is not ready")
    if status in (S.CANCELLED, S.ERROR_CREATING_JOB, S.ERROR_VALIDATING_JOB):
        why = f": {record.error.message}" if record.error else ""
        raise ApiError(409, ErrorCode.INVALID_STATE, f"job {job_id!r} is {status.value} and has no result{why}")
    if status is S.ERROR_RUNNING_JOB and not partial:
        message = record.error.message if record.error else "experiments failed"
        raise ApiError(
            409, ErrorCode.JOB_FAILED,
            f"job {job_id!r} failed ({message}); ask with partial=true for the experiments that succeeded",
        )


def read_result(
    store: Store, record: JobRecord, partial: bool, read_key: str | None, form: ResultFormat
) -> tuple[str, bool]:
    """The result JSON text in ``form`` and whether it is held for ``read_key``; 409/410 when there is none."""
    check_readable(record, partial)
    job_id = record.job_id
    text = store.read_result(job_id, consume=record.private, read_key=read_key)
    if text is None:
        if record.private:
            raise ApiError(
                410, ErrorCode.RESULT_CONSUMED,
                f"job {job_id!r} is private and its result was already read once (by another reader, "
                "or acknowledged); it is no longer handed out",
            )
        raise ApiError(500, ErrorCode.INTERNAL, f"job {job_id!r} is {record.status.value} but has no stored result")
    return result_text(text, form), record.private and read_key is not None
