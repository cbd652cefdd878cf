"""pandas columns built in one go from plain lists and numpy arrays (the building blocks of the tables).

Converting each distinct value once and then taking by code is what keeps
:mod:`prefect_ibmq.tables` fast: 100,000 rows of a few distinct job ids or
bitstrings cost a handful of conversions and one ``take``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def str_column(values: list[Any], take: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A str column of ``values[take]`` (all of ``values`` without ``take``); None becomes NA.

    Only the distinct values are converted to strings.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return take_str(list(uniques), codes if take is None else codes[take])


def take_str(uniques: list[Any], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``uniques[codes]`` as a str array, code -1 as NA (a plain take: a take with a fill value is ~10x slower)."""
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(uniques), codes)
        uniques = [*uniques, None]
    return pd.array(uniques, dtype="str").take(codes)


def times_from_micros(micros: np.ndarray, nat: np.ndarray) -> pd.DatetimeIndex:
    """UTC times from microseconds since the epoch, NaT where ``nat`` is True."""
    values = micros.copy()
    values[nat] = np.iinfo(np.int64).min  # the int64 that means NaT
    return pd.DatetimeIndex(values.view("datetime64[us]")).tz_localize("UTC")


def empty_frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A frame without rows whose columns have the given names and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
