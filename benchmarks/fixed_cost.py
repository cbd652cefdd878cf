"""Figure 7: the fixed cost of a sweep, a 1-circuit ``circuit_sweep`` called from plain sync code.

On a warm Prefect server and an in-process job server (both warmed up by a first
sweep), the median of 5 calls of ``circuit_sweep([ghz(2)])`` from a plain
function (no flow around it), 1,024 shots: everything a sweep costs before its
size matters (flow run, three task runs, tables, artifacts, pictures).

Baseline, in the same run: an empty sync ``@flow`` called the same way (what
Prefect's sync engine alone costs: it joins its 1 s heartbeat thread).

Target: <= 0.5 s.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

from benchmarks.common import figure, ghz_circuits, prefect_server, tmp_dir

REPEATS = 5


def _median_seconds(call: Any) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> list[dict[str, Any]]:
    from prefect import flow

    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.flows import circuit_sweep
    from prefect_ibmq.server import JobServer, ServerConfig

    prefect_server()
    logging.getLogger("prefect").setLevel(logging.WARNING)

    @flow(name="empty-sync-flow")
    def empty() -> None:
        return None

    one = ghz_circuits(1)
    with JobServer(ServerConfig.default(tmp_dir("fixed"))) as server:
        credentials = IBMQServiceCredentials(url=server.url, token=server.token)
        circuit_sweep(one, shots=1024, service=credentials)  # warm-up: imports, backend, simulator process
        empty()
        value = _median_seconds(lambda: circuit_sweep(one, shots=1024, service=credentials))
    baseline = _median_seconds(empty)
    return [figure(f"fixed cost: 1-circuit circuit_sweep from sync code, median of {REPEATS} / empty sync "
                   "@flow", value, baseline, "<= 0.5 s", value <= 0.5)]


if __name__ == "__main__":
    for row in run():
        print(row)
