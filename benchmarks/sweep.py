"""Figure 1: a sweep end to end, against the naive user's loop, batch transpile + run, and the floor.

GHZ circuits of 2-5 qubits as a user writes them (not transpiled), 1,024 shots,
from circuits to the counts frame through ``circuit_sweep`` on an in-process
``JobServer`` (the embedded default's code path), with a Prefect server already
up and a tiny warm-up sweep done; at 1,000 and 10,000 circuits.

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

import logging
import time
from typing import Any

from benchmarks.common import figure, ghz_circuits, prefect_server, tmp_dir

SIZES = (1_000, 10_000)
FLOOR_TARGETS = {1_000: 1.5, 10_000: 1.2, 100_000: 1.15}
SHOTS = 1024
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


def floor(circuits: list) -> float:
    """aer alone on every core: the circuits as they are, experiments in parallel, counts read out."""
    from qiskit_aer import AerSimulator

    start = time.perf_counter()
    # Experiments in parallel (max_parallel_experiments=0), as the issue defines the floor: aer's
    # default splits each experiment's shots over the cores instead, whose fork/join costs several
    # times a 2-5 qubit simulation and swings 10x with the machine's load.
    result = AerSimulator().run(circuits, shots=SHOTS, max_parallel_experiments=0).result()
    result.get_counts()
    return time.perf_counter() - start


def sweeps(sizes: tuple[int, ...], **options: Any) -> dict[int, tuple[float, Any]]:
    """Wall seconds and report of one sweep per size, on one in-process job server."""
    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.flows import circuit_sweep
    from prefect_ibmq.server import JobServer, ServerConfig

    timed = {}
    with JobServer(ServerConfig.default(tmp_dir("sweep"))) as server:
        credentials = IBMQServiceCredentials(url=server.url, token=server.token)
        circuit_sweep(ghz_circuits(8), shots=SHOTS, max_experiments_per_job=4, service=credentials)  # warm-up
        for n in sizes:
            circuits = ghz_circuits(n)
            start = time.perf_counter()
            report = circuit_sweep(circuits, shots=SHOTS, service=credentials, **options)
            timed[n] = (time.perf_counter() - start, report)
            assert report.counts["circuit_index"].nunique() == n, "every circuit has counts"
            assert not report.failed_circuits
    return timed


def floor_figure(n: int, jobs: int, value: float, floor_s: float) -> dict[str, Any]:
    """The sweep/floor row at ``n`` circuits (target: that of the largest listed size up to ``n``)."""
    target = FLOOR_TARGETS[max([size for size in FLOOR_TARGETS if size <= n], default=min(FLOOR_TARGETS))]
    return figure(f"sweep: {n:,} GHZ circuits, {SHOTS} shots, {jobs} jobs / floor (aer run, all cores)",
                  value, floor_s, f"ratio <= {target}", value / floor_s <= target)


def run(sizes: tuple[int, ...] = SIZES, naive_sample: int | None = NAIVE_SAMPLE) -> list[dict[str, Any]]:
    """Measure figure 1. ``naive_sample``: time the naive loop on that many circuits and scale up (None: all)."""
    prefect_server()
    logging.getLogger("prefect").setLevel(logging.WARNING)
    timed = sweeps(sizes)
    rows = []
    first = sizes[0]
    circuits = ghz_circuits(first)
    value, report = timed[first]
    sample = circuits if naive_sample is None else circuits[:naive_sample]
    naive_s = naive(sample) * len(circuits) / len(sample)
    batch_s = batch(circuits)
    label = f"sweep: {first:,} GHZ circuits, {SHOTS} shots, {len(report.job_ids)} jobs"
    scaled = "" if len(sample) == len(circuits) else f" ({len(sample)} timed, scaled)"
    rows.append(figure(f"{label} / naive loop{scaled}", value, naive_s, "ratio <= 0.5", value / naive_s <= 0.5))
    rows.append(figure(f"{label} / batch transpile(circuits) + run", value, batch_s, "ratio < 1", value < batch_s))
    for n in sizes:
        value, report = timed[n]
        rows.append(floor_figure(n, len(report.job_ids), value, floor(ghz_circuits(n))))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
