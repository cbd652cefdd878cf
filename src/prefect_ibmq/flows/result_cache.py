"""Looking up results that a cached Prefect task stored earlier, many at once and without a task run.

A task with a ``cache_key_fn`` and ``persist_result=True`` stores its return value
in Prefect's result storage under that key; calling the task again with the same
key gives back the stored value (state ``Cached``). That costs a task run each
(several Prefect API calls) and Prefect reads and unpickles the record twice (once
to see that it exists, once for the value). A sweep whose jobs were all run before
would pay that per job for nothing new. :func:`read_cached` reads the same
records from the same storage (the store Prefect would use for that task) in one
worker thread, once each; only the keys it does not find need a task run.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import anyio
from prefect import Task
from prefect.results import get_result_store


async def read_cached(task: Task[Any, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The values ``task`` stored under each of ``keys`` that it stored (and that have not expired).

    Args:
        task: The cached task whose result storage holds the values.
        keys: Cache keys as the task's ``cache_key_fn`` makes them.

    Returns:
        Key -> stored value, for the keys found; a key not found (or unreadable) is left out.
    """
    if not keys:
        return {}
    store = await get_result_store().aupdate_for_task(task)

    def read_all() -> dict[str, Any]:
        found = {}
        now = datetime.datetime.now(datetime.UTC)
        for key in keys:
            try:
                record = store.read(key)
            except Exception:  # not stored (the storage raises its own kind of error) or unreadable: a miss
                continue
            expiration = record.metadata.expiration
            if expiration is None or expiration > now:
                found[key] = record.result
        return found

    return await anyio.to_thread.run_sync(read_all)
