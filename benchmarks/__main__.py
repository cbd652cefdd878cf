"""`make bench`: every figure against a baseline measured in the same run.

Prints one table and writes benchmarks/results.json. Each figure module has
``run() -> list[dict]`` with keys name, value, baseline, ratio, unit, target, met.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from benchmarks import tables

FIGURE_MODULES = [tables]


def main() -> int:
    figures = []
    for module in FIGURE_MODULES:
        started = time.perf_counter()
        figures.extend(module.run())
        print(f"[{module.__name__} took {time.perf_counter() - started:.1f} s]", file=sys.stderr)
    print(f"\n{'figure':<52} {'value':>10} {'baseline':>10} {'ratio':>7}  target")
    for f in figures:
        print(f"{f['name']:<52} {f['value_s']:>10.4f} {f['baseline_s']:>10.4f} {f['ratio']:>7.3f}  {f['target']}")
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps({"machine": platform.platform(), "figures": figures}, indent=2))
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
