"""The wire format of the job service: the only module the client and the server share.

Every request and response body of the REST API under ``/v1`` is one of these
pydantic models. Circuits travel as base64 QPY; a result is the dict that
``qiskit.result.Result.from_dict`` reads; times are ISO 8601 strings in UTC.

Errors are answered as :class:`ErrorBody` with a stable ``code`` (see
:class:`ErrorCode`) so the client maps them to typed exceptions without
parsing messages.
"""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

API_PREFIX = "/v1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: A reader's key for a private job's result: the same key may read it again until it acknowledges.
READ_KEY_HEADER = "Result-Read-Key"
#: Answered with a private job's result held for the read key; the reader then acknowledges.
RESULT_HELD_HEADER = "Result-Held"


def new_read_key() -> str:
    """A fresh, unguessable read key for one reader of a result."""
    return secrets.token_urlsafe(24)


#: Tags with this prefix mark a job set (a sweep); users cannot add or remove them.
JOBSET_TAG_PREFIX = "ibmq_jobset"
#: Longest long-poll a status request may ask for, in seconds.
MAX_STATUS_WAIT = 60.0
SHARE_LEVELS = ("global", "hub", "group", "project", "none")
ShareLevel = Literal["global", "hub", "group", "project", "none"]


class ApiJobStatus(str, Enum):
    """A job's status as the job service reports it, in lifecycle order."""

    CREATING = "CREATING"
    CREATED = "CREATED"
    VALIDATING = "VALIDATING"
    VALIDATED = "VALIDATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    ERROR_CREATING_JOB = "ERROR_CREATING_JOB"
    ERROR_VALIDATING_JOB = "ERROR_VALIDATING_JOB"
    ERROR_RUNNING_JOB = "ERROR_RUNNING_JOB"

    @property
    def is_final(self) -> bool:
        """Whether the job can no longer change (see :data:`FINAL_STATUSES`)."""
        return self in FINAL_STATUSES


# --- status groups, beside each other ----------------------------------------

#: The status names in lifecycle order (the order of :class:`ApiJobStatus`): steps sort and categorize by it.
LIFECYCLE: tuple[str, ...] = tuple(status.value for status in ApiJobStatus)
#: Statuses that ended badly: the job's ``error`` says why.
ERROR_STATUSES = frozenset(
    {ApiJobStatus.ERROR_CREATING_JOB, ApiJobStatus.ERROR_VALIDATING_JOB, ApiJobStatus.ERROR_RUNNING_JOB}
)
#: Statuses a job never leaves.
FINAL_STATUSES = frozenset({ApiJobStatus.COMPLETED, ApiJobStatus.CANCELLED} | ERROR_STATUSES)
#: Final statuses whose experiments ran: these jobs have a result (a partial one after ERROR_RUNNING_JOB).
RAN_STATUSES = frozenset({ApiJobStatus.COMPLETED, ApiJobStatus.ERROR_RUNNING_JOB})
#: Statuses a job is still in on its way (lifecycle order): it may still change.
NOT_FINAL: tuple[ApiJobStatus, ...] = tuple(status for status in ApiJobStatus if status not in FINAL_STATUSES)

_LIFECYCLE_INDEX = {name: index for index, name in enumerate(LIFECYCLE)}


def lifecycle_index(step: str) -> int:
    """A status name's place in :data:`LIFECYCLE`; names that are no status sort after all of them."""
    return _LIFECYCLE_INDEX.get(step, len(LIFECYCLE))


# --- circuits: QPY bytes, and base64 QPY text in JSON bodies -------------------
# qiskit is imported when circuits are (de)coded, not with this module: the models
# alone stay quick to import (the CLI's argument parsing, tables of records).


def circuits_to_qpy(circuits: Sequence[QuantumCircuit]) -> bytes:
    """The circuits as one QPY file's bytes."""
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(list(circuits), buffer)
    return buffer.getvalue()


def qpy_to_circuits(data: bytes) -> list[QuantumCircuit]:
    """The circuits of a QPY file's bytes.

    Raises:
        qiskit.qpy.exceptions.QpyError: (and other types, for a malformed file) if ``data`` is no QPY file.
    """
    from qiskit import qpy

    return list(qpy.load(io.BytesIO(data)))


