"""Ready flows: ``run_circuits`` (one job) and ``circuit_sweep`` (a resumable job set)."""

from prefect_ibmq.flows.run import RunReport, run_circuits
from prefect_ibmq.flows.sweep import SweepError, SweepReport, circuit_sweep

__all__ = ["RunReport", "SweepError", "SweepReport", "circuit_sweep", "run_circuits"]
