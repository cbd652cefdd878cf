"""Figure 4: building the tables, against a naive row-by-row construction of the same frame.

- ``time_per_step_frame`` for 100,000 jobs (JobRecord-shaped dicts, 7 steps each): target <= 0.5 s.
- ``counts_frame`` for 100,000 experiments (qiskit ``Result`` objects, 100 experiments
  each, 2-5 qubit circuits with noisy-looking counts): target <= 2 s.

The baseline is what a user writes without thinking about it: one dict per row
(parsing each time, or calling ``Result.get_counts`` per experiment), then
``pd.DataFrame(rows)``. Both are measured in the same run and alike (a warm-up run,
then the best of ``repeat``); the fast frame is checked to equal the baseline's before
anything is timed.

Run ``python -m benchmarks.tables``; ``run()`` returns the figures as dicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from qiskit.result import Result

from prefect_ibmq.tables import STEP_DTYPE, counts_frame, time_per_step_frame

LIFECYCLE = ("CREATING", "CREATED", "VALIDATING", "VALIDATED", "QUEUED", "RUNNING", "COMPLETED")


def make_jobs(n_jobs: int, seed: int = 0) -> list[dict[str, Any]]:
    """JobRecord-shaped dicts (as ``GET /v1/jobs`` sends them) with 7 timed steps each."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    gaps = rng.exponential(0.5, size=(n_jobs, len(LIFECYCLE)))
    gaps[:, 0] = np.arange(n_jobs) * 0.01
    offsets = np.cumsum(gaps, axis=1)
    jobs = []
    for i in range(n_jobs):
        stamps = [(start + timedelta(seconds=float(s))).isoformat() for s in offsets[i]]
        jobs.append(
            {
                "job_id": f"job-{i:08d}",
                "backend": "aer_simulator",
                "status": "COMPLETED",
                "creation_date": stamps[0],
                "name": f"sweep_{i // 100}_",
                "tags": ["ibmq_jobset_bench", "bench"],
                "owner": {"user": "u", "hub": "h", "group": "g", "project": "p"},
                "num_experiments": 100,
                "time_per_step": dict(zip(LIFECYCLE, stamps, strict=False)),
            }
        )
    return jobs


def make_results(n_experiments: int, per_job: int = 100, seed: int = 0) -> list[Result]:
    """Result objects (via ``Result.from_dict``) of GHZ-like 2-5 qubit experiments, 1,024 shots."""
    rng = np.random.default_rng(seed)
    results = []
    for j in range(0, n_experiments, per_job):
        experiments = []
        for i in range(min(per_job, n_experiments - j)):
            width = int(rng.integers(2, 6))
            outcomes = rng.choice(2**width, size=int(rng.integers(2, 2**width + 1)), replace=False)
            counts = rng.multinomial(1024, np.full(len(outcomes), 1 / len(outcomes)))
            experiments.append(
                {
                    "shots": 1024,
                    "success": True,
                    "data": {"counts": {hex(int(o)): int(c) for o, c in zip(outcomes, counts, strict=False) if c}},
                    "header": {
                        "name": f"ghz{width}_{j + i}",
                        "memory_slots": width,
                        "creg_sizes": [["meas", width]],
                    },
                }
            )
        results.append(
            Result.from_dict(
                {
                    "backend_name": "aer_simulator",
                    "backend_version": "0.18.2",
                    "job_id": f"job-{j // per_job:08d}",
                    "success": True,
                    "results": experiments,
                }
            )
        )
    return results


def naive_time_per_step(jobs: list[dict[str, Any]]) -> pd.DataFrame:
    """Row by row: parse each step's time and its successor's, one dict per row."""
    rows = []
    for job in jobs:
        steps = list(job["time_per_step"].items())
        for k, (step, when) in enumerate(steps):
            entered = pd.Timestamp(when)
            if k + 1 < len(steps):
                duration = (pd.Timestamp(steps[k + 1][1]) - entered).total_seconds()
            else:
                duration = float("nan")
            rows.append(
                {
                    "job_id": job["job_id"],
                    "backend": job["backend"],
                    "name": job.get("name"),
                    "tags": list(job.get("tags") or ()),
                    "step": step,
                    "entered_at": entered,
                    "duration_s": duration,
                }
            )
    frame = pd.DataFrame(rows)
    frame["step"] = frame["step"].astype(STEP_DTYPE)
    frame["entered_at"] = pd.to_datetime(frame["entered_at"], utc=True).dt.as_unit("us")
    return frame


def naive_counts(results: list[Result]) -> pd.DataFrame:
    """Row by row: ``get_counts(i)`` per experiment, one dict per outcome."""
    rows = []
    for result in results:
        for i, exp in enumerate(result.results):
            base = {"job_id": result.job_id, "experiment": i, "circuit": exp.header.get("name")}
            if not exp.success:
                rows.append({**base, "bitstring": None, "count": None, "probability": None, "success": False})
                continue
            for bitstring, count in result.get_counts(i).items():
                rows.append(
                    {**base, "bitstring": bitstring, "count": count,
                     "probability": count / exp.shots, "success": True}
                )
    frame = pd.DataFrame(rows)
    frame["count"] = frame["count"].astype("Int64")
    return frame


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _figure(name: str, fast: Callable[[], Any], naive: Callable[[], Any], target_s: float,
            repeat: int) -> dict[str, Any]:
    """Both ways measured alike: each warmed up by one full run, then the best of ``repeat``."""
    fast()
    naive()
    value = _best(fast, repeat)
    baseline = _best(naive, repeat)
    return {
        "name": name,
        "value_s": round(value, 4),
        "baseline_s": round(baseline, 4),
        "ratio": round(value / baseline, 4),
        "target": f"<= {target_s} s",
        "unit": "s",
        "met": value <= target_s,
    }


def run(n_jobs: int = 100_000, n_experiments: int = 100_000, repeat: int = 3) -> list[dict[str, Any]]:
    """Measure figure 4 (both tables) and return one dict per figure."""
    jobs = make_jobs(n_jobs)
    pd.testing.assert_frame_equal(time_per_step_frame(jobs[:500]), naive_time_per_step(jobs[:500]))
    results = make_results(n_experiments)
    pd.testing.assert_frame_equal(counts_frame(results[:5]), naive_counts(results[:5]))
    return [
        _figure(f"tables: time_per_step_frame, {n_jobs:,} jobs",
                lambda: time_per_step_frame(jobs), lambda: naive_time_per_step(jobs), 0.5, repeat),
        _figure(f"tables: counts_frame, {n_experiments:,} experiments",
                lambda: counts_frame(results), lambda: naive_counts(results), 2.0, repeat),
    ]


def main() -> None:
    figures = run()
    print(f"{'figure':<46} {'value s':>9} {'baseline s':>11} {'ratio':>7}  target")
    for f in figures:
        print(f"{f['name']:<46} {f['value_s']:>9.3f} {f['baseline_s']:>11.3f} {f['ratio']:>7.3f}  "
              f"{f['target']} {'ok' if f['value_s'] <= float(f['target'].split()[1]) else 'MISSED'}")


if __name__ == "__main__":
    main()
