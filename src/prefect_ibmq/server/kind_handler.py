"""What the executor asks of the handler of a kind of job: validate the job, then run it to a result.

A job's kind is its record's ``kind`` (``qpy-circuits`` for ``/v1`` circuits,
``runtime-<program>`` for a Qiskit Runtime program). The executor finds the kind's
handler in the :class:`KindHandlers` it was given and never looks at which one it
got: how a kind plans its chunks, where it runs them and how it assembles their
result is its handler's own (:mod:`.kinds`). (Not the sweep's ``flows.jobset.JobKind``,
which is what a sweep's items are, on the client.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from qiskit import QuantumCircuit

from prefect_ibmq.wire import ApiJobStatus, JobError, JobRecord

from .chunks import ChunkRunner
from .limit_checks import InvalidJob
from .runners import SimulatorRunners
from .simulators import Simulator
from .store import Store

T = TypeVar("T")


@dataclass(frozen=True)
class Validated:
    """A job that may be queued, and the circuits to run when they differ from those sent (QPY)."""

    runnable_qpy: bytes | None = None


@dataclass(frozen=True)
class Finished:
    """A job's run to its end: its final status, the result text to store, and why it failed."""

    status: ApiJobStatus
    result: str
    error: JobError | None = None


class Retry(Protocol):
    """``retry(action)``: the action's answer, waiting out a busy store (the executor's)."""

    def __call__(self, action: Callable[[], T]) -> T:
        """Call ``action`` until the store answers."""
        ...


@dataclass(frozen=True)
class Inputs:
    """Where a kind reads a job's stored inputs (circuits, program parameters)."""

    store: Store
    retry: Retry


@dataclass(frozen=True)
class RunContext:
    """What a kind runs a job with: its backend, where to simulate, its inputs, and when to stop."""

    simulator: Simulator
    #: This worker thread's chunk runner, and the simulator processes behind it.
    runner: ChunkRunner
    runners: SimulatorRunners
    inputs: Inputs
    #: Set by a cancel or shutdown: the job's chunks in flight are abandoned at once.
    stop: threading.Event
    #: Set when the server stops (a job interrupted then stays RUNNING for the restart).
    stopping: threading.Event


class KindHandler(Protocol):
    """One kind of job: how it is validated before it is queued, and how it runs."""

    def validate(
        self, record: JobRecord, simulator: Simulator, decoded: list[QuantumCircuit] | None, inputs: Inputs
    ) -> Validated | None:
        """Check the job against its backend; None if it is gone meanwhile.

        ``decoded``: the circuits the submit decoded, when it did (saves a second decode).
        Raises :class:`.limit_checks.InvalidJob` naming what cannot run (the job then fails validation).
        """
        ...

    def run(self, record: JobRecord, context: RunContext) -> Finished | None:
        """Run the job; None when stopped (cancel or shutdown) or gone meanwhile. Its failures are a Finished."""
        ...


class UnknownKind(InvalidJob):
    """A job record of a kind this server does not run (e.g. stored by a newer replica): it fails validation."""


class KindHandlers:
    """The handlers of the kinds a server runs, looked up by a job record's ``kind``."""

    def __init__(self, kinds: Mapping[str, KindHandler]) -> None:
        self._kinds = dict(kinds)

    def of(self, record: JobRecord) -> KindHandler:
        """The kind of ``record``; UnknownKind naming the kinds served otherwise."""
        kind = self._kinds.get(record.kind)
        if kind is None:
            raise UnknownKind(f"job {record.job_id} is of kind {record.kind!r}; served: {sorted(self._kinds)}")
        return kind

    def names(self) -> list[str]:
        """The kinds served, sorted."""
        return sorted(self._kinds)
