"""Figure 6: peak RSS of the flow process during a sweep of 20,000 circuits.

The sweep (1-2 qubit circuits, 16 shots, results written to ``output_dir``) runs in
a fresh subprocess, which reports its own peak RSS (VmHWM); the job server runs in
another process (``prefect-ibmq server``), so its memory is not counted. Both
processes use this run's Prefect server.

Baseline, in the same run: the same subprocess sweeping 1,000 circuits, i.e. what
the flow process costs before the sweep's size matters (imports, Prefect, qiskit).

Target: peak RSS < 1 GiB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import ROOT, figure, prefect_env, prefect_server, server_process, tmp_dir

TOKEN = "bench-token-0123456789"
N_CIRCUITS = 20_000
BASELINE_CIRCUITS = 1_000
SHOTS = 16
GIB = 1024**3


def _peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, which starts afresh at exec.

    (``ru_maxrss`` does not: Linux carries the pre-exec high-water mark of the forking
    parent over into the child, so a child of a big parent would report the parent's.)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _child(n_circuits: int, url: str, output_dir: str) -> None:
    """Runs in the subprocess: the sweep, then its peak RSS as JSON on the last line of stdout."""
    import logging

    from benchmarks.common import ghz_circuits
    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.flows import circuit_sweep

    logging.getLogger("prefect").setLevel(logging.WARNING)
    circuits = ghz_circuits(n_circuits, low=1, high=2)
    start = time.perf_counter()
    report = circuit_sweep(circuits, shots=SHOTS, output_dir=output_dir,
                           service=IBMQServiceCredentials(url=url, token=TOKEN))
    elapsed = time.perf_counter() - start
    assert not report.failed_circuits
    peak = _peak_rss()
    print(json.dumps({"peak_rss": peak, "seconds": elapsed, "jobs": len(report.job_ids)}))


def _measure(n_circuits: int, url: str) -> dict[str, Any]:
    out = tmp_dir("memory-out")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", str(n_circuits), url, str(out)],
        cwd=ROOT, env=prefect_env(), capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep subprocess failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(n_circuits: int = N_CIRCUITS) -> list[dict[str, Any]]:
    prefect_server()
    with server_process(token=TOKEN) as url:
        base = _measure(BASELINE_CIRCUITS, url)
        big = _measure(n_circuits, url)
    mib = 1024**2
    print(f"memory: {n_circuits} circuits in {big['jobs']} jobs took {big['seconds']:.1f} s; "
          f"{BASELINE_CIRCUITS} took {base['seconds']:.1f} s", file=sys.stderr)
    return [figure(f"memory: peak RSS of the flow process, {n_circuits:,}-circuit sweep (baseline "
                   f"{BASELINE_CIRCUITS:,})", big["peak_rss"] / mib, base["peak_rss"] / mib, "< 1024 MiB",
                   big["peak_rss"] < GIB, unit="MiB")]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        for row in run():
            print(row)
