"""Figure 1b (BENCH_LARGE=1): a 100,000-circuit sweep against the floor, and the flow process's peak RSS.

The sweep (GHZ circuits of 2-5 qubits, 1,024 shots, tables written to ``output_dir``)
runs in a fresh subprocess that reports its wall time and peak RSS (VmHWM); the
job server runs in its own process (``prefect-ibmq server``), so its memory is not
counted. The floor, ``AerSimulator().run(circuits)``, runs in this process, in the
same run. It takes minutes, so ``make bench`` runs it only with ``BENCH_LARGE=1``
(``BENCH_LARGE_N`` sets another number of circuits, e.g. 30000 on a loaded machine).

Targets: sweep/floor <= 1.15; peak RSS < 1 GiB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import (
    ROOT,
    SHOTS,
    figure,
    floor,
    ghz_circuits,
    prefect_env,
    prefect_server,
    server_process,
    tmp_dir,
)
from benchmarks.memory import _peak_rss
from benchmarks.sweep import floor_figure

TOKEN = "bench-token-0123456789"
N_CIRCUITS = 100_000
GIB = 1024**3


def _child(n_circuits: int, url: str, output_dir: str) -> None:
    """Runs in the subprocess: the sweep, then wall time and peak RSS as JSON on stdout's last line."""
    import logging

    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.flows import circuit_sweep

    logging.getLogger("prefect").setLevel(logging.WARNING)
    credentials = IBMQServiceCredentials(url=url, token=TOKEN)
    circuit_sweep(ghz_circuits(8), shots=SHOTS, max_experiments_per_job=4, service=credentials)  # warm-up
    circuits = ghz_circuits(n_circuits)
    start = time.perf_counter()
    report = circuit_sweep(circuits, shots=SHOTS, output_dir=output_dir, service=credentials)
    elapsed = time.perf_counter() - start
    assert not report.failed_circuits
    print(json.dumps({"peak_rss": _peak_rss(), "seconds": elapsed, "jobs": len(report.job_ids)}))


def run(n_circuits: int | None = None) -> list[dict[str, Any]]:
    if os.environ.get("BENCH_LARGE") != "1":
        print("benchmarks.sweep_large: skipped (set BENCH_LARGE=1 to run the 100,000-circuit sweep)",
              file=sys.stderr)
        return []
    n_circuits = n_circuits or int(os.environ.get("BENCH_LARGE_N", N_CIRCUITS))
    prefect_server()
    with server_process(token=TOKEN) as url:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.sweep_large", "--child", str(n_circuits), url,
             str(tmp_dir("sweep-large-out"))],
            cwd=ROOT, env=prefect_env(), capture_output=True, text=True, timeout=1800,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep subprocess failed:\n{proc.stderr[-3000:]}")
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"sweep_large: {n_circuits:,} circuits in {measured['jobs']} jobs took {measured['seconds']:.1f} s, "
          f"peak RSS {measured['peak_rss'] / 1024**2:.0f} MiB; now the floor", file=sys.stderr, flush=True)
    floor_s = floor(ghz_circuits(n_circuits))
    mib = 1024**2
    return [
        floor_figure(n_circuits, measured["jobs"], measured["seconds"], floor_s),
        figure(f"sweep: peak RSS of the flow process, {n_circuits:,}-circuit sweep", measured["peak_rss"] / mib,
               GIB / mib, "< 1024 MiB", measured["peak_rss"] < GIB, unit="MiB"),
    ]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        for row in run():
            print(row)
