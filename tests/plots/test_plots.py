"""prefect_ibmq.plots on real frames: JobRecords with known step times through prefect_ibmq.tables."""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from prefect_ibmq.plots import (
    PHASE_COLORS,
    render_pictures,
    save_pictures,
    step_durations,
    timeline,
    write_pictures,
)
from prefect_ibmq.tables import job_summary_frame, time_per_step_frame
from prefect_ibmq.wire import JobRecord

OWNER = {"user": "alice", "hub": "h1", "group": "g1", "project": "p1"}
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
#: The time axis is in seconds: compare times to 1 ms.
TIME_TOL = 1e-3
PHASES = ["created", "validating", "queued", "running"]

# Offsets (s) from the job's start: a completed job, one failing while running, one cancelled in the queue,
# and one still running (its RUNNING step has no end, so it is not drawn).
COMPLETED = {"CREATING": 0, "CREATED": 0.5, "VALIDATING": 1, "VALIDATED": 1.5, "QUEUED": 2, "RUNNING": 5,
             "COMPLETED": 9}
FAILED = {"CREATING": 0, "CREATED": 0.25, "VALIDATING": 0.5, "VALIDATED": 1, "QUEUED": 1.5, "RUNNING": 3.5,
          "ERROR_RUNNING_JOB": 4.5}
CANCELLED = {"CREATING": 0, "CREATED": 0.5, "VALIDATING": 1, "VALIDATED": 2, "QUEUED": 3, "CANCELLED": 7}
UNFINISHED = {"CREATING": 0, "CREATED": 0.5, "VALIDATING": 1, "VALIDATED": 1.5, "QUEUED": 2, "RUNNING": 4}


def record(job_id: str, start: float, steps: dict[str, float], backend: str = "aer_simulator") -> JobRecord:
    """A JobRecord whose steps are entered ``start + offset`` seconds after T0."""
    times = {step: _iso(start + offset) for step, offset in steps.items()}
    return JobRecord.model_validate({
        "job_id": job_id, "backend": backend, "status": list(steps)[-1], "name": f"sweep_{job_id}_",
        "creation_date": times["CREATING"], "owner": OWNER, "num_experiments": 3, "time_per_step": times,
    })


def _iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _num(seconds: float) -> float:
    """Where ``seconds`` after T0 is on a timeline's axis (its first job is created at T0 in these tests)."""
    return seconds


def _bars(ax) -> dict[str, list]:
    return {container.get_label(): list(container) for container in ax.containers}


def _legend(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _scatter(ax, label: str) -> np.ndarray:
    return np.asarray(next(c for c in ax.collections if c.get_label() == label).get_offsets())


@pytest.fixture
def four_jobs():
    # Given out of creation order: "c" is created first, then "a", "f", "u".
    return [record("a", 10, COMPLETED), record("c", 0, CANCELLED), record("u", 30, UNFINISHED),
            record("f", 20, FAILED, backend="noisy_simulator")]


def test_timeline_one_bar_per_job_and_phase_in_phase_colours(four_jobs):
    fig = timeline(time_per_step_frame(four_jobs))
    (ax,) = fig.axes
    bars = _bars(ax)
    assert list(bars) == PHASES
    # created/validating/queued: every job; running: only the completed and the failed job (unfinished has no end).
    assert {phase: len(rects) for phase, rects in bars.items()} == {
        "created": 4, "validating": 4, "queued": 4, "running": 2}
    for phase, rects in bars.items():
        for rect in rects:
            assert rect.get_facecolor() == pytest.approx(to_rgba(PHASE_COLORS[phase]))
            assert rect.get_linewidth() == 0  # no edges: many thin bars do not turn black
    assert len({to_rgba(color) for color in PHASE_COLORS.values()}) == 4


def test_timeline_rows_sorted_by_creation_and_spans_match_step_times(four_jobs):
    (ax,) = timeline(time_per_step_frame(four_jobs)).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sweep_c_", "sweep_a_", "sweep_f_", "sweep_u_"]
    assert ax.get_ylim() == (3.5, -0.5)  # the first created job on top
    bars = _bars(ax)
    # Job "a" (row 1) is created at 10 s; created phase = CREATING..VALIDATING, queued = QUEUED..RUNNING.
    row1 = {phase: next(r for r in rects if r.get_y() + r.get_height() / 2 == 1) for phase, rects in bars.items()}
    assert row1["created"].get_x() == pytest.approx(_num(10), rel=0, abs=TIME_TOL)
    assert row1["created"].get_width() == pytest.approx(_num(11) - _num(10))
    assert row1["validating"].get_width() == pytest.approx(_num(12) - _num(11))
    assert row1["queued"].get_x() == pytest.approx(_num(12), rel=0, abs=TIME_TOL)
    assert row1["queued"].get_width() == pytest.approx(_num(15) - _num(12))
    assert row1["running"].get_width() == pytest.approx(_num(19) - _num(15))
    # The cancelled job (row 0) never ran: its queued bar ends at CANCELLED.
    queued0 = next(r for r in bars["queued"] if r.get_y() + r.get_height() / 2 == 0)
    assert queued0.get_x() + queued0.get_width() == pytest.approx(_num(7), rel=0, abs=TIME_TOL)


def test_timeline_rows_are_labelled_by_a_label_column_when_the_frame_has_one(four_jobs):
    frame = time_per_step_frame(four_jobs)
    frame["label"] = "job " + frame["job_id"].astype(str) + ": circuits 0-9"  # what a sweep's timings carry
    (ax,) = timeline(frame).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"job {j}: circuits 0-9" for j in "cafu"]


