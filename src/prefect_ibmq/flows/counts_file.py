"""A sweep's counts on disk: appended job by job as results arrive, read back only on demand.

A 100,000-circuit sweep has millions of count rows; holding them until the end
would make the flow's memory grow with the sweep. ``CountsFile`` appends each
job's rows to one file as the job's result arrives (a Parquet row group per job
when pyarrow is installed, else CSV rows), so the flow holds one job's counts at
a time. ``read_counts`` loads the file back when someone asks for the frame.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def counts_suffix() -> str:
    """``parquet`` when pyarrow is installed, else ``csv`` (as :func:`prefect_ibmq.flows.outputs.write_frames`)."""
    return "parquet" if importlib.util.find_spec("pyarrow") is not None else "csv"


class CountsFile:
    """Appends counts frames (all with the columns of ``empty``) to ``path``; :meth:`close` finishes the file.

    Each frame has a ``circuit_index`` and a ``round`` column: when a circuit was
    run again (a resubmission of a failed experiment), :meth:`close` keeps only its
    latest round, rewriting the file one row group (or CSV chunk) at a time.
    """

    def __init__(self, path: Path, empty: pd.DataFrame, n_circuits: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self._empty = path, empty
        self._parquet = path.suffix == ".parquet"
        self._writer: Any = None
        self._schema: Any = None
        self._rows = 0
        # The latest round of each circuit: a small array, not the counts.
        self._latest = np.zeros(n_circuits, dtype=np.int32)
        if self._parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.Schema.from_pandas(empty, preserve_index=False)
            self._writer = pq.ParquetWriter(path, self._schema)
        else:
            empty.to_csv(path, index=False)

    def append(self, counts: pd.DataFrame) -> None:
        """Write one job's counts (its own row group) and forget them."""
        if counts.empty:
            return
        indices = counts["circuit_index"].to_numpy(dtype=np.int64)
        np.maximum.at(self._latest, indices, counts["round"].to_numpy(dtype=np.int32))
        self._rows += len(counts)
        if self._parquet:
            import pyarrow as pa

            self._writer.write_table(pa.Table.from_pandas(counts, schema=self._schema, preserve_index=False))
        else:
            counts.to_csv(self.path, mode="a", header=False, index=False)

    def close(self) -> Path:
        """Finish the file, keeping only each circuit's latest round; returns its path."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._latest.any():
            self._keep_latest_rounds()
        return self.path

    def _keep_latest_rounds(self) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        if self._parquet:
            import pyarrow.parquet as pq

            source = pq.ParquetFile(self.path)
            with pq.ParquetWriter(temporary, self._schema) as writer:
                for group in range(source.num_row_groups):
                    table = source.read_row_group(group)
                    keep = self._is_latest(table.column("circuit_index").to_numpy(), table.column("round").to_numpy())
                    writer.write_table(table.filter(keep))
        else:
            header = True
            for chunk in _read_csv(self.path, self._empty, chunksize=100_000):
                keep = self._is_latest(chunk["circuit_index"].to_numpy(), chunk["round"].to_numpy())
                chunk[keep].to_csv(temporary, mode="w" if header else "a", header=header, index=False)
                header = False
        os.replace(temporary, self.path)

    def _is_latest(self, circuit_index: np.ndarray, round_: np.ndarray) -> np.ndarray:
        return self._latest[circuit_index.astype(np.int64)] == round_


def read_counts(path: Path, empty: pd.DataFrame) -> pd.DataFrame:
    """The counts written by ``CountsFile``, sorted by circuit index and bitstring, with ``empty``'s dtypes."""
    if path.suffix == ".parquet":
        counts = pd.read_parquet(path)
    else:
        counts = _read_csv(path, empty)
    counts = counts.astype(empty.dtypes.to_dict())
    return counts.sort_values(["circuit_index", "bitstring"], kind="stable").reset_index(drop=True)


def _read_csv(path: Path, empty: pd.DataFrame, **options: Any) -> Any:
    """The CSV with ``empty``'s dtypes; only an empty field is NA (a circuit may be named "NA")."""
    dtypes = {name: ("boolean" if dtype is bool else dtype) for name, dtype in empty.dtypes.items()}
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""], **options)
