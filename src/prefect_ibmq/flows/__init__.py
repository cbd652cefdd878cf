"""Ready flows: ``run_circuits``, ``circuit_sweep`` and ``estimator_sweep``.

``run_circuits`` runs one job, ``circuit_sweep`` a resumable job set, ``estimator_sweep``
expectation values on IBM Quantum Platform.
"""

from prefect_ibmq.flows.estimator import EstimatorSweepReport, estimator_sweep
from prefect_ibmq.flows.run import RunReport, run_circuits
from prefect_ibmq.flows.sweep import SweepError, SweepReport, circuit_sweep

__all__ = [
    "EstimatorSweepReport", "RunReport", "SweepError", "SweepReport", "circuit_sweep", "estimator_sweep",
    "run_circuits",
]
