"""prefect_ibmq.tables.bitstrings against qiskit's own formatting of counts keys, for many layouts at once."""

import numpy as np
import pandas as pd
import pytest
from qiskit.result.postprocess import format_counts_memory

from prefect_ibmq.tables.bitstrings import bitstring_column, format_bits

LAYOUTS = [
    (1, ()), (3, ()), (5, (5,)), (5, (2, 3)), (7, (1, 2, 4)), (64, (32, 32)), (70, (6, 64)), (None, ()),
]


@pytest.mark.parametrize(("width", "sizes"), LAYOUTS)
def test_format_bits_writes_keys_as_qiskit_does(width, sizes):
    rng = np.random.default_rng(7)
    top = 2 ** (width or 10)
    values = [0, 1, top - 1, *(int(v) for v in rng.integers(0, min(top, 2**63), size=20))]
    header = {"memory_slots": width, "creg_sizes": [[f"c{i}", s] for i, s in enumerate(sizes)]} if width else {}
    expected = [format_counts_memory(hex(v), header) for v in values]
    as_array = np.array(values, dtype=np.uint64 if top <= 2**64 else object)
    assert list(format_bits(as_array, width, sizes)) == expected


def test_bitstring_column_formats_each_rows_key_in_its_own_layout():
    layouts = {(3, (1, 2)): 0, (4, ()): 1}
    keys = np.array(["0x5", "0x1", "101"], dtype=object)
    # rows: (layout, key code): -1 is a row without a key (a failed experiment)
    row_layout = np.array([0, 0, 1, 1, 0])
    key_codes = np.array([0, 1, 0, -1, 2])
    column = bitstring_column(row_layout, key_codes, keys, layouts)
    assert list(column[:3]) == ["10 1", "00 1", "0101"]
    assert pd.isna(column[3]) and column[4] == "10 1"
    assert str(column.dtype) == "str"
