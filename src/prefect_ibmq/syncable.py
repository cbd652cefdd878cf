"""Async Prefect tasks and flows that plain sync code may still call as before.

Prefect runs async tasks and flows on its async engine: a task's
``timeout_seconds`` then cancels it at the next ``await`` (a sync task in a worker
thread cannot be interrupted), and a flow does not wait for its heartbeat thread
to notice the end (the sync engine joins it, which rounds every sync flow up to
whole seconds). Called where no event loop runs (plain code, a sync flow), a
plain async task or flow hands back a coroutine; these run it to its result
instead, so ``circuit_sweep(...)`` and ``submit_job(...)`` in a sync flow work as
they did. Inside async code they hand back the coroutine, to be awaited.

Sync calls share one event loop, in a daemon thread of the process, and one Prefect
client per API on it (an async one, and the sync one Prefect's engine also asks for):
a new loop per call (``asyncio.run``) made a new Prefect
client each time (its HTTP pool and TLS contexts) and new connections to the job
service. Each call runs in a copy of the caller's context (its Prefect settings,
flow run, ...), so it behaves as it did in the caller's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, cast

from prefect import Flow, Task
from prefect.context import AsyncClientContext, SyncClientContext
from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL


class _SharedLoop:
    """The event loop sync calls run on, and the Prefect client of each API it talked to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._clients: dict[tuple[str | None, str | None], tuple[AsyncClientContext, SyncClientContext]] = {}
        threading.Thread(target=self.loop.run_forever, name="prefect-ibmq-sync-calls", daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coroutine`` on the loop in a copy of this thread's context; wait for its outcome here."""
        context = contextvars.copy_context()
        outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()
        started: list[asyncio.Task[Any]] = []

        def start() -> None:
            task = self.loop.create_task(self._with_client(coroutine), context=context)
            task.add_done_callback(lambda done: _settle(outcome, done))
            started.append(task)

        self.loop.call_soon_threadsafe(start)
        try:
            return outcome.result()
        except BaseException:  # KeyboardInterrupt here: the run is cancelled where it runs
            if started and not outcome.done():
                self.loop.call_soon_threadsafe(started[0].cancel)
            raise

    async def _with_client(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Await ``coroutine`` with this loop's Prefect clients for the caller's API in its context."""
        key = (PREFECT_API_URL.value(), PREFECT_API_KEY.value())
        shared = self._clients.get(key)
        if shared is None:
            shared = (AsyncClientContext(), SyncClientContext())
            await shared[0].client.__aenter__()  # kept open for the process: never left
            shared[1].client.__enter__()
            self._clients[key] = shared
        # Prefect's engines take the client of the context they find (AsyncClientContext.get_or_create).
        # Even the async flow engine reads the server's default result storage with a sync client
        # (prefect.results._get_default_result_storage), a new one per flow run, with its own TLS
        # context, unless the context holds one (~50-300 ms of a run on a busy machine).
        AsyncClientContext.__var__.set(shared[0])
        SyncClientContext.__var__.set(shared[1])
        return await coroutine


def _settle(outcome: concurrent.futures.Future[Any], task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        outcome.cancel()
    elif task.exception() is not None:
        outcome.set_exception(cast(BaseException, task.exception()))
    else:
        outcome.set_result(task.result())


_shared: _SharedLoop | None = None
_shared_lock = threading.Lock()


def _run_here(outcome: Any) -> Any:
    """``outcome`` itself, or its value when it is a coroutine and no event loop runs in this thread."""
    if not inspect.iscoroutine(outcome):
        return outcome
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        global _shared
        with _shared_lock:
            if _shared is None:
                _shared = _SharedLoop()
        return _shared.run(outcome)
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
