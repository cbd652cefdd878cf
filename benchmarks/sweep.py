"""Figure 1: a sweep end to end, against the naive user's loop and the floor.

1,000 GHZ circuits of 2-5 qubits as a user writes them (not transpiled), 1,024
shots, from circuits to the counts frame through ``circuit_sweep`` on an
in-process ``JobServer`` (the embedded default's code path), with a Prefect
server already up and a tiny warm-up sweep done.

Baselines, measured in the same run:
- naive: ``transpile(c, sim)`` then ``AerSimulator().run(c).result()``, one circuit at
  a time, as a user loops;
- floor: ``AerSimulator().run(circuits)`` on all circuits as they are (no transpile),
  aer's own parallelism on all cores.

Targets: sweep/naive <= 0.5, sweep/floor <= 1.5.

Run ``python -m benchmarks.sweep``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from benchmarks.common import figure, ghz_circuits, prefect_server, tmp_dir

N_CIRCUITS = 1000
SHOTS = 1024
#: The naive loop costs ~0.07-0.12 s per circuit (transpile(c, sim) dominates); pass a
#: smaller sample to time it on the first circuits (every width equally often) and scale.
NAIVE_SAMPLE = None


def naive(circuits: list) -> float:
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    sim = AerSimulator()
    start = time.perf_counter()
    for circuit in circuits:
        compiled = transpile(circuit, sim)
        AerSimulator().run(compiled, shots=SHOTS).result().get_counts()
    return time.perf_counter() - start


def floor(circuits: list) -> float:
    from qiskit_aer import AerSimulator

    start = time.perf_counter()
    result = AerSimulator().run(circuits, shots=SHOTS).result()
    result.get_counts()
    return time.perf_counter() - start


def sweep(circuits: list, **options: Any) -> tuple[float, Any]:
    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.flows import circuit_sweep
    from prefect_ibmq.server import JobServer, ServerConfig

    with JobServer(ServerConfig.default(tmp_dir("sweep"))) as server:
        credentials = IBMQServiceCredentials(url=server.url, token=server.token)
        circuit_sweep(circuits[:8], shots=SHOTS, max_experiments_per_job=4, service=credentials)  # warm-up
        start = time.perf_counter()
        report = circuit_sweep(circuits, shots=SHOTS, service=credentials, **options)
        elapsed = time.perf_counter() - start
    assert len(report.counts["circuit_index"].unique()) == len(circuits), "every circuit has counts"
    assert not report.failed_circuits
    return elapsed, report


def run(n_circuits: int = N_CIRCUITS, naive_sample: int | None = NAIVE_SAMPLE) -> list[dict[str, Any]]:
    """Measure figure 1. ``naive_sample``: time the naive loop on that many circuits and scale up."""
    prefect_server()
    logging.getLogger("prefect").setLevel(logging.WARNING)
    circuits = ghz_circuits(n_circuits)
    value, report = sweep(circuits)
    floor_s = floor(circuits)
    sample = circuits if naive_sample is None else circuits[:naive_sample]
    naive_s = naive(sample) * len(circuits) / len(sample)
    label = f"sweep: {n_circuits:,} GHZ circuits, {SHOTS} shots, {len(report.job_ids)} jobs"
    timed = "" if len(sample) == len(circuits) else f" ({len(sample)} timed, scaled)"
    return [
        figure(f"{label} / naive loop{timed}", value, naive_s, "ratio <= 0.5", value / naive_s <= 0.5),
        figure(f"{label} / floor (aer run, all cores)", value, floor_s, "ratio <= 1.5", value / floor_s <= 1.5),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
