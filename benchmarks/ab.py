"""The user's call (:mod:`benchmarks.user_call`) on another commit's code and on this tree's, back to back.

    python -m benchmarks.ab 2da2709 1000 10000     # old, new, old, new (ROUNDS times), one line each
    BENCH_AB_NEW=HEAD python -m benchmarks.ab 2da2709 1000   # a commit instead of this tree as "new"

The other commit's ``src`` is checked out in a temporary worktree (removed at the end)
and imported instead of the installed package; everything else (venv, machine, load)
is the same, so the ratio old/new is what the change did, whatever the machine's load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from benchmarks.common import ROOT
from benchmarks.sweep import user_calls

ROUNDS = int(os.environ.get("BENCH_AB_ROUNDS", "2"))


def _checkout(rev: str) -> str:
    where = tempfile.mkdtemp(prefix="prefect-ibmq-bench-ab-")
    subprocess.run(["git", "worktree", "add", "--detach", where, rev], cwd=ROOT, check=True, capture_output=True)
    return where


def main(rev: str, sizes: tuple[int, ...], new: str | None = None) -> None:
    trees = [_checkout(rev)] + ([_checkout(new)] if new else [])
    sides = [(rev, os.path.join(trees[0], "src")), (new or "this tree", os.path.join(trees[1], "src") if new else None)]
    try:
        for round_ in range(ROUNDS):
            for label, src in sides:
                for row in user_calls(sizes, src=src):
                    if row["what"] == "sweep":
                        print(f"round {round_} {label:>10}: {row['n']:>6,} circuits {row['seconds']:7.2f} s, "
                              f"floor {row['floor']:6.2f} s, ratio {row['seconds'] / row['floor']:5.2f}; CPU "
                              f"{row['flow_cpu']:6.2f} s flow+service, {row['simulators_cpu']:6.2f} s simulators, "
                              f"{row['prefect_server_cpu']:6.2f} s Prefect's server (floor {row['floor_cpu']:6.2f} s)",
                              flush=True)
                    else:
                        print(f"round {round_} {label:>10}: fixed cost {row['seconds']:.3f} s "
                              f"(empty sync flow {row['empty_flow']:.3f} s)", flush=True)
    finally:
        for where in trees:
            subprocess.run(["git", "worktree", "remove", "--force", where], cwd=ROOT, check=False)


if __name__ == "__main__":
    main(sys.argv[1], tuple(int(arg) for arg in sys.argv[2:]) or (1000,), os.environ.get("BENCH_AB_NEW"))