def circuits_to_base64(circuits: Sequence[QuantumCircuit]) -> str:
    """The circuits as base64 QPY text: the ``qpy`` field of :class:`JobSubmission` and :class:`CircuitsResponse`."""
    return qpy_bytes_to_base64(circuits_to_qpy(circuits))


def qpy_bytes_to_base64(data: bytes) -> str:
    """QPY bytes (or any bytes) as base64 text."""
    return base64.b64encode(data).decode("ascii")


def base64_to_qpy_bytes(text: str) -> bytes:
    """The bytes of base64 text, strictly: characters outside the alphabet are an error, not skipped.

    Raises:
        binascii.Error: If ``text`` is not valid base64.
    """
    return base64.b64decode(text, validate=True)


def base64_to_circuits(text: str) -> list[QuantumCircuit]:
    """The circuits of base64 QPY text (see :func:`base64_to_qpy_bytes` and :func:`qpy_to_circuits`)."""
    return qpy_to_circuits(base64_to_qpy_bytes(text))


class ErrorCode(str, Enum):
    """Why a request failed; the client maps each to an exception type."""

    UNAUTHORIZED = "UNAUTHORIZED"  # 401: no or unknown token
    FORBIDDEN = "FORBIDDEN"  # 403: visible job, but only its owner may change it
    NOT_FOUND = "NOT_FOUND"  # 404: unknown job or backend (or not shared with you)
    INVALID_REQUEST = "INVALID_REQUEST"  # 400/422: a bad value in the request
    INVALID_TAGS = "INVALID_TAGS"  # 400: tags not a list of str, or a reserved prefix
    INVALID_STATE = "INVALID_STATE"  # 409: e.g. cancel a finished job, result of a cancelled one
    JOB_NOT_FINISHED = "JOB_NOT_FINISHED"  # 409: result asked for before a final state
    JOB_FAILED = "JOB_FAILED"  # 409: result of a failed job without partial=true
    RESULT_CONSUMED = "RESULT_CONSUMED"  # 410: a private job's result was already read
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"  # 413
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # 503: store busy, locked or full; retry
    INTERNAL = "INTERNAL"  # 500


class ErrorBody(BaseModel):
    """The JSON body of every 4xx/5xx answer."""

    code: ErrorCode
    message: str
    detail: Any = None


class Identity(BaseModel):
    """Who a token belongs to; share levels compare these fields."""

    user: str
    hub: str
    group: str
    project: str


# --- backends -----------------------------------------------------------------


#: ``meas_level`` of classified counts (``qiskit.qobj.utils.MeasLevel.CLASSIFIED``): the only one a simulator has.
MEAS_LEVEL_CLASSIFIED = 2
#: The ``rep_delay`` range and default of our backends, in seconds (those of IBM's Eagle devices).
REP_DELAY_RANGE = (0.0, 500e-6)
DEFAULT_REP_DELAY = 250e-6
#: qiskit-aer's simulation methods that sample counts on a CPU (``unitary`` and ``superop`` measure
#: nothing, ``tensor_network`` needs a GPU).
AER_METHODS = ("automatic", "statevector", "density_matrix", "stabilizer", "matrix_product_state",
               "extended_stabilizer")


class BackendConfiguration(BaseModel):
    """What a client needs to build a qiskit ``Target`` and validate input."""

    backend_name: str
    backend_version: str = "1.0.0"
    description: str = ""
    simulator: bool = True
    n_qubits: int
    basis_gates: list[str]
    coupling_map: list[list[int]] | None = None  # None: all-to-all
    max_experiments: int
    max_shots: int
    #: Per-qubit/per-gate noise for noisy backends: {"qubits": [...], "gates": [...]}; None when ideal.
    properties: dict[str, Any] | None = None
    #: The clock of delays and durations, in seconds: a delay travels as a whole number of dt.
    dt: float | None = None
    #: Measurement levels a job may ask for (2: classified counts; 0 and 1 need hardware).
    meas_levels: list[int] = Field(default_factory=lambda: [MEAS_LEVEL_CLASSIFIED])
    #: ``rep_delay`` accepted between shots, in seconds, and the one used when none is asked for.
    rep_delay_range: list[float] = Field(default_factory=lambda: list(REP_DELAY_RANGE))
    default_rep_delay: float = DEFAULT_REP_DELAY
    dynamic_reprate_enabled: bool = True
    #: Simulation methods the ``method`` option takes (qiskit-aer's).
    methods: list[str] = Field(default_factory=lambda: list(AER_METHODS))
    #: Whether the ``noise_model`` option is taken (backends without noise of their own).
    noise_model_option: bool = False

    @property
    def num_qubits(self) -> int:
        """``n_qubits`` under the name qiskit's configurations also have."""
        return self.n_qubits

    @property
    def max_circuits(self) -> int:
        """``max_experiments`` under BackendV2's name."""
        return self.max_experiments


