"""pandas tables of jobs and results: per-step timings, per-job summaries, counts, expectation values.

Pure pandas + numpy (no Prefect, no server). Every frame is built column-wise
(:mod:`.frames`: one pass over the input gathers plain Python lists, :mod:`.inputs`;
numpy and pandas build the columns in one go, :mod:`.columns`, bitstrings by
:mod:`.bitstrings`), so 100,000 jobs tabulate in a fraction of a second.

Jobs may be given as :class:`~prefect_ibmq.wire.JobRecord` objects, as plain
dicts in JobRecord shape (the fast path for big inputs), or as any object with a
``record`` attribute holding one of those (``IBMQJob`` exposes its last-seen data
that way). Results may be :class:`qiskit.result.Result` objects or their dicts
(``Result.to_dict()`` shape, as the job service sends them), or sampler
``PrimitiveResult`` objects of IBM Quantum Platform (one experiment per PUB, see
:mod:`prefect_ibmq.runtime.results`). Estimator results have their own table,
:func:`expectation_frame` (:mod:`.expectations`).

Dtypes: ids, names and bitstrings are pandas ``str``; ``step``/``status`` use
:data:`STEP_DTYPE` (ordered, lifecycle order); times are ``datetime64[us, UTC]``;
durations are float seconds (NaN when unknown); the empty-input frames carry the
same dtypes (see the ``*_COLUMNS`` constants).
"""

from prefect_ibmq.tables.expectations import EXPECTATION_COLUMNS, expectation_frame
from prefect_ibmq.tables.frames import (
    COUNTS_COLUMNS,
    JOB_SUMMARY_COLUMNS,
    STEP_DTYPE,
    STEPS,
    TIME_PER_STEP_COLUMNS,
    counts_frame,
    job_summary_frame,
    time_per_step_frame,
)

__all__ = [
    "COUNTS_COLUMNS", "EXPECTATION_COLUMNS", "JOB_SUMMARY_COLUMNS", "STEPS", "STEP_DTYPE", "TIME_PER_STEP_COLUMNS",
    "counts_frame", "expectation_frame", "job_summary_frame", "time_per_step_frame",
]
