"""Deployable flow: a sweep of Bell and GHZ circuits; run as a script it is `make run`.

    python flows/ghz_bell_sweep.py            # a sweep on the embedded job service
    prefect deploy --prefect-file deployments/prefect.yaml --name ghz-bell-sweep

As a script it prints warnings and its tables; Prefect's and the sweep's INFO lines go
to ``run.log`` in the output folder. Prefect's temporary server gets
``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` (120 s unless set) to start: the
first run also migrates a new database, which took 21 s on a busy 2-core machine
(Prefect's own default is 20 s).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pandas as pd
from prefect import flow
from prefect.logging.handlers import PrefectConsoleHandler
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import ghz_bell_set
from prefect_ibmq.flows import SweepReport, circuit_sweep

OUTPUT_DIR = "out/ghz-bell-sweep"
STARTUP_TIMEOUT_S = 120
#: Prefect's words when its temporary server did not answer in time (prefect.server.api.server).
NOT_STARTED = "Timed out while attempting to connect to ephemeral Prefect API server"


@flow(name="ghz-bell-sweep")
def ghz_bell_sweep(
    count: int = 300,
    max_qubits: int = 5,
    backend_name: str = "aer_simulator",
    shots: int = 1024,
    max_experiments_per_job: int | None = 50,
    max_jobs_in_flight: int = 4,
    sweep_id: str | None = None,
    output_dir: str | None = OUTPUT_DIR,
    service: IBMQServiceCredentials | None = None,
) -> SweepReport:
    """Sweep ``count`` Bell and GHZ(3..max_qubits) circuits; tables and pictures go to ``output_dir``."""
    return circuit_sweep(
        ghz_bell_set(count, max_qubits),
        backend_name=backend_name,
        shots=shots,
        max_experiments_per_job=max_experiments_per_job,
        max_jobs_in_flight=max_jobs_in_flight,
        sweep_id=sweep_id,
        output_dir=output_dir,
        service=service,
    )


def fidelity_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Per circuit family: the share of shots in |0...0> or |1...1> (1.0 for an ideal GHZ state)."""
    ok = counts[counts["success"].astype(bool)]
    bits = ok["bitstring"].astype(str).str.replace(" ", "", regex=False)
    ideal = bits.str.fullmatch(r"0+|1+")
    family = ok["circuit"].astype(str).str.replace(r"_\d+$", "", regex=True)
    frame = pd.DataFrame({"family": family, "ideal": ok["probability"].where(ideal, 0.0)})
    per_circuit = frame.groupby([family, ok["circuit_index"]])["ideal"].sum()
    return per_circuit.groupby(level=0).agg(circuits="count", mean_fidelity="mean", min_fidelity="min")


def log_to_file(path: Path) -> logging.Logger:
    """INFO and above to ``path``; the console keeps warnings and errors only.

    Returns a logger that writes to the file alone (for details the console sums up in one line).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for console in root.handlers:
        if isinstance(console, PrefectConsoleHandler):
            console.setLevel(logging.WARNING)
    root.addHandler(handler)
    logging.getLogger("prefect_ibmq").setLevel(logging.INFO)
    file_only = logging.getLogger("ghz_bell_sweep")
    file_only.propagate = False
    file_only.addHandler(handler)
    return file_only


def print_tables(report: SweepReport) -> None:
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_rows", 60):
        print("\nJobs (seconds per step):")
        columns = ["job_id", "name", "status", "num_experiments", "validation_s", "queue_s", "run_s", "total_s"]
        print(report.summary[columns].round(3).to_string(index=False))
        print("\nTime per step (seconds over jobs):")
        durations = report.timings.dropna(subset=["duration_s"]).groupby("step", observed=True)["duration_s"]
        print(durations.describe()[["count", "50%", "max"]].round(4).rename(columns={"50%": "median"}))
        print("\nFidelity by circuit family:")
        print(fidelity_table(report.counts))
    print(f"\nSweep {report.sweep_id}: {len(report.job_ids)} jobs, outputs (tables and pictures):")
    for name, path in report.outputs.items():
        print(f"  {name}: {path}")


def main() -> int:
    """``make run``: the sweep, its tables on stdout; 1 if circuits failed, 2 if Prefect did not start."""
    log = Path(OUTPUT_DIR) / "run.log"
    details = log_to_file(log)
    variable = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.name
    timeout = int(os.environ.get(variable, STARTUP_TIMEOUT_S))
    try:
        with temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: timeout}):
            report = ghz_bell_sweep(output_dir=OUTPUT_DIR)
    except RuntimeError as exc:
        if NOT_STARTED not in str(exc):
            raise
        details.error("%s", exc)
        print(f"Prefect's temporary server did not start within {timeout} s; on a busy machine give it longer, "
              f"e.g. {variable}=300 make run (details in {log}).", file=sys.stderr)
        return 2
    print_tables(report)
    print(f"  log: {log}")
    return 1 if report.failed_circuits else 0


if __name__ == "__main__":
    sys.exit(main())
