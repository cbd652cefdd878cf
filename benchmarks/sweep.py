"""Figure 1: a sweep as a user calls it, against the naive user's loop, batch transpile + run, and the floor.

The figure is the call a user makes (:mod:`benchmarks.user_call`): ``circuit_sweep(circuits,
shots=1024)`` from sync code in a fresh process, the embedded default, Prefect's own
temporary server and its default INFO logging, the first sweep after a 5-circuit
warm-up; GHZ circuits of 2-5 qubits as a user writes them (not transpiled), at 1,000
and 10,000 circuits, each against the floor measured right after it in that process.

Beside it, the tuned configuration this figure used to measure (labelled "tuned"): an
in-process ``JobServer`` with explicit credentials, Prefect's logger at WARNING, a Prefect
test server set up beforehand, the sweeps one after another after an 8-circuit warm-up.

Baselines, measured in the same run:
- naive: ``transpile(c, sim)`` then ``AerSimulator().run(c).result()``, one circuit at
  a time, as a user loops (timed on the first ``NAIVE_SAMPLE`` circuits and scaled:
  every width equally often; the whole loop takes ~90 s);
- batch: ``transpile(circuits, sim)`` then ``sim.run(compiled)``, all circuits at once;
- floor: ``AerSimulator().run(circuits, max_parallel_experiments=0)`` on all circuits
  as they are (no transpile), experiments in parallel on all cores.

Targets: sweep/naive <= 0.5; sweep/floor <= 1.5 at 1,000 and <= 1.2 at 10,000;
sweep/batch < 1. The 100,000-circuit figure is ``benchmarks.sweep_large``.

Run ``python -m benchmarks.sweep``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import ROOT, SHOTS, figure, floor, ghz_circuits, prefect_server, tmp_dir
from benchmarks.user_call import user_environment

SIZES = (1_000, 10_000)
FLOOR_TARGETS = {1_000: 1.5, 10_000: 1.2, 100_000: 1.15}
NAIVE_SAMPLE = 100


def naive(circuits: list) -> float:
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    sim = AerSimulator()
    start = time.perf_counter()
    for circuit in circuits:
        compiled = transpile(circuit, sim)
        AerSimulator().run(compiled, shots=SHOTS).result().get_counts()
    return time.perf_counter() - start


def batch(circuits: list) -> float:
    """What a user who knows qiskit writes: transpile all circuits at once, one run."""
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    sim = AerSimulator()
    start = time.perf_counter()
    sim.run(transpile(circuits, sim), shots=SHOTS).result().get_counts()
    return time.perf_counter() - start


def user_calls(sizes: tuple[int, ...], src: str | None = None, cached: bool = False) -> list[dict[str, Any]]:
    """The measurements of :mod:`benchmarks.user_call` in a fresh process (``src``: another tree's code).

    ``cached``: the cached rerun too.
    """
    args = [*map(str, sizes), *(["cached"] if cached else [])]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.user_call", *args], cwd=ROOT,
                          env=user_environment(src), capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the user's call failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def tuned_sweeps(sizes: tuple[int, ...]) -> dict[int, tuple[float, Any]]:
    """Wall seconds and report of one sweep per size, tuned as the figure used to be measured."""
    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.flows import circuit_sweep
    from prefect_ibmq.server import JobServer, ServerConfig

    prefect_server()
    logging.getLogger("prefect").setLevel(logging.WARNING)
    timed = {}
    with JobServer(ServerConfig.default(tmp_dir("sweep"))) as server:
        credentials = IBMQServiceCredentials(url=server.url, token=server.token)
        circuit_sweep(ghz_circuits(8), shots=SHOTS, max_experiments_per_job=4, service=credentials)  # warm-up
        for n in sizes:
            start = time.perf_counter()
            report = circuit_sweep(ghz_circuits(n), shots=SHOTS, service=credentials)
            timed[n] = (time.perf_counter() - start, report)
            assert report.counts["circuit_index"].nunique() == n and not report.failed_circuits
    return timed


def floor_figure(n: int, jobs: int, value: float, floor_s: float, how: str = "") -> dict[str, Any]:
    """The sweep/floor row at ``n`` circuits (target: that of the largest listed size up to ``n``)."""
    target = FLOOR_TARGETS[max([size for size in FLOOR_TARGETS if size <= n], default=min(FLOOR_TARGETS))]
    return figure(f"sweep{how}: {n:,} GHZ circuits, {SHOTS} shots, {jobs} jobs / floor (aer run, all cores)",
                  value, floor_s, f"ratio <= {target}", value / floor_s <= target)


def run(sizes: tuple[int, ...] = SIZES, naive_sample: int | None = NAIVE_SAMPLE) -> list[dict[str, Any]]:
    """Measure figure 1. ``naive_sample``: time the naive loop on that many circuits and scale up (None: all)."""
    calls = {row["n"]: row for row in user_calls(sizes) if row["what"] == "sweep"}
    rows = []
    first = calls[sizes[0]]
    circuits = ghz_circuits(first["n"])
    sample = circuits if naive_sample is None else circuits[:naive_sample]
    naive_s = naive(sample) * len(circuits) / len(sample)
    batch_s = batch(circuits)
    label = f"sweep, the user's call: {first['n']:,} GHZ circuits, {SHOTS} shots, {first['jobs']} jobs"
    scaled = "" if len(sample) == len(circuits) else f" ({len(sample)} timed, scaled)"
    value = first["seconds"]
    rows.append(figure(f"{label} / naive loop{scaled}", value, naive_s, "ratio <= 0.5", value / naive_s <= 0.5))
    rows.append(figure(f"{label} / batch transpile(circuits) + run", value, batch_s, "ratio < 1", value < batch_s))
    for n in sizes:
        rows.append(floor_figure(n, calls[n]["jobs"], calls[n]["seconds"], calls[n]["floor"], ", the user's call"))
    for n, (value, report) in tuned_sweeps(sizes).items():
        rows.append(floor_figure(n, len(report.job_ids), value, floor(ghz_circuits(n)), ", tuned"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
