"""The expectation-values kind of job set (``estimator_sweep``): estimator PUBs in, a table of values out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pandas as pd

from prefect_ibmq.flows.job import FinishedJob
from prefect_ibmq.flows.jobset.chunks import Chunk
from prefect_ibmq.tables import expectation_frame
from prefect_ibmq.wire import circuits_to_qpy


class ExpectationsKind:
    """A :class:`~prefect_ibmq.flows.jobset.runner.JobKind`: each PUB's values, keyed by circuit index.

    ``settings`` (the estimator's program options: precision, optimization level) go into
    every digest, so a cached job is reused only for the same PUBs estimated the same way.
    """

    shots = 0  # the estimator is asked for a precision, not shots

    def __init__(self, pubs: list[tuple[Any, ...]], settings: str) -> None:
        self.pubs, self.settings = pubs, settings
        self.frames: list[pd.DataFrame] = []

    def items(self, indices: tuple[int, ...]) -> list[Any]:
        """The PUBs of these indices."""
        return [self.pubs[i] for i in indices]

    def item_name(self, index: int) -> str:
        """The PUB's circuit's name."""
        return self.pubs[index][0].name

    def digests(self, item_lists: Sequence[list[Any]]) -> list[str]:
        """Each job's PUBs (circuits' QPY, observables, parameter values) and the settings, as a digest."""
        digests = []
        for pubs in item_lists:
            digest = hashlib.sha256(circuits_to_qpy([pub[0] for pub in pubs]))
            digest.update(repr([pub[1:] for pub in pubs]).encode())
            digest.update(self.settings.encode())
            digests.append(digest.hexdigest())
        return digests

    def tabulate(self, chunk: Chunk, job: FinishedJob) -> None:
        """Keep the job's expectation values, with the sweep's circuit index of each PUB."""
        frame = expectation_frame(job.result, pubs=self.items(chunk.circuit_indices), job_id=job.record.job_id)
        frame.insert(0, "circuit_index", frame["pub"].map(dict(enumerate(chunk.circuit_indices))).astype("int64"))
        self.frames.append(frame)

    def table(self) -> pd.DataFrame:
        """Every value kept, one row per circuit, observable and parameter set (rounds in the order they ended)."""
        return pd.concat(self.frames, ignore_index=True) if self.frames else expectation_frame([])