def test_timeline_marks_failed_and_cancelled_ends_and_labels_axes(four_jobs):
    (ax,) = timeline(time_per_step_frame(four_jobs)).axes
    assert _legend(ax) == [*PHASES, "failed", "cancelled"]
    failed, cancelled = _scatter(ax, "failed"), _scatter(ax, "cancelled")
    assert failed[:, 0].tolist() == pytest.approx([_num(24.5)], rel=0, abs=TIME_TOL) and failed[:, 1].tolist() == [2]
    assert cancelled[:, 0].tolist() == pytest.approx([_num(7)], rel=0, abs=TIME_TOL) and cancelled[:, 1].tolist() == [0]
    failed_colour = next(c for c in ax.collections if c.get_label() == "failed").get_facecolor()[0]
    assert failed_colour == pytest.approx(to_rgba("#d62728"))
    assert ax.get_xlabel() == f"seconds since the first job was created ({T0:%Y-%m-%d %H:%M:%S} UTC)"
    assert ax.get_ylabel() == "job, by creation"
    assert ax.get_title() == "Job timeline: 4 jobs on aer_simulator, noisy_simulator"


def test_timeline_without_failures_has_no_end_markers():
    jobs = [record(f"j{i}", i, COMPLETED) for i in range(10)]
    (ax,) = timeline(time_per_step_frame(jobs)).axes
    assert _legend(ax) == PHASES
    assert not [c for c in ax.collections if c.get_label() in ("failed", "cancelled")]
    assert all(len(rects) == 10 for rects in _bars(ax).values())


def test_timeline_of_2000_jobs_bins_rows():
    shapes = [COMPLETED, COMPLETED, FAILED, COMPLETED, CANCELLED]
    jobs = [record(f"j{i:04d}", 0.5 * i, shapes[i % 5]) for i in range(2000)]
    fig = timeline(time_per_step_frame(jobs))
    (ax,) = fig.axes
    bars = _bars(ax)
    assert list(bars) == PHASES
    rows = {r.get_y() + r.get_height() / 2 for rects in bars.values() for r in rects}
    assert rows == set(range(200))  # 10 jobs per row
    assert all(len(rects) == 200 for rects in bars.values())
    assert ax.get_ylim() == (199.5, -0.5)
    assert "10 jobs per row" in ax.get_title() and "2000 jobs" in ax.get_title()
    assert ax.get_ylabel() == "jobs by creation, 10 per row"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) <= 25 and labels[0] == "1-10" and labels[1] == "101-110"
    assert _scatter(ax, "failed").shape == (200, 2) and _scatter(ax, "cancelled").shape == (200, 2)
    # A row shows its jobs' median times: row 0 holds jobs 0..9 created at 0, 0.5, ..., 4.5 s.
    created0 = next(r for r in bars["created"] if r.get_y() + r.get_height() / 2 == 0)
    assert created0.get_x() == pytest.approx(_num(2.25), rel=0, abs=TIME_TOL)
    assert fig.get_size_inches()[1] <= 12


