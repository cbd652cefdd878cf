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


def on_platform(credentials: Any, method: str, *args: Any) -> Any:
    """Call one of the async ``JobPlatform`` methods of the block's platform, from sync test code."""
    return anyio.run(partial(getattr(credentials.platform(), method), *args))
