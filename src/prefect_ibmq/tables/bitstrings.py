"""Counts keys written as ``Result.get_counts()`` writes them, for many rows at once.

A counts key (``'0x5'`` or ``'101'``) becomes a bitstring zero-padded to the
experiment's ``memory_slots`` and split into its classical registers by a space,
last register first (``'1 01'``), as ``qiskit.result.postprocess.format_counts_memory``
does. Each distinct (layout, key) pair is formatted once, with numpy when the
width fits 64 bits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prefect_ibmq.tables.columns import take_str

#: An experiment's bit layout: its ``memory_slots`` (None when unknown) and its classical register sizes.
Layout = tuple[int | None, tuple[int, ...]]

_SPACE, _ZERO = ord(" "), ord("0")


def bitstring_column(
    row_layout: np.ndarray,
    key_codes: np.ndarray,
    unique_keys: np.ndarray,
    layouts: dict[Layout, int],
) -> pd.api.extensions.ExtensionArray:
    """Each row's counts key as a bitstring, NA where the row has no key.

    Args:
        row_layout: Per row, the code of its experiment's layout (a value of ``layouts``).
        key_codes: Per row, the index of its key in ``unique_keys``, or -1 for no key.
        unique_keys: The distinct counts keys.
        layouts: Each layout and its code.

    Returns:
        A pandas str array with one bitstring per row.
    """
    has = key_codes >= 0
    n_keys = len(unique_keys)
    # A row's (layout, key) pair as one int, so that only the distinct pairs are formatted.
    pair_codes, pairs = pd.factorize(row_layout[has] * n_keys + key_codes[has])
    text = _format_pairs(pairs, _key_ints(unique_keys), layouts)
    # Distinct strings once to pandas, then a take: far cheaper than a str array per row.
    str_codes, strings = pd.factorize(text)
    row_codes = np.full(len(key_codes), -1, dtype=np.intp)
    row_codes[has] = str_codes[pair_codes]
    return take_str(list(strings), row_codes)


def format_bits(values: np.ndarray, width: int | None, sizes: tuple[int, ...]) -> np.ndarray:
    """Bitstrings (an object array of str) of the non-negative ints ``values`` in the layout (``width``, ``sizes``)."""
    if width is None or width > 64 or values.dtype == object:
        return np.array([_format_one(int(v), width, sizes) for v in values], dtype=object)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    chars = ((values[:, None] >> shifts) & np.uint64(1)).astype(np.uint8) + np.uint8(_ZERO)
    if sizes:
        chars = _split_registers(chars, width, sizes)
    chars = np.ascontiguousarray(chars)
    return chars.view(f"S{chars.shape[1]}").ravel().astype(str).astype(object)


def _key_ints(unique_keys: np.ndarray) -> np.ndarray:
    """The keys' values: uint64 when they all fit, else Python ints (object)."""
    values = [_key_int(key) for key in unique_keys]
    return np.array(values, dtype=np.uint64 if max(values, default=0) < 2**64 else object)


def _key_int(key: str) -> int:
    return int(key, 16) if key.startswith("0x") else int(key.replace(" ", ""), 2)


def _format_pairs(pairs: np.ndarray, key_ints: np.ndarray, layouts: dict[Layout, int]) -> np.ndarray:
    """The text of each (layout, key) pair code, one layout at a time."""
    n_keys = len(key_ints)
    text = np.empty(len(pairs), dtype=object)
    for (width, sizes), layout in layouts.items():
        selected = pairs // n_keys == layout
        if selected.any():
            text[selected] = format_bits(key_ints[pairs[selected] % n_keys], width, sizes)
    return text


def _split_registers(chars: np.ndarray, width: int, sizes: tuple[int, ...]) -> np.ndarray:
    """Rows of bit characters regrouped by register, last first, with a space between registers."""
    columns: list[int] = []
    start = 0
    for i, size in enumerate(reversed(sizes)):
        if i:
            columns.append(width)  # column `width` of `spaced` is all spaces
        columns.extend(range(start, min(start + size, width)))
        start += size
    spaced = np.full((len(chars), width + 1), _SPACE, dtype=np.uint8)
    spaced[:, :width] = chars
    return spaced[:, columns]


def _format_one(value: int, width: int | None, sizes: tuple[int, ...]) -> str:
    """One bitstring the slow way: keys wider than 64 bits, or of unknown width."""
    bits = format(value, f"0{width}b") if width else format(value, "b")
    if not (width and sizes):
        return bits
    parts, start = [], 0
    for size in reversed(sizes):
        parts.append(bits[start : start + size])
        start += size
    return " ".join(parts)
