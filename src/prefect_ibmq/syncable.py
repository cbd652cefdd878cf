"""Async Prefect tasks and flows that plain sync code may still call as before.

Prefect runs async tasks and flows on its async engine: a task's
``timeout_seconds`` then cancels it at the next ``await`` (a sync task in a worker
thread cannot be interrupted), and a flow does not wait for its heartbeat thread
to notice the end (the sync engine joins it, which rounds every sync flow up to
whole seconds). Called where no event loop runs (plain code, a sync flow), a
plain async task or flow hands back a coroutine; these run it to its result
instead, so ``circuit_sweep(...)`` and ``submit_job(...)`` in a sync flow work as
they did. Inside async code they hand back the coroutine, to be awaited.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, cast

from prefect import Flow, Task


def _run_here(outcome: Any) -> Any:
    """``outcome`` itself, or its value when it is a coroutine and no event loop runs in this thread."""
    if not inspect.iscoroutine(outcome):
        return outcome
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(outcome)
    return outcome


class SyncCallableTask(Task):
    """An async task that sync code calls for its result (see the module's docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the task: its result where no event loop runs, else the coroutine to await."""
        return _run_here(super().__call__(*args, **kwargs))

    def with_options(self, *args: Any, **kwargs: Any) -> SyncCallableTask:
        """A copy with other options (``Task.with_options``) that stays callable from sync code."""
        copy = super().with_options(*args, **kwargs)  # Prefect builds a plain Task
        copy.__class__ = type(self)
        return cast(SyncCallableTask, copy)  # its class was just swapped


class SyncCallableFlow(Flow):
    """An async flow that sync code calls for its result (see the module's docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the flow: its result where no event loop runs, else the coroutine to await."""
        return _run_here(super().__call__(*args, **kwargs))

    def with_options(self, *args: Any, **kwargs: Any) -> SyncCallableFlow:
        """A copy with other options (``Flow.with_options``) that stays callable from sync code."""
        copy = super().with_options(*args, **kwargs)  # Prefect builds a plain Flow
        copy.__class__ = type(self)
        return cast(SyncCallableFlow, copy)  # its class was just swapped


def io_task(**options: Any) -> Callable[[Callable[..., Any]], SyncCallableTask]:
    """``@task(**options)`` for an ``async def``, callable from sync code too."""
    return lambda fn: SyncCallableTask(fn=fn, **options)
