"""``estimator_sweep``: circuits x observables x parameter sets -> a table of expectation values.

On platforms that run the estimator program (IBM Quantum Platform). Each circuit
becomes one EstimatorV2 PUB: every observable, at every parameter set (observables
along the first axis, parameter sets along the second). The PUBs run as a job set
on the same engine as ``circuit_sweep`` (:mod:`prefect_ibmq.flows.jobset`): jobs of at
most the backend's ``max_experiments`` PUBs (``max_experiments_per_job``), in one batch
by default, at most ``max_jobs_in_flight`` at once, tagged ``ibmq_jobset_<sweep_id>``
and named ``<sweep_id>_<index>_``, so a rerun with the same sweep id reuses the jobs
that exist; ``cache_results`` reuses stored jobs of the same PUBs. IBM keeps no
partial results: a failed job's PUBs are resubmitted whole, ``resubmit_failed``
times at most.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger
from prefect.artifacts import acreate_table_artifact
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from prefect_ibmq.arguments import check_int
from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.flows.artifacts import artifact_key
from prefect_ibmq.flows.circuits_flow import circuits_flow
from prefect_ibmq.flows.jobset import (
    JobSetOptions,
    JobSetRunner,
    checked_sweep_id,
    existing_jobs,
    first_round,
    items_per_job,
    jobset_tag,
)
from prefect_ibmq.flows.jobset.budget import quantum_budget
from prefect_ibmq.flows.jobset.expectations import ExpectationsKind
from prefect_ibmq.flows.jobset.progress import SweepProgress
from prefect_ibmq.flows.jobset.publish import publish_sweep
from prefect_ibmq.flows.jobset.report import close_sweep, sweep_tables
from prefect_ibmq.flows.sessions import execution_mode
from prefect_ibmq.platforms import resolve_platform

#: Rows of the expectation-values table artifact (the whole table goes to ``output_dir``).
MAX_ARTIFACT_ROWS = 500


@dataclass
class EstimatorSweepReport:
    """What ``estimator_sweep`` returns: its jobs, what this run submitted, and the tables."""

    sweep_id: str
    job_ids: list[str]
    submitted: int
    reused: int
    timings: pd.DataFrame
    summary: pd.DataFrame
    expectations: pd.DataFrame
    failed_circuits: list[int]
    outputs: dict[str, Path] = field(default_factory=dict)
    #: Circuits not submitted to stay within ``max_quantum_seconds`` (rerun with the same sweep id to run them).
    not_run_circuits: list[int] = field(default_factory=list)
    #: Quantum seconds this run's jobs used (the summary's ``quantum_s``, summed).
    quantum_seconds: float = 0.0


@circuits_flow(name="estimator-sweep")
async def estimator_sweep(
    circuits: list[Any] | str,
    observables: list[Any],
    service: IBMQuantumPlatformCredentials,
    parameter_values: list[list[float]] | None = None,
    backend_name: str = "aer_simulator",
    precision: float | None = None,
    optimization_level: int | None = 1,
    max_experiments_per_job: int | None = None,
    max_jobs_in_flight: int = 4,
    sweep_id: str | None = None,
    resubmit_failed: int = 1,
    timeout: float | None = None,
    output_dir: str | None = None,
    job_tags: list[str] | None = None,
    mode: str | None = None,
    cache_results: bool = False,
    max_pubs_per_job: int | None = None,
    max_time: int | None = None,
    max_quantum_seconds: float | None = None,
    program: str = "estimator",
) -> EstimatorSweepReport:
    """Estimate every observable on every circuit at every parameter set; a rerun with the same id resumes.

    Args:
        circuits: QuantumCircuits, OpenQASM 2/3 texts, or paths/globs of .qasm files (final
            measurements are removed: the estimator measures the observables itself).
        observables: Pauli labels (``"ZZ"``) or ``SparsePauliOp``, each on as many qubits as every circuit.
        service: IBM Quantum Platform credentials (the estimator is a Qiskit Runtime program).
        parameter_values: Parameter sets bound to every circuit that has parameters
            (required then; ignored for circuits without parameters).
        backend_name: The backend every job runs on.
        precision: The estimator's target precision (its default when None).
        optimization_level: Level of the preset pass manager mapping circuits to the backend's ISA.
        max_experiments_per_job: Circuits (PUBs) per job (default and ceiling: the backend's max_experiments).
        max_jobs_in_flight: Jobs between submission and fetched result at once.
        sweep_id: Names the job set; reuse it to pick up the jobs of an earlier run (a new id when None).
        resubmit_failed: Rounds of resubmitting the circuits of failed jobs.
        timeout: Seconds each job may take to reach a final state (then it is cancelled).
        job_tags: Tags every job carries besides the sweep's ``ibmq_jobset_<sweep_id>``.
        output_dir: Where the expectations, timings and summary tables and the pictures are written.
        mode: ``batch`` (default), ``session`` or ``job``.
        cache_results: Reuse the stored values of a job with the same PUBs, precision and optimization
            level on the same backend and platform, instead of submitting it again.
        max_pubs_per_job: Deprecated name of ``max_experiments_per_job``.
        max_time: The batch's (or session's) maximum time to live in seconds (IBM's ``max_time``; the
            plan's default, 8 h, when None). Jobs still queued when it ends, and jobs submitted after,
            go to a new batch with the same idempotency keys: none is lost or run twice.
        max_quantum_seconds: Stop submitting before the jobs' quantum seconds would exceed this, or the
            instance's ``usage_remaining_seconds`` if fewer; the circuits not submitted are logged and
            in ``not_run_circuits``. None: no limit.
        program: The Qiskit Runtime program that estimates: ``estimator`` (``EstimatorV2``), or
            ``executor`` (the client's executor-based ``Estimator``, 0.50+).

    Returns:
        An EstimatorSweepReport; ``expectations`` has one row per circuit, observable and
        parameter set (columns of ``expectation_frame`` plus ``circuit_index``).

    Raises:
        IBMQValueError: Bad input (named by index), before anything is submitted.
        SweepError: Some jobs could not be submitted, waited on or read (the rest are tabulated first).

    Examples:
        ZZ and XX on a Bell pair, with saved IBM Quantum Platform credentials:
        ```python
        from prefect import flow
        from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
        from prefect_ibmq.circuits import bell
        from prefect_ibmq.flows import estimator_sweep

        @flow
        def bell_correlations():
            creds = IBMQuantumPlatformCredentials.load("ibm")
            return estimator_sweep([bell()], ["ZZ", "XX"], service=creds).expectations
        ```
    """
    if max_pubs_per_job is not None:
        warnings.warn("estimator_sweep(max_pubs_per_job=...) is deprecated: use max_experiments_per_job",
                      DeprecationWarning, stacklevel=2)
        max_experiments_per_job = max_experiments_per_job or max_pubs_per_job
    check_int("max_jobs_in_flight", max_jobs_in_flight, 1)
    check_int("resubmit_failed", resubmit_failed, 0)
    sweep_id = checked_sweep_id(sweep_id)
    platform = resolve_platform(service)
    pubs = estimator_pubs(load_circuits(circuits), observables, parameter_values)
    limits = await platform.limits(backend_name)
    _check_fits(pubs, limits.n_qubits, backend_name)
    size = items_per_job(max_experiments_per_job, limits.max_circuits, "max_experiments_per_job")
    chunks = first_round(len(pubs), size)
    get_run_logger().info("Estimator sweep %s: %d circuits x %d observables in %d jobs on %s",
                          sweep_id, len(pubs), len(observables), len(chunks), backend_name)
    async with execution_mode(platform, service, backend_name, mode, default="batch", program=program,
                              primitive="estimator", max_time=max_time, precision=precision,
                              optimization_level=optimization_level) as execution:
        runtime = execution.runtime
        kind = ExpectationsKind(pubs, runtime.model_dump_json(include={"program", "precision", "optimization_level"})
                                if runtime is not None else "")
        options = JobSetOptions(backend_name, [jobset_tag(sweep_id), *(job_tags or [])], None, timeout, runtime,
                                service, cache_results, max_jobs_in_flight, resubmit_failed)
        progress = SweepProgress(sweep_id, "Estimator sweep")
        budget = await quantum_budget(platform, max_quantum_seconds)
        runner = JobSetRunner(sweep_id, platform, kind, options, await existing_jobs(platform, sweep_id),
                              [progress, *([budget] if budget else [])], batches=execution, admission=budget)
        outcome = await runner.run(chunks)
    tables = sweep_tables(sweep_id, f"Estimator sweep {sweep_id} on {backend_name}", outcome)
    expectations = kind.table()
    shown = expectations.head(MAX_ARTIFACT_ROWS).astype(object)
    # Parquet has no column type for lists of parameters: the files keep parameter_set only.
    outputs = await publish_sweep(
        tables, output_dir, cache_results, progress.close(), outcome.planned,
        frames={"expectations": expectations.drop(columns="parameters")},
        artifacts=[acreate_table_artifact(shown.where(shown.notna(), None).to_dict("records"),
                                          key=artifact_key(sweep_id, "expectations"),
                                          description="Expectation values and std")],
    )
    close_sweep("Estimator sweep", sweep_id, outcome)
    return EstimatorSweepReport(sweep_id, [record.job_id for record in outcome.records], outcome.submitted,
                                outcome.reused, tables.timings, tables.summary, expectations,
                                sorted(outcome.failed_items), outputs, sorted(outcome.not_run),
                                sum(outcome.quantum_seconds.values()))


def estimator_pubs(circuits: list[QuantumCircuit], observables: list[Any],
                   parameter_values: list[list[float]] | None) -> list[tuple[Any, ...]]:
    """One PUB per circuit: observables (first axis) x parameter sets (second axis)."""
    if not observables:
        raise IBMQValueError("observables is empty; give at least one Pauli label or SparsePauliOp")
    ops = [_observable(i, o) for i, o in enumerate(observables)]
    pubs: list[tuple[Any, ...]] = []
    for index, circuit in enumerate(circuits):
        circuit = circuit.remove_final_measurements(inplace=False)
        for number, op in enumerate(ops):
            if op.num_qubits != circuit.num_qubits:
                raise IBMQValueError(f"observables[{number}] acts on {op.num_qubits} qubits; circuit #{index} "
                                 f"({circuit.name!r}) has {circuit.num_qubits}")
        if not circuit.num_parameters:
            pubs.append((circuit, ops))
        elif not parameter_values:
            raise IBMQValueError(f"circuit #{index} ({circuit.name!r}) has parameters; give parameter_values")
        else:
            pubs.append((circuit, [[op] for op in ops], parameter_values))
    return pubs


def _observable(index: int, value: Any) -> SparsePauliOp:
    try:
        return value if isinstance(value, SparsePauliOp) else SparsePauliOp(value)
    except Exception as error:
        raise IBMQValueError(f"observables[{index}]={value!r} is not a Pauli label or SparsePauliOp: {error}") from None


def _check_fits(pubs: list[tuple[Any, ...]], n_qubits: int, backend_name: str) -> None:
    for index, pub in enumerate(pubs):
        if pub[0].num_qubits > n_qubits:
            raise IBMQValueError(f"circuit #{index} has {pub[0].num_qubits} qubits; {backend_name} has {n_qubits}")
