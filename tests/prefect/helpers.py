"""Reading back what a flow run left in Prefect: its artifacts and task runs."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

import anyio
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
)

from tests.helpers import flaky_failed


def artifacts_of(flow_run_id: UUID) -> dict[str, object]:
    """The flow run's artifacts by key (latest version of each)."""
    with get_client(sync_client=True) as client:
        wanted = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        found = client.read_artifacts(artifact_filter=wanted)
    return {a.key: a for a in found if a.key}


def task_runs(flow_run_id: UUID) -> list:
    """The flow run's task runs (Prefect's TaskRun objects)."""
    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def task_run_names(flow_run_id: UUID) -> list[str]:
    return [run.name for run in task_runs(flow_run_id)]


def state_names(task_run_id: UUID) -> list[str]:
    """The names of the states a task run went through, in order."""
    with get_client(sync_client=True) as client:
        states = client.read_task_run_states(task_run_id)
    return [state.name for state in sorted(states, key=lambda state: state.timestamp)]


def flaky_resubmissions(sweep_id: str, n_circuits: int, per_job: int, rounds: int) -> tuple[list[str], int]:
    """A sweep on the suite's flaky backend: the names of its resubmitted jobs and the circuits still failed.

    Derived from the backend's draws (``tests.helpers.flaky_failed``): job ``<sweep>_<i>_`` of
    round 0, then ``<sweep>_<i>_r<round>`` with the experiments that failed in the round before,
    for at most ``rounds`` rounds.
    """
    names: list[str] = []
    still_failed = 0
    for index, start in enumerate(range(0, n_circuits, per_job)):
        failing = len(flaky_failed(f"{sweep_id}_{index}_", min(per_job, n_circuits - start)))
        for round_ in range(1, rounds + 1):
            if not failing:
                break
            names.append(f"{sweep_id}_{index}_r{round_}")
            failing = len(flaky_failed(names[-1], failing))
        still_failed += failing
    return sorted(names), still_failed


def on_platform(credentials: Any, method: str, *args: Any) -> Any:
    """Call one of the async ``JobPlatform`` methods of the block's platform, from sync test code."""
    return anyio.run(partial(getattr(credentials.platform(), method), *args))
