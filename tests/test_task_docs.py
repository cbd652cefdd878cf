"""Every task says what it takes, returns and raises, with an example (as prefect-dbt's tasks do)."""

from __future__ import annotations

import inspect

import pytest
from prefect import Task

from prefect_ibmq import tasks

TASKS = sorted((name for name, value in vars(tasks).items() if isinstance(value, Task)))


def test_the_tasks_are_found() -> None:
    assert {"submit_job", "wait_for_final_state", "fetch_result", "cancel_job"} <= set(TASKS)


@pytest.mark.parametrize("name", TASKS)
def test_task_docstring_has_args_returns_raises_and_examples(name: str) -> None:
    task = getattr(tasks, name)
    doc = inspect.getdoc(task.fn) or ""
    sections = [line.strip() for line in doc.splitlines() if line.strip() in
                ("Args:", "Returns:", "Raises:", "Examples:")]
    assert sections == ["Args:", "Returns:", "Raises:", "Examples:"], name
    args = doc.split("Args:")[1].split("Returns:")[0]
    for parameter in inspect.signature(task.fn).parameters:
        assert f"\n    {parameter}:" in args, f"{name}: {parameter} is not described"
