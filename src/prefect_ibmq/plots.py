"""Pictures of a sweep's timings: a Gantt chart of jobs and the spread of queue and run times.

Pure matplotlib (no Prefect, no pyplot): every function builds a
:class:`matplotlib.figure.Figure` directly, so nothing global changes (no backend
switch, no figure registry); ``Figure.savefig`` renders PNG with Agg.

- :func:`timeline` takes :func:`prefect_ibmq.tables.time_per_step_frame` output.
- :func:`step_durations` takes :func:`prefect_ibmq.tables.job_summary_frame` output.
- :func:`render_pictures` renders both as PNG bytes, :func:`write_pictures` writes those
  into a folder, :func:`save_pictures` does both.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from prefect_ibmq.arguments import check_int

#: Lifecycle phases drawn by :func:`timeline`, in order, with the steps they cover and their colour.
PHASES: dict[str, tuple[str, ...]] = {
    "created": ("CREATING", "CREATED"),
    "validating": ("VALIDATING", "VALIDATED"),
    "queued": ("QUEUED",),
    "running": ("RUNNING",),
}
PHASE_COLORS: dict[str, str] = {
    "created": "#a0cbe8",
    "validating": "#f28e2b",
    "queued": "#4e79a7",
    "running": "#59a14f",
}
#: How a job's end is marked: final steps -> (legend label, colour, marker). COMPLETED is not marked.
END_MARKERS: dict[str, tuple[str, str, str]] = {
    "ERROR_CREATING_JOB": ("failed", "#d62728", "X"),
    "ERROR_VALIDATING_JOB": ("failed", "#d62728", "X"),
    "ERROR_RUNNING_JOB": ("failed", "#d62728", "X"),
    "CANCELLED": ("cancelled", "#4d4d4d", "s"),
}
#: At most this many rows in :func:`timeline` by default; more jobs are binned.
MAX_ROWS = 200
#: Rows labelled by job name up to this many rows; beyond it by position.
_NAMED_ROWS = 40
_STEP_PHASE = {step: phase for phase, steps in PHASES.items() for step in steps}


def timeline(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> Figure:
    """A Gantt chart of jobs: one row per job (sorted by creation) against seconds since the first was created.

    ``frame`` is :func:`~prefect_ibmq.tables.time_per_step_frame` output; its rows are
    labelled by a ``label`` column when it has one (a sweep's: ``job 3: circuits 900-1199``),
    else by job name (or id). Each lifecycle
    phase (created, validating, queued, running) is one colour: one ``barh`` call per
    phase, so ``ax.containers`` holds one BarContainer per phase, labelled by the phase.
    Jobs that ended failed (``ERROR_*``) get a red X at their end, cancelled ones a grey
    square. A job's last step without a known end (an unfinished job) is not drawn.

    With more than ``max_rows`` jobs, consecutive jobs (in creation order) are binned,
    ``k`` per row, so the rows stay at most ``max_rows``: a row then shows its jobs'
    median phase start and end, and is marked failed/cancelled when any of its jobs is.
    """
    check_int("max_rows", max_rows, 1)
    spans = _phase_spans(frame)
    if spans.empty:
        return _nothing_to_draw("Job timeline", "no job steps to draw")
    rows = _timeline_rows(spans, max_rows)
    fig = Figure()
    fig.set_size_inches(11, min(2.2 + 0.28 * rows.n_rows, 12.0))
    labels_width = _row_labels_inches(rows.jobs, rows.n_rows, rows.per_row)
    _margins(fig, left=0.45 + labels_width, right=1.35, top=0.45, bottom=0.75)
    ax = fig.add_subplot()
    handles = _draw_phases(ax, rows) + _draw_ends(ax, rows)
    _label_timeline(ax, rows, handles)
    return fig


@dataclass(frozen=True)
class _TimelineRows:
    """What :func:`timeline` draws: jobs in rows (``per_row`` jobs each), phase bars and end markers per row."""

    #: One row per job (index job_id): created, end, name, outcome, row; sorted by creation.
    jobs: pd.DataFrame
    #: row, phase, start, end: one bar each.
    bars: pd.DataFrame
    #: row, end, outcome: one marker each (jobs that ended failed or cancelled).
    ends: pd.DataFrame
    per_row: int
    n_rows: int
    backends: str
    #: When the first job was created: the time axis counts seconds from it.
    origin: pd.Timestamp


def _timeline_rows(spans: pd.DataFrame, max_rows: int) -> _TimelineRows:
    """Jobs by creation into at most ``max_rows`` rows; a row of several jobs shows their median times."""
    jobs = spans.groupby("job_id", sort=False).agg(created=("start", "min"), end=("end", "max"),
                                                    name=("name", "first"), outcome=("outcome", "first"))
    jobs = jobs.sort_values("created", kind="stable")
    per_row = max(1, math.ceil(len(jobs) / max_rows))
    jobs["row"] = np.arange(len(jobs)) // per_row
    spans = spans.join(jobs["row"], on="job_id")
    if per_row == 1:
        bars, ends = spans, jobs[["row", "end", "outcome"]]
    else:  # median start/end of each phase over the jobs of a row; a row's outcome marks any of its jobs
        bars = spans.groupby(["row", "phase"], observed=True).agg(start=("start", "median"), end=("end", "median"))
        bars = bars.reset_index()
        ends = jobs[jobs["outcome"] != ""].groupby(["row", "outcome"]).agg(end=("end", "median")).reset_index()
    backends = ", ".join(sorted(spans["backend"].dropna().astype(str).unique()))
    return _TimelineRows(jobs, bars, ends, per_row, int(jobs["row"].iloc[-1]) + 1, backends, jobs["created"].iloc[0])


def _axis_seconds(times: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    """Seconds from ``origin``: what the time axis shows (a sweep is read in seconds, not dates)."""
    return ((times - origin).dt.total_seconds()).to_numpy()


def _draw_phases(ax: Axes, rows: _TimelineRows) -> list[Artist]:
    """One ``barh`` call per phase (so ``ax.containers`` holds one per phase); their legend handles."""
    height = 0.8 if rows.n_rows <= 400 else 1.0
    handles: list[Artist] = []
    for phase, color in PHASE_COLORS.items():
        part = rows.bars[rows.bars["phase"] == phase]
        left, right = _axis_seconds(part["start"], rows.origin), _axis_seconds(part["end"], rows.origin)
        ax.barh(part["row"].to_numpy(), right - left, left=left, height=height, color=color,
                linewidth=0, label=phase)
        handles.append(Patch(facecolor=color, label=phase))
    return handles


def _draw_ends(ax: Axes, rows: _TimelineRows) -> list[Artist]:
    """A marker at the end of each failed or cancelled job (or row); their legend handles."""
    handles: list[Artist] = []
    for label in ("failed", "cancelled"):
        color, marker = next((c, m) for lab, c, m in END_MARKERS.values() if lab == label)
        part = rows.ends[rows.ends["outcome"] == label]
        if len(part):
            x = _axis_seconds(part["end"], rows.origin)
            ax.scatter(x, part["row"].to_numpy(), marker=marker, s=36 if rows.n_rows <= 60 else 14, color=color,
                       zorder=3, label=label, linewidths=0)
            handles.append(Line2D([], [], linestyle="", marker=marker, color=color, label=label))
    return handles


def _label_timeline(ax: Axes, rows: _TimelineRows, handles: list[Artist]) -> None:
    """Row labels (first created on top), a time axis in seconds from the first job, the legend and the title."""
    ax.set_ylim(rows.n_rows - 0.5, -0.5)
    _row_ticks(ax, _row_labels(rows.jobs, rows.n_rows, rows.per_row), rows.n_rows)
    ax.set_xlabel(f"seconds since the first job was created ({rows.origin:%Y-%m-%d %H:%M:%S} UTC)")
    ax.set_ylabel("job, by creation" if rows.per_row == 1 else f"jobs by creation, {rows.per_row} per row")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="phase")
    binned = "" if rows.per_row == 1 else f" ({rows.per_row} jobs per row, median times)"
    # y given: matplotlib then skips measuring every tick label to lift the title above them (none are on top).
    ax.set_title(f"Job timeline: {len(rows.jobs)} jobs on {rows.backends}{binned}", y=1.0)


def _nothing_to_draw(title: str, message: str) -> Figure:
    fig = Figure()
    fig.set_size_inches(8, 2.5)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    return fig


def step_durations(frame: pd.DataFrame) -> Figure:
    r"""Queue time and run time per backend as box plots, each median written beside its box.

    ``frame`` is :func:`~prefect_ibmq.tables.job_summary_frame` output (``backend``,
    ``queue_s``, ``run_s``). Two axes, "queue time" and "run time", each with its own
    seconds scale and one box per backend that has such times (tick label
    ``<backend>\\n(n=<jobs>)``); the median text is ``"median <value> s"``.
    """
    fig = Figure()
    backends = sorted(frame["backend"].dropna().astype(str).unique()) if len(frame) else []
    fig.set_size_inches(max(7.0, 2.0 + 2.2 * len(backends)), 4.5)
    _margins(fig, left=0.75, right=0.2, top=0.65, bottom=0.55, between=0.85)
    axes = fig.subplots(1, 2, squeeze=True)
    for ax, (column, title, color) in zip(axes, (("queue_s", "queue time", PHASE_COLORS["queued"]),
                                                 ("run_s", "run time", PHASE_COLORS["running"])), strict=False):
        data, labels = [], []
        for backend in backends:
            values = frame.loc[frame["backend"].astype(str) == backend, column].dropna().to_numpy(float)
            if len(values):
                data.append(values)
                labels.append(f"{backend}\n(n={len(values)})")
        ax.set_title(title, y=1.0)  # y given: no measuring of tick labels (see timeline)
        ax.set_ylabel("seconds")
        if not data:
            ax.text(0.5, 0.5, "no jobs with this step", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            continue
        box = ax.boxplot(data, tick_labels=labels, patch_artist=True, widths=0.5,
                         medianprops={"color": "black", "linewidth": 1.5},
                         flierprops={"marker": ".", "markersize": 3, "alpha": 0.5})
        for patch in box["boxes"]:
            patch.set_facecolor(color)
            patch.set_alpha(0.75)
        for i, values in enumerate(data, start=1):
            median = float(np.median(values))
            ax.annotate(f"median {_seconds(median)} s", (i, median), xytext=(0, 3), textcoords="offset points",
                        va="bottom", ha="center", fontsize=8,
                        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.8, "linewidth": 0})
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Queue and run time per backend ({len(frame)} jobs)")
    return fig


def render_pictures(timings: pd.DataFrame, summary: pd.DataFrame, dpi: int = 100) -> dict[str, bytes]:
    """Both pictures as PNG bytes: ``{"timeline": ..., "step_durations": ...}``."""
    pictures = {}
    for name, fig in (("timeline", timeline(timings)), ("step_durations", step_durations(summary))):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        pictures[name] = buffer.getvalue()
    return pictures


def write_pictures(output_dir: str | Path, pictures: dict[str, bytes]) -> dict[str, Path]:
    """Write each PNG of :func:`render_pictures` as ``<name>.png`` in ``output_dir``; returns the paths."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, png in pictures.items():
        paths[name] = folder / f"{name}.png"
        paths[name].write_bytes(png)
    return paths


def save_pictures(output_dir: str | Path, timings: pd.DataFrame, summary: pd.DataFrame,
                  dpi: int = 100) -> dict[str, Path]:
    """Write ``timeline.png`` (from ``timings``) and ``step_durations.png`` (from ``summary``).

    Returns ``{"timeline": path, "step_durations": path}``.
    """
    return write_pictures(output_dir, render_pictures(timings, summary, dpi=dpi))


# --- helpers ------------------------------------------------------------------


def _phase_spans(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per job and phase: start, end (UTC), plus the job's name, backend and outcome."""
    columns = ["job_id", "name", "backend", "phase", "start", "end", "outcome"]
    if frame is None or not len(frame):
        return pd.DataFrame(columns=columns)
    steps = frame["step"].astype(str)
    outcome = pd.Series("", index=frame.index, dtype=object)
    for step, (label, _, _) in END_MARKERS.items():
        outcome[steps == step] = label
    job_outcome = outcome.groupby(frame["job_id"], sort=False).agg(lambda s: next((v for v in s if v), ""))
    rows = pd.DataFrame({
        "job_id": frame["job_id"],
        # What a row is called: the frame's label (a sweep's "job 3: circuits 900-1199"), else the job's name.
        "name": frame["label"] if "label" in frame else frame["name"],
        "backend": frame["backend"],
        "phase": steps.map(_STEP_PHASE),
        "start": frame["entered_at"],
        "end": frame["entered_at"] + pd.to_timedelta(frame["duration_s"], unit="s"),
    })
    rows = rows.dropna(subset=["phase", "start", "end"])
    if rows.empty:
        return pd.DataFrame(columns=columns)
    spans = rows.groupby(["job_id", "phase"], sort=False).agg(
        name=("name", "first"), backend=("backend", "first"), start=("start", "min"), end=("end", "max"))
    spans = spans.reset_index()
    spans["outcome"] = spans["job_id"].map(job_outcome).fillna("")
    return spans[columns]


def _row_labels(jobs: pd.DataFrame, n_rows: int, per_row: int) -> dict[int, str]:
    """Row -> tick label: job names (few rows) or job positions (many rows or bins)."""
    if per_row == 1 and n_rows <= _NAMED_ROWS:
        names = jobs["name"].astype(object).where(jobs["name"].notna(), None)
        labels = [f"{n or j}" if len(f"{n or j}") <= 28 else f"{n or j}"[:27] + "…"
                  for n, j in zip(names, jobs.index, strict=False)]
        return dict(enumerate(labels))
    step = max(1, math.ceil(n_rows / 20))
    n_jobs = len(jobs)
    return {r: f"{r * per_row + 1}" if per_row == 1 else f"{r * per_row + 1}-{min((r + 1) * per_row, n_jobs)}"
            for r in range(0, n_rows, step)}


def _row_ticks(ax: Axes, labels: dict[int, str], n_rows: int) -> None:
    ax.set_yticks(list(labels), list(labels.values()), fontsize=_row_font_size(labels, n_rows))


def _row_font_size(labels: dict[int, str], n_rows: int) -> int:
    named = len(labels) == n_rows and n_rows <= _NAMED_ROWS
    return 9 if named and n_rows <= 15 else 8


def _row_labels_inches(jobs: pd.DataFrame, n_rows: int, per_row: int) -> float:
    """A generous width of the widest row label (0.62 em per character), so the fixed margin never clips it."""
    labels = _row_labels(jobs, n_rows, per_row)
    widest = max((len(label) for label in labels.values()), default=1)
    return widest * 0.62 * _row_font_size(labels, n_rows) / 72


def _margins(fig: Figure, left: float, right: float, top: float, bottom: float, between: float = 0.0) -> None:
    """Fixed margins in inches (instead of a layout engine, which draws every text once more to measure it)."""
    width, height = fig.get_size_inches()
    axes_width = (width - left - right - between) / 2  # each of two axes side by side
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height, wspace=between / axes_width)


def _seconds(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
