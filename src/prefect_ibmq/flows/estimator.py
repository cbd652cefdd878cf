"""``estimator_sweep``: circuits x observables x parameter sets -> a table of expectation values.

IBM Quantum Platform only (the estimator is a Qiskit Runtime program). Each
circuit becomes one EstimatorV2 PUB: every observable, at every parameter set
(observables along the first axis, parameter sets along the second). PUBs are
split into jobs of at most the backend's ``max_experiments``, run in one batch
by default, tagged ``ibmq_jobset_<sweep_id>`` and named ``<sweep_id>_<index>_``
(as ``circuit_sweep``'s jobs), so a rerun with the same sweep id reuses the jobs
that exist. IBM keeps no partial results: a failed job's PUBs are resubmitted
whole, ``resubmit_failed`` times at most.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
from prefect import get_run_logger
from prefect.artifacts import acreate_table_artifact
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.expectations import expectation_frame
from prefect_ibmq.flows.artifacts import artifact_key, publish_job_table, publish_pictures, publish_summary
from prefect_ibmq.flows.circuits_flow import circuits_flow
from prefect_ibmq.flows.job import JobStageError, run_job
from prefect_ibmq.flows.jobset import (
    Chunk,
    SweepError,
    check_at_least,
    checked_sweep_id,
    chunk_size,
    existing_jobs,
    first_round,
    jobset_tag,
)
from prefect_ibmq.flows.outputs import write_frames
from prefect_ibmq.flows.sessions import execution_mode
from prefect_ibmq.plots import render_pictures, write_pictures
from prefect_ibmq.runtime.options import RuntimeOptions
from prefect_ibmq.tables import job_summary_frame, time_per_step_frame
from prefect_ibmq.wire import ApiJobStatus, JobRecord

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


@circuits_flow(name="estimator-sweep")
async def estimator_sweep(
    circuits: list[Any] | str,
    observables: list[Any],
    service: IBMQuantumPlatformCredentials,
    parameter_values: list[list[float]] | None = None,
    backend_name: str = "aer_simulator",
    precision: float | None = None,
    optimization_level: int | None = 1,
    max_pubs_per_job: int | None = None,
    sweep_id: str | None = None,
    resubmit_failed: int = 1,
    timeout: float | None = None,
    output_dir: str | None = None,
    job_tags: list[str] | None = None,
    mode: str | None = None,
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
        max_pubs_per_job: Circuits per job (default and ceiling: the backend's max_experiments).
        sweep_id: Names the job set; reuse it to pick up the jobs of an earlier run (a new id when None).
        resubmit_failed: Rounds of resubmitting the circuits of failed jobs.
        timeout: Seconds each job may take to reach a final state (then it is cancelled).
        job_tags: Tags every job carries besides the sweep's ``ibmq_jobset_<sweep_id>``.
        output_dir: Where the expectations, timings and summary tables and the pictures are written.
        mode: ``batch`` (default), ``session`` or ``job``.

    Returns:
        An EstimatorSweepReport; ``expectations`` has one row per circuit, observable and
        parameter set (columns of ``expectation_frame`` plus ``circuit_index``).

    Raises:
        ValueError: Bad input (named by index), before anything is submitted.
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
    logger = get_run_logger()
    if not isinstance(service, IBMQuantumPlatformCredentials):
        raise ValueError("estimator_sweep needs service=IBMQuantumPlatformCredentials(...): the estimator "
                         "is a Qiskit Runtime program")
    sweep_id = checked_sweep_id(sweep_id)
    check_at_least(0, resubmit_failed=resubmit_failed)
    pubs = estimator_pubs(load_circuits(circuits), observables, parameter_values)
    backend = service.get_client().backend(backend_name)
    _check_fits(pubs, backend.configuration().n_qubits, backend_name)
    chunks = first_round(len(pubs), chunk_size(max_pubs_per_job, backend.max_circuits, "max_pubs_per_job"))
    tag = jobset_tag(sweep_id)
    logger.info("Estimator sweep %s: %d circuits x %d observables in %d jobs on %s",
                sweep_id, len(pubs), len(observables), len(chunks), backend_name)
    with execution_mode(service, backend_name, mode, default="batch", program="estimator",
                        precision=precision, optimization_level=optimization_level) as runtime:
        run = _Rounds(sweep_id, backend_name, pubs, existing_jobs(service.get_client(), tag),
                      _EstimatorJobs([tag, *(job_tags or [])], timeout, runtime, service))
        await run.run(chunks, resubmit_failed)
    return await _report(run, sweep_id, backend_name, output_dir)


def estimator_pubs(circuits: list[QuantumCircuit], observables: list[Any],
                   parameter_values: list[list[float]] | None) -> list[tuple[Any, ...]]:
    """One PUB per circuit: observables (first axis) x parameter sets (second axis)."""
    if not observables:
        raise ValueError("observables is empty; give at least one Pauli label or SparsePauliOp")
    ops = [_observable(i, o) for i, o in enumerate(observables)]
    pubs: list[tuple[Any, ...]] = []
    for index, circuit in enumerate(circuits):
        circuit = circuit.remove_final_measurements(inplace=False)
        for number, op in enumerate(ops):
            if op.num_qubits != circuit.num_qubits:
                raise ValueError(f"observables[{number}] acts on {op.num_qubits} qubits; circuit #{index} "
                                 f"({circuit.name!r}) has {circuit.num_qubits}")
        if not circuit.num_parameters:
            pubs.append((circuit, ops))
        elif not parameter_values:
            raise ValueError(f"circuit #{index} ({circuit.name!r}) has parameters; give parameter_values")
        else:
            pubs.append((circuit, [[op] for op in ops], parameter_values))
    return pubs


def _observable(index: int, value: Any) -> SparsePauliOp:
    try:
        return value if isinstance(value, SparsePauliOp) else SparsePauliOp(value)
    except Exception as error:
        raise ValueError(f"observables[{index}]={value!r} is not a Pauli label or SparsePauliOp: {error}") from None


def _check_fits(pubs: list[tuple[Any, ...]], n_qubits: int, backend_name: str) -> None:
    for index, pub in enumerate(pubs):
        if pub[0].num_qubits > n_qubits:
            raise ValueError(f"circuit #{index} has {pub[0].num_qubits} qubits; {backend_name} has {n_qubits}")


@dataclass(frozen=True)
class _EstimatorJobs:
    """What every job of an estimator sweep is submitted and waited on with."""

    #: The sweep's job-set tag first, then the caller's tags.
    tags: list[str]
    #: Seconds each job may take to reach a final state.
    timeout: float | None
    #: The estimator program's options and the batch or session the jobs join.
    runtime: RuntimeOptions | None
    service: IBMQuantumPlatformCredentials


class _Rounds:
    """Each chunk's job (submit, wait, fetch: ``run_job``); a failed chunk runs again in the next round."""

    def __init__(self, sweep_id: str, backend_name: str, pubs: list[tuple[Any, ...]],
                 existing: dict[str, JobRecord], jobs: _EstimatorJobs) -> None:
        self.sweep_id, self.backend_name, self.pubs = sweep_id, backend_name, pubs
        self.existing, self.jobs = existing, jobs
        self.records: list[JobRecord] = []
        self.frames: list[pd.DataFrame] = []
        self.errors: list[str] = []
        self.failed: set[int] = set()
        self.submitted = self.reused = 0

    async def run(self, chunks: list[Chunk], rounds: int) -> None:
        """Run every chunk, then the chunks without values again, up to ``rounds`` more times."""
        pending = chunks
        while pending:
            outcomes = await asyncio.gather(*(self._has_values_after_running(chunk) for chunk in pending))
            retry = [chunk for chunk, ok in zip(pending, outcomes, strict=False) if not ok]
            pending = [chunk.retried(chunk.circuit_indices) for chunk in retry if chunk.round < rounds]

    async def _has_values_after_running(self, chunk: Chunk) -> bool:
        """Run the chunk's job and tabulate it; False when it has no values (failed, cancelled, unreachable)."""
        name = chunk.job_name(self.sweep_id)
        existing = self.existing.get(name)
        pubs = [self.pubs[i] for i in chunk.circuit_indices]
        try:
            job = await run_job(
                pubs, self.backend_name, 0, existing=existing, timeout=self.jobs.timeout,
                service=self.jobs.service, job_name=name, job_tags=self.jobs.tags,
                idempotency_key=f"estimator-{self.sweep_id}-{name}", runtime=self.jobs.runtime,
            )
        except JobStageError as exc:
            self.errors.append(f"{name}: {exc}")
            get_run_logger().error("Job %s: %s", name, exc)
            self.failed.update(chunk.circuit_indices)
            return False
        self.reused += existing is not None
        self.submitted += existing is None
        self.records.append(job.record)
        if job.record.status is not ApiJobStatus.COMPLETED or job.result is None:
            self.failed.update(chunk.circuit_indices)
            return False
        frame = expectation_frame(job.result, pubs=pubs, job_id=job.record.job_id)
        frame.insert(0, "circuit_index", frame["pub"].map(dict(enumerate(chunk.circuit_indices))).astype("int64"))
        self.frames.append(frame)
        self.failed.difference_update(chunk.circuit_indices)
        return True


