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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.expectations import expectation_frame
from prefect_ibmq.flows.artifacts import artifact_key, publish_job_table, publish_pictures, publish_summary
from prefect_ibmq.flows.outputs import write_frames
from prefect_ibmq.flows.sessions import execution_mode
from prefect_ibmq.flows.sweep import Chunk, _check_at_least, _checked_sweep_id, _existing_jobs
from prefect_ibmq.plots import render_pictures, write_pictures
from prefect_ibmq.tables import job_summary_frame, time_per_step_frame
from prefect_ibmq.tasks import fetch_result, submit_job, wait_for_final_state
from prefect_ibmq.wire import JOBSET_TAG_PREFIX, ApiJobStatus, JobRecord

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


@flow(name="estimator-sweep")
def estimator_sweep(
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
        precision: The estimator's target precision (its default when None).
        optimization_level: Level of the preset pass manager mapping circuits to the backend's ISA.
        max_pubs_per_job: Circuits per job (default and ceiling: the backend's max_experiments).
        resubmit_failed: Rounds of resubmitting the circuits of failed jobs.
        timeout: Seconds each job may take to reach a final state (then it is cancelled).
        output_dir: Where the expectations, timings and summary tables and the pictures are written.
        mode: ``batch`` (default), ``session`` or ``job``.

    Returns:
        An EstimatorSweepReport; ``expectations`` has one row per circuit, observable and
        parameter set (columns of ``expectation_frame`` plus ``circuit_index``).

    Raises:
        ValueError: Bad input (named by index), before anything is submitted.

    Examples:
        >>> report = estimator_sweep([bell_state], ["ZZ", "XX"], service=creds)
    """
    logger = get_run_logger()
    if not isinstance(service, IBMQuantumPlatformCredentials):
        raise ValueError("estimator_sweep needs service=IBMQuantumPlatformCredentials(...): the estimator "
                         "is a Qiskit Runtime program")
    sweep_id = _checked_sweep_id(sweep_id)
    _check_at_least(0, resubmit_failed=resubmit_failed)
    pubs = estimator_pubs(load_circuits(circuits), observables, parameter_values)
    backend = service.get_service().backend(backend_name)
    _check_fits(pubs, backend.configuration().n_qubits, backend_name)
    size = min(max_pubs_per_job or backend.max_circuits, backend.max_circuits)
    _check_at_least(1, max_pubs_per_job=size)
    tag = f"{JOBSET_TAG_PREFIX}_{sweep_id}"
    chunks = [Chunk(i, 0, tuple(range(start, min(start + size, len(pubs)))))
              for i, start in enumerate(range(0, len(pubs), size))]
    logger.info("Estimator sweep %s: %d circuits x %d observables in %d jobs on %s",
                sweep_id, len(pubs), len(observables), len(chunks), backend_name)
    with execution_mode(service, backend_name, mode, default="batch", program="estimator",
                        precision=precision, optimization_level=optimization_level) as runtime:
        run = _Rounds(sweep_id, backend_name, pubs, _existing_jobs(service.get_service(), tag),
                      dict(tags=[tag, *(job_tags or [])], timeout=timeout, runtime=runtime, service=service))
        run.run(chunks, resubmit_failed)
    return _report(run, sweep_id, backend_name, output_dir)


def estimator_pubs(circuits: list[QuantumCircuit], observables: list[Any],
                   parameter_values: list[list[float]] | None) -> list[tuple[Any, ...]]:
    """One PUB per circuit: observables (first axis) x parameter sets (second axis)."""
    if not observables:
        raise ValueError("observables is empty; give at least one Pauli label or SparsePauliOp")
    ops = [_observable(i, o) for i, o in enumerate(observables)]
    pubs = []
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


class _Rounds:
    """Submit, wait and fetch every pending chunk; failed chunks go to the next round."""

    def __init__(self, sweep_id: str, backend_name: str, pubs: list[tuple[Any, ...]],
                 existing: dict[str, JobRecord], common: dict[str, Any]) -> None:
        self.sweep_id, self.backend_name, self.pubs = sweep_id, backend_name, pubs
        self.existing, self.common = existing, common
        self.records: list[JobRecord] = []
        self.frames: list[pd.DataFrame] = []
        self.failed: set[int] = set()
        self.submitted = self.reused = 0

    def run(self, chunks: list[Chunk], rounds: int) -> None:
        pending = chunks
        while pending:
            waits = {chunk: self._wait(chunk) for chunk in pending}
            fetches, retry = {}, []
            for chunk, future in waits.items():
                future.wait()
                state = future.state
                record = future.result() if state.is_completed() else None
                if record is not None:
                    self.records.append(record)
                if record is not None and record.status is ApiJobStatus.COMPLETED:
                    fetches[chunk] = fetch_result.submit(record.job_id, partial=False, service=self.common["service"])
                else:
                    retry.append(chunk)
            for chunk, future in fetches.items():
                self._tabulate(chunk, future)
            self.failed.update(i for chunk in retry for i in chunk.circuit_indices)
            pending = [Chunk(c.index, c.round + 1, c.circuit_indices) for c in retry if c.round < rounds]

    def _wait(self, chunk: Chunk) -> Any:
        name = chunk.job_name(self.sweep_id)
        service = self.common["service"]
        if name in self.existing:
            self.reused += 1
            job_id: Any = self.existing[name].job_id
        else:
            self.submitted += 1
            job_id = submit_job.submit(
                [self.pubs[i] for i in chunk.circuit_indices], self.backend_name, job_name=name,
                job_tags=self.common["tags"], idempotency_key=f"estimator-{self.sweep_id}-{name}",
                service=service, runtime=self.common["runtime"],
            )
        return wait_for_final_state.submit(job_id, timeout=self.common["timeout"], service=service)

    def _tabulate(self, chunk: Chunk, future: Any) -> None:
        future.wait()
        if not future.state.is_completed():
            self.failed.update(chunk.circuit_indices)
            return
        frame = expectation_frame(future.result(), pubs=[self.pubs[i] for i in chunk.circuit_indices])
        frame.insert(0, "circuit_index", frame["pub"].map(dict(enumerate(chunk.circuit_indices))).astype("int64"))
        self.frames.append(frame)
        self.failed.difference_update(chunk.circuit_indices)


def _report(run: _Rounds, sweep_id: str, backend_name: str, output_dir: str | None) -> EstimatorSweepReport:
    logger = get_run_logger()
    expectations = (pd.concat(run.frames, ignore_index=True) if run.frames else expectation_frame([]))
    summary = job_summary_frame(run.records)
    timings = time_per_step_frame(run.records)
    outputs = (write_frames(Path(output_dir), expectations=expectations.drop(columns="parameters", errors="ignore"),
                            timings=timings, summary=summary) if output_dir else {})
    publish_job_table(artifact_key(sweep_id, "timings"), summary)
    publish_summary(artifact_key(sweep_id, "summary"), f"Estimator sweep {sweep_id} on {backend_name}", summary)
    shown = expectations.head(MAX_ARTIFACT_ROWS).astype(object)
    create_table_artifact(shown.where(shown.notna(), None).to_dict("records"),
                          key=artifact_key(sweep_id, "expectations"), description="Expectation values and std")
    try:  # pictures are a view of the tables above: a plotting error must not lose the sweep
        pictures = render_pictures(timings, summary)
        paths = write_pictures(Path(output_dir), pictures) if output_dir else {}
        outputs.update(paths)
        publish_pictures(artifact_key(sweep_id, "pictures"), f"Estimator sweep {sweep_id}", pictures, paths)
    except Exception:
        logger.warning("Estimator sweep %s: could not draw or publish the pictures", sweep_id, exc_info=True)
    failed = sorted(run.failed)
    logger.info("Estimator sweep %s done: %d jobs (%d submitted, %d reused), %d circuits without values",
                sweep_id, len(run.records), run.submitted, run.reused, len(failed))
    return EstimatorSweepReport(sweep_id, [r.job_id for r in run.records], run.submitted, run.reused,
                                timings, summary, expectations, failed, outputs)
