"""What flows publish in the Prefect UI: a per-job timing table, a markdown summary, progress, pictures.

Pictures go into a markdown artifact as ``data:image/png;base64,...`` images: the
Prefect UI (3.9, checked in headless Chromium by ``make e2e``) renders those inline,
and they need no URL the browser must reach.

Artifact keys may hold only lowercase letters, digits and dashes; ``artifact_key``
makes one from a sweep id or job name.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from pathlib import Path
from uuid import UUID

import pandas as pd
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)

_TABLE_COLUMNS = ["job_id", "name", "backend", "status", "cached", "num_experiments", "success_count", "created",
                  "validation_s", "queue_s", "run_s", "total_s", "error_message"]


def artifact_key(*parts: str) -> str:
    """A valid artifact key (lowercase letters, digits, dashes) from free text."""
    key = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return re.sub(r"-{2,}", "-", key) or "prefect-ibmq"


async def publish_job_table(key: str, summary: pd.DataFrame) -> UUID:
    """The per-job timing table (one row per job) as a table artifact."""
    table = summary.reindex(columns=[c for c in _TABLE_COLUMNS if c in summary.columns]).copy()
    if "created" in table:
        table["created"] = table["created"].dt.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    for column in ("validation_s", "queue_s", "run_s", "total_s"):
        if column in table:
            table[column] = table[column].round(3)
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    return await acreate_table_artifact(records, key=key, description="Per-job timings (seconds) and outcome")


def failed_experiments(counts: pd.DataFrame) -> pd.DataFrame:
    """The failed experiments of a counts frame: job_id, experiment, circuit (one row each)."""
    return counts.loc[~counts["success"].astype(bool), ["job_id", "experiment", "circuit"]].drop_duplicates()


def summary_markdown(title: str, summary: pd.DataFrame, failed: pd.DataFrame | None = None) -> str:
    """Jobs by status, the ``failed`` experiments (see ``failed_experiments``), queue/run time median and p95."""
    reused = int(summary["cached"].sum()) if "cached" in summary else 0
    from_cache = f" ({reused} reused from the cache, nothing submitted for them)" if reused else ""
    lines = [f"# {title}", "",
             f"**{len(summary)} jobs**{from_cache}, {int(summary['num_experiments'].sum())} experiments", ""]
    lines += ["| status | jobs |", "| --- | ---: |"]
    lines += [f"| {status} | {n} |" for status, n in summary["status"].astype(str).value_counts().items()]
    lines += ["", "| step | median (s) | p95 (s) | max (s) |", "| --- | ---: | ---: | ---: |"]
    for column, label in (("validation_s", "validation"), ("queue_s", "queue"), ("run_s", "run"), ("total_s", "total")):
        values = summary[column].dropna()
        if len(values):
            lines.append(f"| {label} | {values.median():.3f} | {values.quantile(0.95):.3f} | {values.max():.3f} |")
    if failed is not None:
        lines += ["", f"**Failed experiments: {len(failed)}**"]
        if len(failed):
            lines += ["", "| job | experiment | circuit |", "| --- | ---: | --- |"]
            lines += [f"| {r.job_id} | {r.experiment} | {r.circuit} |" for r in failed.head(50).itertuples()]
            if len(failed) > 50:
                lines.append(f"| ... | {len(failed) - 50} more | |")
    return "\n".join(lines)


async def publish_summary(key: str, title: str, summary: pd.DataFrame, failed: pd.DataFrame | None = None) -> UUID:
    """The markdown summary (with the ``failed`` experiments, if given) as an artifact."""
    return await acreate_markdown_artifact(summary_markdown(title, summary, failed), key=key, description=title)


def percent_done(done: int, total: int) -> float:
    """``done`` of ``total`` as a percentage, at most 100 (a total of 0 is complete: nothing is left to do)."""
    if total <= 0:
        return 100.0
    return 100.0 * min(done, total) / total


class Progress:
    """A progress artifact that follows finished work.

    Each update is a request to the Prefect API (~30 ms), made in the flow's
    event loop; so it is sent at most every ``min_interval`` seconds, and always
    when the work is complete. Make it with :meth:`create`.
    """

    def __init__(self, artifact_id: UUID, total: int, what: str, min_interval: float) -> None:
        self.artifact_id, self.total, self.what, self.min_interval = artifact_id, max(total, 1), what, min_interval
        self._sent_at = time.monotonic()
        # The sweep's jobs update concurrently: without it a 33 % request still in flight
        # could land after the 100 % one. The lock is fair, so requests go in call order.
        self._sending = asyncio.Lock()

    @classmethod
    async def create(cls, key: str, total: int, what: str, min_interval: float = 1.0, done: int = 0) -> Progress:
        """A new progress artifact at ``done`` of ``total``."""
        percent = percent_done(done, total)
        artifact_id = await acreate_progress_artifact(percent, key=key, description=f"{done} of {total} {what} done")
        return cls(artifact_id, total, what, min_interval)

    async def update(self, done: int, total: int | None = None) -> float:
        """Record ``done`` of ``total`` (grown by resubmissions, shrunk by jobs not admitted); the percentage."""
        self.total = self.total if total is None else total
        percent = percent_done(done, self.total)
        description = f"{done} of {self.total} {self.what} done"
        if done >= self.total or time.monotonic() - self._sent_at >= self.min_interval:
            self._sent_at = time.monotonic()
            async with self._sending:
                await aupdate_progress_artifact(self.artifact_id, percent, description=description)
        return percent


def pictures_markdown(title: str, pictures: dict[str, bytes], paths: dict[str, Path] | None = None) -> str:
    """Markdown with each PNG inline as a data URI, under a heading per picture (and its file, if written)."""
    lines = [f"# {title}", ""]
    for name, png in pictures.items():
        lines += [f"## {name.replace('_', ' ')}", ""]
        if paths and name in paths:
            lines += [f"`{paths[name]}`", ""]
        lines += [f"![{name}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})", ""]
    return "\n".join(lines)


async def publish_pictures(key: str, title: str, pictures: dict[str, bytes],
                           paths: dict[str, Path] | None = None) -> UUID:
    """The PNG pictures (name -> bytes) as one markdown artifact that shows them inline."""
    return await acreate_markdown_artifact(pictures_markdown(title, pictures, paths), key=key, description=title)
