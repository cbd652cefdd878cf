"""Figure 12: the cold first job, as a new user meets it: a fresh process, a fresh ``IBMQService.local()``.

Each of ``RUNS`` fresh Python processes (:func:`child`) imports prefect-ibmq, opens
``IBMQService.local()`` on a new data directory (the embedded service starts there),
and times its first job from ``backend.run`` to ``result()``: a Bell pair, 1,024 shots
on ``aer_simulator``, then the same on ``noisy_simulator`` (transpiled for it first,
untimed). Everything the embedded service prepares (simulator processes, their aer
and noise models) is either ready by then or paid for by that first job.

Baseline, in the same processes: the second job of each kind (everything warm).

Target: the first job within 1.5 s of submit (on a quiet 2-core machine).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks.common import ROOT, figure

RUNS = 3
TARGET_S = 1.5


def child() -> dict[str, float]:
    """One fresh process's first and second job per backend, seconds from submit to result."""
    from qiskit import transpile

    from prefect_ibmq import IBMQService
    from prefect_ibmq.circuits import bell

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="prefect-ibmq-bench-cold-") as data_dir:
        service = IBMQService.local(data_dir)
        try:
            for name in ("aer_simulator", "noisy_simulator"):
                backend = service.backend(name)
                circuit = bell() if name == "aer_simulator" else transpile(bell(), backend, seed_transpiler=1)
                for attempt in ("first", "second"):
                    started = time.perf_counter()
                    backend.run(circuit, shots=1024).result(timeout=120)
                    out[f"{name}_{attempt}"] = time.perf_counter() - started
        finally:
            started = time.perf_counter()
            service.close()
            out["close"] = time.perf_counter() - started
    return out


def measure(runs: int = RUNS) -> list[dict[str, float]]:
    """``runs`` fresh processes' timings (each a new interpreter, so nothing is imported before)."""
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-m", "benchmarks.cold_start", "--child"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300, check=True)
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return samples


def run() -> list[dict[str, Any]]:
    samples = measure()
    rows = []
    for name in ("aer_simulator", "noisy_simulator"):
        first = statistics.median(sample[f"{name}_first"] for sample in samples)
        second = statistics.median(sample[f"{name}_second"] for sample in samples)
        rows.append(figure(f"cold first job: Bell pair on {name} from a fresh IBMQService.local(), submit to "
                           f"result, median of {RUNS} fresh processes / second job", first, second,
                           f"<= {TARGET_S} s", first <= TARGET_S))
    close = statistics.median(sample["close"] for sample in samples)
    rows.append(figure(f"cold first job: IBMQService.close() of that service, median of {RUNS} / 5 s", close, 5.0,
                       "<= 5 s", close <= 5.0))
    return rows


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(child()))
    else:
        for row in run():
            print(row)