class BackendStatus(BaseModel):
    """Body of ``GET /v1/backends/{name}/status``: whether it runs jobs, and how many wait."""

    backend_name: str
    backend_version: str = "1.0.0"
    operational: bool = True
    pending_jobs: int
    status_msg: str = "active"


# --- jobs ---------------------------------------------------------------------


class RunOptions(BaseModel):
    """Options for running the experiments of a job.

    ``meas_return``, ``rep_delay`` and ``init_qubits`` are recorded as hardware takes them;
    on a simulator every shot starts in ``|0>`` and yields classified counts.
    """

    model_config = ConfigDict(extra="forbid")

    shots: int = Field(default=1024, ge=1)
    memory: bool = False
    seed_simulator: int | None = None
    meas_level: int = MEAS_LEVEL_CLASSIFIED
    meas_return: Literal["single", "avg"] = "single"
    #: Seconds between shots, within the backend's ``rep_delay_range``; None: its ``default_rep_delay``.
    rep_delay: float | None = None
    init_qubits: bool = True
    #: A qiskit-aer ``NoiseModel.to_dict(serializable=True)``, for backends that take one.
    noise_model: dict[str, Any] | None = None
    #: A qiskit-aer simulation method (:data:`AER_METHODS`); None lets the server choose.
    method: str | None = None


