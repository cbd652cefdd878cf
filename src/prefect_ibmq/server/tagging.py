"""A job's tags changed by ``PUT /v1/jobs/{id}/tags``: replace, then add, then remove.

Tags starting with :data:`~prefect_ibmq.wire.JOBSET_TAG_PREFIX` name a job's job set:
they are kept by a replacement and cannot be named by an update.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect_ibmq.wire import JOBSET_TAG_PREFIX, ErrorCode, TagsUpdate

from .bounds import FieldTooLarge, check_tags
from .errors import ApiError
from .limits import Limits


def _bad_tags(message: str) -> ApiError:
    return ApiError(400, ErrorCode.INVALID_TAGS, message)


def tag_change(update: TagsUpdate, limits: Limits) -> Callable[[list[str]], list[str]]:
    """The update as a change of the current tags (applied in the store's transaction); 400 INVALID_TAGS if bad."""
    lists = (update.replacement_tags, update.additional_tags, update.removal_tags)
    if all(tags is None for tags in lists):
        raise _bad_tags("give at least one of replacement_tags, additional_tags, removal_tags")
    reserved = sorted({t for tags in lists if tags for t in tags if t.startswith(JOBSET_TAG_PREFIX)})
    if reserved:
        raise _bad_tags(
            f"tags starting with {JOBSET_TAG_PREFIX!r} are reserved for job sets and cannot be "
            f"added or removed: {reserved}"
        )
    try:
        for name, tags in zip(("replacement_tags", "additional_tags", "removal_tags"), lists, strict=True):
            check_tags(tags or [], limits, name)
    except FieldTooLarge as exc:
        raise _bad_tags(str(exc)) from None

    def change(current: list[str]) -> list[str]:
        tags = list(current)
        if update.replacement_tags is not None:
            kept = [t for t in tags if t.startswith(JOBSET_TAG_PREFIX)]
            tags = kept + list(update.replacement_tags)
        if update.additional_tags:
            tags += update.additional_tags
        if update.removal_tags:
            removed = set(update.removal_tags)
            tags = [t for t in tags if t not in removed]
        tags = list(dict.fromkeys(tags))  # drop duplicates, keep first order
        if len(tags) > limits.max_tags:  # checked in the transaction: additions add up
            raise _bad_tags(f"the job would have {len(tags)} tags; limits.max_tags={limits.max_tags}")
        return tags

    return change
