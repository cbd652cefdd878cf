"""The counts kind of job set (``circuit_sweep``): circuits in, counts out, appended to a file job by job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from qiskit import QuantumCircuit

from prefect_ibmq.flows.counts_file import CountsFile
from prefect_ibmq.flows.job import FinishedJob, circuits_digest
from prefect_ibmq.flows.jobset.chunks import Chunk
from prefect_ibmq.tables import counts_frame


class CountsKind:
    """A :class:`~prefect_ibmq.flows.jobset.runner.JobKind`: each job's counts, keyed by circuit index and round."""

    def __init__(self, circuits: list[QuantumCircuit], shots: int, counts_file: CountsFile) -> None:
        self.circuits, self.shots, self.counts_file = circuits, shots, counts_file

    def items(self, indices: tuple[int, ...]) -> list[Any]:
        """The circuits of these indices."""
        return [self.circuits[i] for i in indices]

    def item_name(self, index: int) -> str:
        """The circuit's name."""
        return self.circuits[index].name

    def digests(self, item_lists: Sequence[list[Any]]) -> list[str]:
        """Each job's circuits' QPY digest."""
        return [circuits_digest(circuits) for circuits in item_lists]

    def tabulate(self, chunk: Chunk, job: FinishedJob) -> None:
        """Append the job's counts to the file (and forget them: the flow holds one job's counts at a time)."""
        self.counts_file.append(sweep_counts(job.counts(), chunk.circuit_indices, chunk.round))


def sweep_counts(counts: pd.DataFrame, circuit_indices: tuple[int, ...], round_: int) -> pd.DataFrame:
    """A job's counts, keyed by each circuit's index in the sweep and the attempt's round."""
    indices = np.asarray(circuit_indices, dtype=int)[counts["experiment"].to_numpy(dtype=int)]
    keys = pd.DataFrame({"circuit_index": pd.array(indices, dtype="Int64"),
                         "round": pd.array(np.full(len(counts), round_), dtype="Int64")}, index=counts.index)
    return pd.concat([keys, counts], axis=1)


def empty_sweep_counts() -> pd.DataFrame:
    """A sweep's counts columns and dtypes, without rows."""
    return sweep_counts(counts_frame([]), (), 0)
