"""`make bench`: every figure against a baseline measured in the same run.

Prints one table and writes benchmarks/results.json. Each figure module has
``run() -> list[dict]`` with keys name, value_s, baseline_s, ratio, target (and
unit and met where the module gives them; ``value_s``/``baseline_s`` are in ``unit``,
seconds when it is absent).

Figures: 1 sweep (1b sweep_large, 100,000 circuits, only with BENCH_LARGE=1), 2 completion,
3 requests_per_job, 4 tables, 5 load, 6 memory, 7 fixed_cost, 8 timeouts, 9 caching,
10 dask_simulation, 11 replicas, 12 cold_start, 13 fairness, 14 queue (claims, positions, listings
and drain at depth; the full 10,000-job drain only with BENCH_LARGE=1).
``python -m benchmarks sweep tables`` runs only those and replaces their rows in results.json (the
others are kept; "seconds" is then that run's).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

FIGURE_MODULES = ["sweep", "sweep_large", "completion", "requests_per_job", "tables", "load", "memory",
                  "fixed_cost", "timeouts", "caching", "dask_simulation", "replicas", "cold_start",
                  "fairness", "queue"]


def main(argv: list[str]) -> int:
    chosen = argv or FIGURE_MODULES
    figures = []
    started_all = time.perf_counter()
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        rows = module.run()
        took = time.perf_counter() - started
        for row in rows:
            row.setdefault("unit", "s")
            row["module"] = name
        figures.extend(rows)
        print(f"[benchmarks.{name} took {took:.1f} s]", file=sys.stderr, flush=True)
    total = time.perf_counter() - started_all
    print(f"\n{'figure':<86} {'value':>9} {'baseline':>9} {'unit':<8} {'ratio':>7}  target")
    for f in figures:
        met = f.get("met")
        mark = "" if met is None else ("  met" if met else "  NOT MET")
        print(f"{f['name']:<86} {f['value_s']:>9.4g} {f['baseline_s']:>9.4g} {f['unit']:<8} "
              f"{f['ratio']:>7.3f}  {f['target']}{mark}")
    print(f"\nall figures took {total:.0f} s")
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(),
                               "seconds": round(total, 1), "figures": _merged(out, chosen, figures)}, indent=2))
    print(f"written: {out}")
    return 0


def _merged(out: Path, chosen: list[str], figures: list[dict]) -> list[dict]:
    """``figures`` in place of the chosen modules' rows of ``out``: running one figure keeps the others."""
    if not out.exists():
        return figures
    kept = [f for f in json.loads(out.read_text()).get("figures", []) if f.get("module") not in chosen]
    order = {name: index for index, name in enumerate(FIGURE_MODULES)}
    return sorted(kept + figures, key=lambda f: order.get(f.get("module", ""), len(order)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
