"""From what the runner did to a sweep's tables, its closing log line, and ``SweepError`` when jobs did not end."""

from __future__ import annotations

import pandas as pd
from prefect import get_run_logger

from prefect_ibmq.flows.jobset.chunks import SweepError
from prefect_ibmq.flows.jobset.publish import SweepTables
from prefect_ibmq.flows.jobset.runner import JobSetOutcome
from prefect_ibmq.tables import job_summary_frame, time_per_step_frame


def sweep_tables(sweep_id: str, title: str, outcome: JobSetOutcome) -> SweepTables:
    """The timings, the summary (``success_count``, ``cached``, ``label``, ``session_id``, ``quantum_s``), the failures.

    Jobs in creation order, not in the order results arrived: the same jobs make the same
    tables (and so the same, cached, pictures).
    """
    outcome.records.sort(key=lambda record: (record.creation_date, record.job_id))
    summary = job_summary_frame(outcome.records)
    summary["success_count"] = pd.array(summary["job_id"].map(outcome.success_counts), dtype="Int64")
    summary["cached"] = summary["job_id"].isin(outcome.cached_job_ids)
    summary["label"] = summary["job_id"].map(outcome.labels).astype("str")
    # The batch or session each job ran in (a sweep whose batch expired has several).
    summary["session_id"] = pd.array([record.session_id for record in outcome.records], dtype="str")
    summary["quantum_s"] = summary["job_id"].map(outcome.quantum_seconds).astype("float64")
    timings = time_per_step_frame(outcome.records)
    timings["label"] = timings["job_id"].map(outcome.labels).astype("str")
    return SweepTables(sweep_id, title, timings, summary, outcome.failed_experiments())


def close_sweep(what: str, sweep_id: str, outcome: JobSetOutcome) -> None:
    """Log what the sweep did.

    Raises:
        SweepError: If some jobs did not end (their task runs failed): rerun with the same sweep id.
    """
    get_run_logger().info(
        "%s %s done: %d jobs (%d submitted now, %d reused, %d from the cache), %d circuits without a successful "
        "result", what, sweep_id, len(outcome.records), outcome.submitted, outcome.reused,
        len(outcome.cached_job_ids), len(outcome.failed_items),
    )
    if outcome.not_run:
        get_run_logger().warning(
            "%s %s: %d jobs (%d circuits) not submitted, to stay within the quantum-seconds budget (%.3f s used by "
            "this run's jobs): %s; rerun with sweep_id=%r and a larger max_quantum_seconds to run them",
            what, sweep_id, len(outcome.not_run_labels), len(outcome.not_run), sum(outcome.quantum_seconds.values()),
            "; ".join(outcome.not_run_labels[:5]), sweep_id)
    if outcome.errors:
        raise SweepError(
            f"{what.lower()} {sweep_id}: {len(outcome.errors)} jobs did not finish "
            f"({'; '.join(outcome.errors[:5])}); rerun with sweep_id={sweep_id!r} to pick up where this run stopped"
        )
