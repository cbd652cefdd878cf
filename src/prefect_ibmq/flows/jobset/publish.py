"""What a finished sweep leaves behind: its tables in ``output_dir``, its artifacts and its pictures.

Every kind of sweep publishes the same: a per-job timing table, a markdown summary,
the progress (created complete when no job had to run) and the two pictures; its
own table (counts, expectation values) rides along as ``frames`` and ``artifacts``.

The pictures (~0.2 s of matplotlib) are drawn in a worker thread while the tables
are written and published, so their cost overlaps that I/O. With the result cache
on, the pictures are cached too, under a digest of what they show: a rerun whose
jobs all came from the cache shows the same jobs, so it reads the pictures back
instead of drawing them, and does not publish them again (the log names the
artifact that shows them).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
from prefect import get_run_logger
from prefect.utilities.annotations import quote

from prefect_ibmq.flows.artifacts import Progress, artifact_key, publish_job_table, publish_pictures, publish_summary
from prefect_ibmq.flows.outputs import write_frames
from prefect_ibmq.flows.result_cache import read_cached
from prefect_ibmq.plots import render_pictures, write_pictures
from prefect_ibmq.syncable import io_task


@dataclass(frozen=True)
class SweepTables:
    """The small tables of a finished sweep (the counts are in their own file)."""

    sweep_id: str
    #: The summary's heading, e.g. ``Sweep s1 on aer_simulator``.
    title: str
    timings: pd.DataFrame
    summary: pd.DataFrame
    failed: pd.DataFrame


@dataclass(frozen=True)
class StoredPictures:
    """Pictures as PNG bytes (name -> bytes) and the artifact key they were first published under."""

    pictures: dict[str, bytes]
    artifact: str


async def publish_sweep(tables: SweepTables, output_dir: str | None, cache: bool,
                        progress: Awaitable[Progress | None], n_jobs: int,
                        frames: dict[str, pd.DataFrame] | None = None,
                        artifacts: Sequence[Awaitable[Any]] = ()) -> dict[str, Path]:
    """Write the timings, summary and ``frames`` (and pictures) to ``output_dir`` and publish them; the files.

    ``progress``: gives the sweep's progress artifact once complete, or None when no job had to
    run (all cached): it is then created complete. Awaited alongside the other artifacts (and
    ``artifacts``, the kind's own) while the pictures are drawn.
    """
    key = artifact_key(tables.sweep_id, "pictures")
    drawing = asyncio.ensure_future(_pictures(tables, key, cache))
    outputs: dict[str, Path] = {}
    if output_dir:
        outputs = await anyio.to_thread.run_sync(
            lambda: write_frames(Path(output_dir), **(frames or {}), timings=tables.timings, summary=tables.summary)
        )
    calls: list[Awaitable[Any]] = [
        publish_job_table(artifact_key(tables.sweep_id, "timings"), tables.summary),
        publish_summary(artifact_key(tables.sweep_id, "summary"), tables.title, tables.summary, tables.failed),
        *artifacts,
        _complete(progress, artifact_key(tables.sweep_id, "progress"), n_jobs),
    ]
    await asyncio.gather(*calls)  # Prefect API calls at once
    try:  # pictures are a view of the tables above: a plotting error must not lose the sweep
        stored = await drawing
        paths = write_pictures(Path(output_dir), stored.pictures) if output_dir else {}
        outputs.update(paths)
        if stored.artifact == key:
            await publish_pictures(key, f"Sweep {tables.sweep_id}: job timeline and step durations",
                                   stored.pictures, paths)
        else:
            get_run_logger().info("Sweep %s: the same jobs as before, so the same pictures (shown in artifact %s)",
                                  tables.sweep_id, stored.artifact)
    except Exception:
        get_run_logger().warning("Sweep %s: could not draw or publish the pictures", tables.sweep_id, exc_info=True)
    return outputs


async def _complete(progress: Awaitable[Progress | None], key: str, n_jobs: int) -> None:
    """The progress artifact complete: the sweep's, or a new one when no job ran."""
    if await progress is None:
        await Progress.create(key, n_jobs, "jobs", done=n_jobs)


async def _pictures(tables: SweepTables, key: str, cache: bool) -> StoredPictures:
    """The pictures: drawn in a worker thread, or with ``cache`` read back when the same jobs were drawn before."""
    if not cache:
        return StoredPictures(await anyio.to_thread.run_sync(render_pictures, tables.timings, tables.summary), key)
    digest = _frames_digest(tables.timings, tables.summary)
    stored = await read_cached(draw_pictures, [_pictures_cache_key(digest)])
    if stored:
        return next(iter(stored.values()))
    return await draw_pictures(quote(tables.timings), quote(tables.summary), digest, key)


def _frames_digest(timings: pd.DataFrame, summary: pd.DataFrame) -> str:
    """A digest of what the pictures show: the jobs' step times, and queue and run time per backend."""
    digest = hashlib.sha256()
    for frame in (timings.drop(columns=["tags"], errors="ignore"), summary[["backend", "queue_s", "run_s"]]):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _pictures_cache_key(digest: str) -> str:
    return f"prefect-ibmq-pictures-v2-{digest}"


def _key_of_pictures(context: Any, parameters: dict[str, Any]) -> str:
    return _pictures_cache_key(parameters["digest"])


@io_task(task_run_name="draw-pictures", persist_result=True, cache_key_fn=_key_of_pictures)
async def draw_pictures(timings: pd.DataFrame, summary: pd.DataFrame, digest: str, artifact: str) -> StoredPictures:
    """The sweep's pictures as PNG bytes, stored by Prefect under ``digest`` (see ``_frames_digest``).

    Args:
        timings: ``time_per_step_frame`` of the sweep's jobs.
        summary: ``job_summary_frame`` of the sweep's jobs.
        digest: What the pictures show (the cache key is made from it).
        artifact: The artifact key they are published under.

    Returns:
        The pictures and ``artifact``.
    """
    return StoredPictures(await anyio.to_thread.run_sync(render_pictures, timings, summary), artifact)