class JobSubmission(BaseModel):
    """Body of ``POST /v1/jobs`` (send an ``Idempotency-Key`` header to make it retry-safe)."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    qpy: str = Field(description="base64 of a QPY file holding the job's circuits")
    options: RunOptions = Field(default_factory=RunOptions)
    header: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    share_level: ShareLevel = "none"
    experiment_id: str | None = None
    client_info: dict[str, str] = Field(default_factory=dict)
    #: A private job hands out its result once.
    private: bool = False


class QueueInfoModel(BaseModel):
    """Where a queued job stands; None fields are unknown."""

    position: int | None = None
    #: "PENDING_IN_QUEUE" while the job waits for a worker, as the legacy service said.
    status: str | None = None
    estimated_start_time: str | None = None
    estimated_complete_time: str | None = None
    hub_priority: float | None = None
    group_priority: float | None = None
    project_priority: float | None = None


class JobError(BaseModel):
    """Why a job failed: a numeric code (1400 validation, 1500 run) and a message."""

    code: int
    message: str


class JobRecord(BaseModel):
    """A job as the service knows it (``GET /v1/jobs/{id}``)."""

    job_id: str
    backend: str
    status: ApiJobStatus
    creation_date: str
    kind: str = "qpy-circuits"
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    share_level: ShareLevel = "none"
    experiment_id: str | None = None
    client_info: dict[str, str] = Field(default_factory=dict)
    options: RunOptions = Field(default_factory=RunOptions)
    header: dict[str, Any] = Field(default_factory=dict)
    private: bool = False
    owner: Identity
    num_experiments: int
    #: Step name (an ApiJobStatus value) -> ISO time it was entered, in lifecycle order.
    time_per_step: dict[str, str] = Field(default_factory=dict)
    run_mode: str | None = None  # "fairshare" once the job is scheduled
    queue_info: QueueInfoModel | None = None
    error: JobError | None = None
    result_consumed: bool = False
    #: How often a restarted server put this job back in the queue after it had started running.
    requeued: int = 0
    #: Qiskit Runtime jobs (``/api/v1/jobs``) only: their program and session; None for ``/v1`` jobs.
    program_id: str | None = None
    session_id: str | None = None


#: Values of the status long-poll's ``until`` query parameter.
StatusUntil = Literal["change", "final"]
#: Why a status answer came when it did: ``immediate`` (the first read answered it: no ``wait``,
#: a final job, or a status that already differed), ``notified`` (a change notification woke the
#: wait), ``deadline`` (``wait`` ran out; the status read then is what it says, final or not).
WakeReason = Literal["immediate", "notified", "deadline"]


class JobStatusResponse(BaseModel):
    """Body of ``GET /v1/jobs/{id}/status?wait=S[&known=STATUS][&known_position=N][&until=final]``.

    With ``wait`` the server answers as soon as the status differs from ``known``
    (or the queue position from ``known_position``, when given), else after S seconds.
    With ``until=final`` it answers only once the status is final (intermediate
    changes do not end the wait), else after S seconds.
    """

    job_id: str
    status: ApiJobStatus
    queue_info: QueueInfoModel | None = None
    error: JobError | None = None
    #: True when the long-poll ended because nothing changed within ``wait``.
    timed_out: bool = False
    #: What ended the wait (see ``WakeReason``): a job that finished while a waiter was parked
    #: answers ``notified``; ``deadline`` with a final status means no notification came.
    wake_reason: WakeReason = "immediate"
    #: The whole job record when ``status`` is final (None before): spares the client a ``GET /v1/jobs/{id}``.
    record: JobRecord | None = None


class JobList(BaseModel):
    """Body of ``GET /v1/jobs``: newest first."""

    jobs: list[JobRecord]
    total: int
    #: When the page is full: pass it as ``cursor`` for the page after this one (None: no more).
    next_cursor: str | None = None


class TagsUpdate(BaseModel):
    """Body of ``PATCH /v1/jobs/{id}/tags``; applied in this order: replace, add, remove."""

    model_config = ConfigDict(extra="forbid")

    replacement_tags: list[str] | None = None
    additional_tags: list[str] | None = None
    removal_tags: list[str] | None = None


class TagsResponse(BaseModel):
    """Body of the answer to a tags update: the job's new tags."""

    tags: list[str]


class NameUpdate(BaseModel):
    """Body of ``PUT /v1/jobs/{id}/name``."""

    model_config = ConfigDict(extra="forbid")

    name: str


class NameResponse(BaseModel):
    """Body of the answer to a rename: the job's new name."""

    name: str


class CircuitsResponse(BaseModel):
    """Body of ``GET /v1/jobs/{id}/circuits``: base64 QPY (see :func:`base64_to_circuits`)."""

    qpy: str


class CancelResponse(BaseModel):
    """Body of ``POST /v1/jobs/{id}/cancel``: whether it was cancelled, and the status it is in."""

    job_id: str
    cancelled: bool
    status: ApiJobStatus


# --- results ------------------------------------------------------------------

#: ``GET /v1/jobs/{id}/result?format=columnar`` asks for :func:`columnar_result`'s form; without it
#: (or ``format=legacy``) the answer is the dict ``Result.from_dict`` reads, as it always was.
ResultFormat = Literal["legacy", "columnar"]
#: The first key of a columnar result, and its value: how a reader tells the two forms apart.
COLUMNAR_MARKER = "result_format"
COLUMNAR_VERSION = "columnar/1"


def columnar_result(result: dict[str, Any]) -> dict[str, Any]:
    """The result with its experiments as columns: each field once if every experiment has the same value.

    A 2-5 qubit experiment is ~0.9 KB of JSON in the legacy form, mostly aer metadata
    repeated in every experiment; as columns it is ~0.2 KB. Lossless:
    :func:`legacy_result` gives back a dict equal to ``result``. Fields whose values are
    dicts in every experiment that has them (``data``, ``header``, ``metadata``) are
    split one level further.
    """
    experiments = result.get("results")
    if not isinstance(experiments, list) or not all(isinstance(e, dict) for e in experiments):
        raise ValueError("a result's 'results' must be a list of experiment dicts")
    out: dict[str, Any] = {COLUMNAR_MARKER: COLUMNAR_VERSION}
    out.update((key, value) for key, value in result.items() if key != "results")
    out["experiments"] = {"count": len(experiments), "fields": _fields(experiments, nested=True)}
    return out


