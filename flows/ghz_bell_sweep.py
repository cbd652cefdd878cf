"""Deployable flow: a sweep of Bell and GHZ circuits; run as a script it is `make run`.

    python flows/ghz_bell_sweep.py            # a sweep on the embedded job service
    prefect deploy --prefect-file deployments/prefect.yaml --name ghz-bell-sweep
"""

from __future__ import annotations

import sys

import pandas as pd
from prefect import flow

from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import ghz_bell_set
from prefect_ibmq.flows import SweepReport, circuit_sweep


@flow(name="ghz-bell-sweep")
def ghz_bell_sweep(
    count: int = 300,
    max_qubits: int = 5,
    backend_name: str = "aer_simulator",
    shots: int = 1024,
    max_experiments_per_job: int | None = 50,
    max_jobs_in_flight: int = 4,
    sweep_id: str | None = None,
    output_dir: str | None = "out/ghz-bell-sweep",
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


def main() -> int:
    report = ghz_bell_sweep()
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
    return 1 if report.failed_circuits else 0


if __name__ == "__main__":
    sys.exit(main())