def test_timeline_row_limit_is_a_parameter():
    jobs = [record(f"j{i}", i, COMPLETED) for i in range(21)]
    (ax,) = timeline(time_per_step_frame(jobs), max_rows=10).axes
    rows = {r.get_y() + r.get_height() / 2 for rects in _bars(ax).values() for r in rects}
    assert rows == set(range(7))  # ceil(21 / 10) = 3 jobs per row
    with pytest.raises(ValueError, match="max_rows"):
        timeline(time_per_step_frame(jobs), max_rows=0)


def test_timeline_of_no_jobs_says_so():
    fig = timeline(time_per_step_frame([]))
    assert [t.get_text() for t in fig.axes[0].texts] == ["no job steps to draw"]


def _summary_jobs():
    # aer: queue 3, 4, 8 s (median 4), run 4 s each; noisy: queue 1, 2 s (median 1.5), run 1 and 3 s (median 2).
    aer = [record(f"a{i}", 10 * i, {**COMPLETED, "RUNNING": 2 + q, "COMPLETED": 6 + q})
           for i, q in enumerate((3, 4, 8))]
    noisy = [record(f"n{i}", 10 * i, {**FAILED, "RUNNING": 1.5 + q, "ERROR_RUNNING_JOB": 1.5 + q + r},
                    backend="noisy_simulator") for i, (q, r) in enumerate(((1, 1), (2, 3)))]
    return [*aer, *noisy, record("c", 50, CANCELLED)]  # the cancelled job has neither queue nor run time


def test_step_durations_boxes_per_backend_with_medians():
    summary = job_summary_frame(_summary_jobs())
    fig = step_durations(summary)
    queue_ax, run_ax = fig.axes
    assert (queue_ax.get_title(), run_ax.get_title()) == ("queue time", "run time")
    assert queue_ax.get_ylabel() == run_ax.get_ylabel() == "seconds"
    for ax, color in ((queue_ax, PHASE_COLORS["queued"]), (run_ax, PHASE_COLORS["running"])):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["aer_simulator\n(n=3)", "noisy_simulator\n(n=2)"]
        assert len(ax.patches) == 2  # one box per backend
        assert all(p.get_facecolor()[:3] == pytest.approx(to_rgba(color)[:3]) for p in ax.patches)
    assert [t.get_text() for t in queue_ax.texts] == ["median 4 s", "median 1.5 s"]
    assert [t.get_text() for t in run_ax.texts] == ["median 4 s", "median 2 s"]
    assert [t.xy for t in queue_ax.texts] == [(1, 4.0), (2, 1.5)]  # each label at its median
    assert fig.get_suptitle() == "Queue and run time per backend (6 jobs)"


def test_step_durations_without_times():
    only_cancelled = job_summary_frame([record("c", 0, CANCELLED)])
    queue_ax, run_ax = step_durations(only_cancelled).axes
    assert [t.get_text() for t in queue_ax.texts] == ["no jobs with this step"]
    assert not queue_ax.patches and not run_ax.patches


def test_pictures_are_png_files(tmp_path, four_jobs):
    timings, summary = time_per_step_frame(four_jobs), job_summary_frame(four_jobs)
    pictures = render_pictures(timings, summary)
    assert list(pictures) == ["timeline", "step_durations"]
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pictures.values())
    paths = write_pictures(tmp_path / "a", pictures)
    assert {name: path.read_bytes() for name, path in paths.items()} == pictures
    saved = save_pictures(tmp_path / "b", timings, summary)
    assert sorted(p.name for p in saved.values()) == ["step_durations.png", "timeline.png"]
    assert all(p.stat().st_size > 1000 for p in saved.values())


def test_pictures_markdown_embeds_each_png_as_a_data_uri(tmp_path, four_jobs):
    from prefect_ibmq.flows.artifacts import pictures_markdown

    pictures = render_pictures(time_per_step_frame(four_jobs), job_summary_frame(four_jobs))
    text = pictures_markdown("Sweep x", pictures, {"timeline": tmp_path / "timeline.png"})
    assert text.startswith("# Sweep x\n")
    assert f"`{tmp_path / 'timeline.png'}`" in text
    for name, png in pictures.items():
        uri = f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})"
        assert uri in text


def test_plots_import_neither_prefect_nor_pyplot():
    code = ("import sys, matplotlib; backend = matplotlib.rcParams._get_backend_or_none(); "
            "import prefect_ibmq.plots; "
            "bad = [m for m in ('prefect', 'matplotlib.pyplot') if m in sys.modules]; "
            "assert not bad, bad; assert matplotlib.rcParams._get_backend_or_none() == backend")
    subprocess.run([sys.executable, "-c", code], check=True)
