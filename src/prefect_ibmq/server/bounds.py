"""Free-form fields a client stores (header, names, tags, metadata), bounded before anything is stored.

A job's header nested 300 deep was stored and then broke every listing that
included it (pydantic refuses to serialise it): every free-form field is now
checked for size and JSON depth when it comes in, against ``ServerConfig.limits``,
and refused with a 4xx naming the field and the limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from prefect_ibmq.wire import ErrorCode, JobSubmission

from .config import BackendSpec
from .errors import ApiError
from .limits import Limits
from .qpyscan import QpyBounds


class FieldTooLarge(ValueError):
    """A free-form value past a limit; the message names the field and the limit."""


def json_depth(value: Any, deepest: int) -> int:
    """How deeply ``value`` nests lists and dicts (a scalar is 0), counted no further than ``deepest`` + 1.

    Level by level rather than recursively, so a value nested past Python's recursion
    limit is measured too, and a deep one costs no more than its first levels.
    """
    depth = 0
    level = [value]
    while depth <= deepest:
        containers = [item for item in level if isinstance(item, (dict, list, tuple))]
        if not containers:
            return depth
        depth += 1
        level = [child for item in containers for child in (item.values() if isinstance(item, dict) else item)]
    return depth


def check_json(name: str, value: Any, limits: Limits, sized: bool = False) -> None:
    """Refuse ``value`` nested deeper than ``limits.max_json_depth`` or (``sized``) larger than ``max_header_bytes``."""
    if json_depth(value, limits.max_json_depth) > limits.max_json_depth:
        raise FieldTooLarge(f"{name} nests deeper than limits.max_json_depth={limits.max_json_depth}")
    if sized:
        size = len(json.dumps(value, separators=(",", ":"), default=str))
        if size > limits.max_header_bytes:
            raise FieldTooLarge(
                f"{name} is {size} bytes of JSON; limits.max_header_bytes={limits.max_header_bytes}"
            )


def check_text(name: str, value: str | None, limits: Limits) -> None:
    """Refuse a name, id or tag longer than ``limits.max_name_length``."""
    if value is not None and len(value) > limits.max_name_length:
        raise FieldTooLarge(
            f"{name} has {len(value)} characters; limits.max_name_length={limits.max_name_length}"
        )


def check_tags(tags: Iterable[str], limits: Limits, name: str = "tags") -> None:
    """Refuse more than ``limits.max_tags`` tags, or a tag that is too long."""
    tags = list(tags)
    if len(tags) > limits.max_tags:
        raise FieldTooLarge(f"{name} has {len(tags)} tags; limits.max_tags={limits.max_tags}")
    for tag in tags:
        check_text(f"a tag in {name}", tag, limits)


def check_submission_fields(body: JobSubmission, limits: Limits) -> None:
    """Every free-form field of ``POST /v1/jobs``; 422 INVALID_REQUEST (400 INVALID_TAGS for tags)."""
    try:
        check_tags(body.tags, limits)
    except FieldTooLarge as exc:
        raise ApiError(400, ErrorCode.INVALID_TAGS, str(exc)) from None
    try:
        check_text("name", body.name, limits)
        check_text("experiment_id", body.experiment_id, limits)
        check_json("header", body.header, limits, sized=True)
        check_json("client_info", body.client_info, limits, sized=True)
    except FieldTooLarge as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None


def qpy_bounds(spec: BackendSpec, limits: Limits, max_circuits: int | None = None) -> QpyBounds:
    """What a QPY file for ``spec`` may claim (``max_circuits``: default the backend's ``max_experiments``)."""
    return QpyBounds(
        max_circuits=spec.max_experiments if max_circuits is None else max_circuits,
        max_qubits=spec.n_qubits,
        max_clbits=limits.max_clbits,
        max_instructions=limits.max_instructions_per_job,
        max_nesting=limits.max_circuit_nesting,
        max_metadata_bytes=limits.max_metadata_bytes,
        circuits_bound="max_experiments" if max_circuits is None else "circuits per value",
        owner=spec.name,
    )