def legacy_result(data: dict[str, Any]) -> dict[str, Any]:
    """The dict ``qiskit.result.Result.from_dict`` reads, from either form (a legacy one is returned as it is)."""
    if data.get(COLUMNAR_MARKER) is None:
        return data
    if data[COLUMNAR_MARKER] != COLUMNAR_VERSION:
        raise ValueError(f"unknown result format {data[COLUMNAR_MARKER]!r}; this client reads {COLUMNAR_VERSION!r}")
    columns = data["experiments"]
    experiments: list[dict[str, Any]] = [{} for _ in range(columns["count"])]
    _fill(experiments, columns["fields"])
    out = {key: value for key, value in data.items() if key not in (COLUMNAR_MARKER, "experiments")}
    out["results"] = experiments
    return out


def _fields(rows: list[dict[str, Any]], nested: bool) -> list[dict[str, Any]]:
    """Columns of ``rows``, by key in first-seen order: ``same`` or ``values``, or ``fields`` a level down."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    fields = []
    for key in keys:
        values = [row.get(key, _ABSENT) for row in rows]
        field: dict[str, Any] = {"key": key}
        present = values
        if any(value is _ABSENT for value in values):
            field["absent"] = [index for index, value in enumerate(values) if value is _ABSENT]
            present = [value for value in values if value is not _ABSENT]
        first = present[0]
        if nested and all(type(value) is dict for value in present):
            # Rows without the key are empty here, and listed as absent in every sub-field too.
            field["fields"] = _fields([value if value is not _ABSENT else {} for value in values], nested=False)
        elif all(_same(value, first) for value in present):
            field["same"] = first
        else:
            field["values"] = [None if value is _ABSENT else value for value in values] if present is not values \
                else values
        fields.append(field)
    return fields


#: A key a row does not have (None is a value).
_ABSENT = object()


def _same(value: Any, first: Any) -> bool:
    """Equal and of the same type (so 1, 1.0 and True stay apart); False for what does not compare."""
    if value is first:
        return True
    try:
        return type(value) is type(first) and bool(value == first)
    except Exception:  # e.g. numpy arrays compare element-wise
        return False


def _fill(rows: list[dict[str, Any]], fields: list[dict[str, Any]]) -> None:
    """Set each field of :func:`_fields` back into ``rows``."""
    for field in fields:
        key = field["key"]
        absent = set(field.get("absent", ()))
        if "fields" in field:
            subrows: list[dict[str, Any]] = [{} for _ in rows]
            _fill(subrows, field["fields"])
            values: list[Any] = subrows
        elif "values" in field:
            values = field["values"]
        else:
            values = [field["same"]] * len(rows)
        for index, (row, value) in enumerate(zip(rows, values, strict=True)):
            if index not in absent:
                row[key] = value


def columnar_values(data: dict[str, Any], *path: str) -> list[Any]:
    """One field of every experiment of a columnar result, e.g. ``("header", "name")``; None where absent.

    Reads the columns as they are, without making the experiments' dicts that
    :func:`legacy_result` makes (the tables take a sweep's results this way).
    """
    columns = data["experiments"]
    count = columns["count"]
    fields, absent = columns["fields"], set()
    field: dict[str, Any] | None = None
    for key in path:
        field = next((f for f in fields if f["key"] == key), None)
        if field is None:
            return [None] * count
        absent.update(field.get("absent", ()))
        fields = field.get("fields", [])
    if field is None or "fields" in field:
        raise ValueError(f"{'.'.join(path)!r} is no field of a result's experiments")
    values = field["values"] if "values" in field else [field["same"]] * count
    if absent:
        values = [None if index in absent else value for index, value in enumerate(values)]
    return values


def is_columnar(data: Any) -> bool:
    """Whether ``data`` is a result in :func:`columnar_result`'s form."""
    return isinstance(data, dict) and data.get(COLUMNAR_MARKER) is not None
