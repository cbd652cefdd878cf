"""Writing a flow's tables to a folder: Parquet when pyarrow is installed, else CSV."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd


def write_frames(output_dir: Path, **frames: pd.DataFrame) -> dict[str, Path]:
    """Write each frame as ``<name>.parquet`` (or ``.csv``) in ``output_dir``; returns the paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    parquet = importlib.util.find_spec("pyarrow") is not None
    paths = {}
    for name, frame in frames.items():
        path = output_dir / f"{name}.{'parquet' if parquet else 'csv'}"
        if parquet:
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        paths[name] = path
    return paths