async def _report(run: _Rounds, sweep_id: str, backend_name: str, output_dir: str | None) -> EstimatorSweepReport:
    logger = get_run_logger()
    expectations = pd.concat(run.frames, ignore_index=True) if run.frames else expectation_frame([])
    summary = job_summary_frame(run.records)
    timings = time_per_step_frame(run.records)
    outputs = {}
    if output_dir:  # Parquet has no column type for lists of parameters: the files keep parameter_set only
        outputs = await anyio.to_thread.run_sync(lambda: write_frames(
            Path(output_dir), expectations=expectations.drop(columns="parameters"), timings=timings, summary=summary))
    await publish_job_table(artifact_key(sweep_id, "timings"), summary)
    await publish_summary(artifact_key(sweep_id, "summary"), f"Estimator sweep {sweep_id} on {backend_name}", summary)
    shown = expectations.head(MAX_ARTIFACT_ROWS).astype(object)
    await acreate_table_artifact(shown.where(shown.notna(), None).to_dict("records"),
                                 key=artifact_key(sweep_id, "expectations"), description="Expectation values and std")
    try:  # pictures are a view of the tables above: a plotting error must not lose the sweep
        pictures = await anyio.to_thread.run_sync(render_pictures, timings, summary)
        paths = write_pictures(Path(output_dir), pictures) if output_dir else {}
        outputs.update(paths)
        await publish_pictures(artifact_key(sweep_id, "pictures"), f"Estimator sweep {sweep_id}", pictures, paths)
    except Exception:
        logger.warning("Estimator sweep %s: could not draw or publish the pictures", sweep_id, exc_info=True)
    failed = sorted(run.failed)
    logger.info("Estimator sweep %s done: %d jobs (%d submitted, %d reused), %d circuits without values",
                sweep_id, len(run.records), run.submitted, run.reused, len(failed))
    if run.errors:
        raise SweepError(f"estimator sweep {sweep_id}: {len(run.errors)} jobs did not finish "
                         f"({'; '.join(run.errors[:5])}); rerun with sweep_id={sweep_id!r} to pick up where it stopped")
    return EstimatorSweepReport(sweep_id, [r.job_id for r in run.records], run.submitted, run.reused,
                                timings, summary, expectations, failed, outputs)
