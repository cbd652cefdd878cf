"""Figure 7: the fixed cost of a sweep, a 1-circuit ``circuit_sweep`` called from plain sync code.

The user's call (:mod:`benchmarks.user_call`: a fresh process, the embedded default,
Prefect's own temporary server, INFO logging), after a 5-circuit warm-up: the median of
5 calls of ``circuit_sweep([ghz(2)], shots=1024)`` from a plain function (no flow around
it), everything a sweep costs before its size matters (flow run, three task runs,
tables, artifacts, pictures).

Baseline, in the same process: an empty sync ``@flow`` called the same way (what
Prefect's sync engine alone costs).

Target: <= 0.5 s.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import figure
from benchmarks.sweep import user_calls
from benchmarks.user_call import FIXED_COST_REPEATS


def run() -> list[dict[str, Any]]:
    [measured] = [row for row in user_calls(()) if row["what"] == "fixed_cost"]
    value, baseline = measured["seconds"], measured["empty_flow"]
    return [figure(f"fixed cost, the user's call: 1-circuit circuit_sweep from sync code, median of "
                   f"{FIXED_COST_REPEATS} / empty sync @flow", value, baseline, "<= 0.5 s", value <= 0.5)]


if __name__ == "__main__":
    for row in run():
        print(row)
