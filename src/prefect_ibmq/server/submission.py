"""``POST /v1/jobs`` before anything is stored: the body decoded and checked, and the job to store.

Everything a submission can be refused for is found here, in order: the free-form
fields, the QPY (walked before it is loaded), what the backend can never honour,
the limits on the circuits and their work, and the owner's jobs in flight.
"""

from __future__ import annotations

import binascii
import secrets

from qiskit import QuantumCircuit

from prefect_ibmq.wire import ErrorCode, Identity, JobSubmission, base64_to_qpy_bytes, qpy_to_circuits

from .bounds import check_submission_fields, qpy_bounds
from .checks import check_submission
from .errors import ApiError
from .limit_checks import InvalidJob
from .limits import Limits
from .qpyscan import QpyBounds, QpyOverLimit, QpyRefused, scan_qpy
from .rows import NewJob
from .simops import QPY_PREFACE, undecodable_qpy_message
from .simulators import Simulator


def bad_request(message: str, code: ErrorCode = ErrorCode.INVALID_REQUEST) -> ApiError:
    """A 400 naming what is wrong."""
    return ApiError(400, code, message)


def decode_circuits(text: str, bounds: QpyBounds) -> tuple[bytes, list[QuantumCircuit]]:
    """base64 QPY -> (bytes, circuits); 400 INVALID_REQUEST naming what is wrong.

    The QPY is walked first (:func:`.qpyscan.scan_qpy`): what claims more than ``bounds``
    is refused (422) before ``qpy.load`` allocates it.
    """
    try:
        data = base64_to_qpy_bytes(text)
    except (binascii.Error, ValueError) as exc:
        raise bad_request(f"qpy is not valid base64: {exc}") from exc
    try:
        scan_qpy(data, bounds)
    except QpyOverLimit as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, f"qpy: {exc}") from None
    except QpyRefused as exc:
        raise bad_request(f"qpy is not a QPY file of circuits this server reads: {exc}") from None
    try:
        circuits = qpy_to_circuits(data)
    except Exception as exc:  # QPY raises several types for a malformed file
        if data.startswith(QPY_PREFACE):  # a QPY file whose circuits cannot be rebuilt: 422, with the cause
            raise ApiError(422, ErrorCode.INVALID_REQUEST, f"qpy: {undecodable_qpy_message(exc)}") from exc
        raise bad_request(f"qpy is not a QPY file of circuits: {type(exc).__name__}: {exc}") from exc
    if not circuits:
        raise bad_request("qpy holds no circuits; a job needs at least one")
    for index, item in enumerate(circuits):
        if not isinstance(item, QuantumCircuit):
            raise bad_request(f"qpy item {index} is a {type(item).__name__}, not a QuantumCircuit")
    return data, circuits


def checked_job(
    who: Identity, body: JobSubmission, idempotency_key: str | None,
    simulator: Simulator, limits: Limits,
) -> tuple[NewJob, list[QuantumCircuit]]:
    """The job to store and its decoded circuits; a 4xx ApiError naming the first thing refused."""
    check_submission_fields(body, limits)
    data, circuits = decode_circuits(body.qpy, qpy_bounds(simulator.spec, limits))
    if any(not isinstance(tag, str) for tag in body.tags):
        raise bad_request("tags must be strings", ErrorCode.INVALID_TAGS)
    # What can never run is refused now (422, nothing stored); transpiling waits for validation.
    try:
        # admit first: it reads in full the circuits QPY may not have rebuilt (delays), which the checks walk.
        simulator.admit(circuits, body.options)
        check_submission(simulator, circuits, body.options, limits)
    except InvalidJob as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from exc
    job = NewJob(
        job_id=secrets.token_hex(12),
        backend=body.backend,
        owner=who,
        qpy=data,
        num_experiments=len(circuits),
        options=body.options,
        name=body.name,
        tags=list(dict.fromkeys(body.tags)),
        share_level=body.share_level,
        experiment_id=body.experiment_id,
        client_info=body.client_info,
        header=body.header,
        private=body.private,
        idempotency_key=idempotency_key,
    )
    return job, circuits
