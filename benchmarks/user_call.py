"""The call a user makes, timed in a fresh process: ``circuit_sweep(circuits, shots=1024)`` from sync code.

Nothing tuned: no credentials (the embedded default, in a fresh data dir), no Prefect
server set up beforehand (Prefect's own temporary server, in a fresh PREFECT_HOME),
Prefect's logging at its default INFO level. After a 5-circuit warm-up sweep (imports,
the temporary server, the simulator processes), each size is swept once, the first
sweep timed being the first after the warm-up, and the floor is measured right after
it in the same process (aer alone, all cores); beside the wall time, the CPU seconds the
sweep took in this process (flow and embedded service), in the simulator processes and in
Prefect's temporary server (a process of its own, which records every task run, event and
log line), steadier than the wall time on a shared machine, and the floor's own CPU
seconds. Then the fixed cost: the median of 5 one-circuit sweeps, and of 5 empty sync flows.
With ``cached`` among the arguments, last the cached rerun: a 1,000-circuit sweep with
``cache_results=True`` (circuit names unique to the run), then ``CACHED_RERUNS`` reruns
under new sweep ids, which submit nothing (asserted).
One JSON line per measurement on stdout.

``python -m benchmarks.user_call 1000 10000 [cached]`` runs it here; ``benchmarks.sweep`` runs it
in a subprocess with a clean environment (see :func:`user_environment`), and
``python -m benchmarks.ab`` against another commit's code, back to back.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import ROOT, SHOTS, floor, ghz_circuits

WARM_UP = 5
FIXED_COST_REPEATS = 5
CACHED_CIRCUITS = 1000
CACHED_RERUNS = 3


def user_environment(src: str | None = None) -> dict[str, str]:
    """This process's environment as a user's shell has it: no Prefect API, INFO logs, fresh homes.

    ``src``: a folder whose ``prefect_ibmq`` is imported instead of the installed one (A/B runs).
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PREFECT_API_", "PREFECT_LOGGING_", "PREFECT_IBMQ_"))}
    env["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-ibmq-bench-prefect-home-")
    env["PREFECT_IBMQ_DATA_DIR"] = tempfile.mkdtemp(prefix="prefect-ibmq-bench-embedded-")
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # Prefect's temporary server must start within its limit on a busy machine (not a speed setting).
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env["PYTHONPATH"] = os.pathsep.join(part for part in (src, str(ROOT)) if part)
    return env


def main(sizes: list[int], cached: bool = False) -> None:
    from prefect_ibmq.flows import circuit_sweep

    circuit_sweep(ghz_circuits(WARM_UP), shots=SHOTS)  # warm-up, the default call too
    for n in sizes:
        circuits = ghz_circuits(n)
        cpu = _cpu_seconds()
        start = time.perf_counter()
        report = circuit_sweep(circuits, shots=SHOTS)
        seconds = time.perf_counter() - start
        flow_cpu, simulators_cpu, prefect_cpu = (after - before for after, before in zip(_cpu_seconds(), cpu,
                                                                                          strict=True))
        assert report.counts["circuit_index"].nunique() == n and not report.failed_circuits
        floor_start = time.process_time()
        floor_s = floor(circuits)
        print(json.dumps({"what": "sweep", "n": n, "seconds": seconds, "jobs": len(report.job_ids),
                          "floor": floor_s, "floor_cpu": time.process_time() - floor_start, "flow_cpu": flow_cpu,
                          "simulators_cpu": simulators_cpu, "prefect_server_cpu": prefect_cpu}), flush=True)
    one = ghz_circuits(1)
    sweep_times = _times(lambda: circuit_sweep(one, shots=SHOTS))
    empty_times = _times(_empty_flow())
    print(json.dumps({"what": "fixed_cost", "seconds": statistics.median(sweep_times), "all": sweep_times,
                      "empty_flow": statistics.median(empty_times)}), flush=True)
    if cached:
        timed = cached_sweeps()
        reruns = [seconds for seconds, _ in timed[1:]]
        print(json.dumps({"what": "cached_rerun", "first": timed[0][0], "reruns": reruns,
                          "seconds": statistics.median(reruns)}), flush=True)


def cached_sweeps(n_circuits: int = CACHED_CIRCUITS, reruns: int = CACHED_RERUNS,
                  **options: Any) -> list[tuple[float, Any]]:
    """Seconds and report of a ``cache_results=True`` sweep's first run, then of its reruns under new sweep ids.

    The circuits' names are unique to the call, so nothing an earlier run stored can match;
    every rerun is asserted to have taken all its jobs from the cache. ``options``: more
    ``circuit_sweep`` arguments (the tuned figure's ``service``).
    """
    import uuid

    from prefect_ibmq.flows import circuit_sweep

    run_id = uuid.uuid4().hex[:8]
    circuits = ghz_circuits(n_circuits)
    for circuit in circuits:
        circuit.name = f"{circuit.name}_{run_id}"
    timed = []
    for sweep_id in [f"cache-first-{run_id}", *(f"cache-rerun{i}-{run_id}" for i in range(reruns))]:
        start = time.perf_counter()
        report = circuit_sweep(circuits, shots=SHOTS, sweep_id=sweep_id, cache_results=True, **options)
        timed.append((time.perf_counter() - start, report))
    first = timed[0][1]
    for _, report in timed[1:]:
        assert report.submitted == 0 and report.cached == len(first.job_ids), "a cached rerun submitted a job"
    return timed


def _cpu_seconds() -> tuple[float, float, float]:
    """CPU seconds of this process (the flow and the embedded job service), the simulators, Prefect's server."""
    import psutil

    me = psutil.Process()
    simulators = prefect = 0.0
    for child in me.children(recursive=True):
        try:
            times, command = child.cpu_times(), " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "prefect.server" in command:
            prefect += times.user + times.system
        else:
            simulators += times.user + times.system
    mine = me.cpu_times()
    return mine.user + mine.system, simulators, prefect


def _times(call: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(FIXED_COST_REPEATS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def _empty_flow() -> Callable[[], object]:
    """An empty sync ``@flow``: what a flow run from sync code costs on Prefect's own."""
    from prefect import flow

    @flow(name="empty-sync-flow")
    def empty() -> None:
        return None

    empty()  # its first run registers the flow
    return empty


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:] if arg != "cached"], cached="cached" in sys.argv[1:])
