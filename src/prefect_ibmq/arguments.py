"""Checks of the client's arguments, made before anything is sent.

Every check raises :class:`~prefect_ibmq.exceptions.IBMQValueError` with one
message shape: ``name=value is not accepted; give <what is accepted>.`` Jobs,
backends, the service and the Prefect tasks all check through these, so the
same mistake reads the same wherever it is made.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.wire import JOBSET_TAG_PREFIX, TagsUpdate


def rejected(name: str, value: Any, accepted: str) -> IBMQValueError:
    """The error for argument ``name`` given ``value``, saying what is ``accepted``."""
    return IBMQValueError(f"{name}={value!r} is not accepted; give {accepted}.")


def is_int(value: Any) -> bool:
    """Whether ``value`` is an int; a bool is not (``shots=True`` is a mistake, not one shot)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` if it is an int (not a bool) from ``minimum`` to ``maximum`` (no upper bound when None)."""
    if not is_int(value) or value < minimum or (maximum is not None and value > maximum):
        accepted = f"an int from {minimum} to {maximum}" if maximum is not None else f"an int >= {minimum}"
        raise rejected(name, value, accepted)
    return value


def check_optional_int(name: str, value: Any) -> int | None:
    """``value`` if it is None or an int (not a bool)."""
    if value is not None and not is_int(value):
        raise rejected(name, value, "an int or None")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise rejected(name, value, "True or False")
    return value


def check_str(name: str, value: Any) -> str:
    """``value`` if it is a str."""
    if not isinstance(value, str):
        raise rejected(name, value, "a str")
    return value


def check_optional_str(name: str, value: Any) -> str | None:
    """``value`` if it is None or a str."""
    if value is not None and not isinstance(value, str):
        raise rejected(name, value, "a str or None")
    return value


def check_optional_dict(name: str, value: Any) -> dict[str, Any] | None:
    """``value`` if it is None or a dict."""
    if value is not None and not isinstance(value, dict):
        raise rejected(name, value, "a dict or None")
    return value


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise rejected(name, value, f"one of {list(choices)}")
    return value


def check_seconds(name: str, value: Any) -> float | None:
    """``value`` if it is None or a number of seconds >= 0 (a bool is not a number here)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:  # `not >=` catches NaN
        raise rejected(name, value, "a number of seconds >= 0 or None")
    return value


def check_tags(name: str, value: Any, changeable: bool = False) -> list[str] | None:
    """``value`` if it is None or a list of str.

    With ``changeable`` (tags to add, remove or replace on an existing job) no
    tag may start with the job-set prefix: those mark a sweep and stay as they are.
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise rejected(name, value, "a list of str or None")
    reserved = [tag for tag in value if tag.startswith(JOBSET_TAG_PREFIX)] if changeable else []
    if reserved:
        raise IBMQValueError(
            f"{name} names {reserved}: tags starting with {JOBSET_TAG_PREFIX!r} mark a job set "
            "and cannot be changed."
        )
    return value


def tags_update(replacement_tags: Any, additional_tags: Any, removal_tags: Any) -> TagsUpdate:
    """The checked body of a tags update (see :meth:`~prefect_ibmq.job.IBMQJob.update_tags`)."""
    if replacement_tags is None and additional_tags is None and removal_tags is None:
        raise IBMQValueError("The tags cannot be updated: give replacement_tags, additional_tags or removal_tags.")
    return TagsUpdate(
        replacement_tags=check_tags("replacement_tags", replacement_tags, changeable=True),
        additional_tags=check_tags("additional_tags", additional_tags, changeable=True),
        removal_tags=check_tags("removal_tags", removal_tags, changeable=True),
    )
