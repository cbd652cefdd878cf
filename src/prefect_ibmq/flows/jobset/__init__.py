"""The one sweep engine: a job set's chunks run on a platform by ``JobSetRunner``, whatever kind its jobs are.

- :mod:`.chunks`: names (sweep ids, job names, the job-set tag) and chunks of items;
- :mod:`.runner`: ``JobSetRunner`` (bounded pipeline, resubmission rounds, resume,
  cache, new batches for expired ones) and what it is given: a ``JobKind``, ``JobSetHook`` s,
  a ``BatchRenewal`` and an ``Admission``;
- :mod:`.budget`: ``QuantumBudget``, the admission of ``max_quantum_seconds``;
- :mod:`.counts`, :mod:`.expectations`: the two kinds (``circuit_sweep``, ``estimator_sweep``);
- :mod:`.progress`, :mod:`.report`, :mod:`.publish`: what a sweep shows while and after it runs.
"""

from prefect_ibmq.flows.jobset.chunks import (
    Chunk,
    SweepError,
    checked_sweep_id,
    first_round,
    items_per_job,
    jobset_tag,
)
from prefect_ibmq.flows.jobset.runner import (
    Admission,
    BatchRenewal,
    JobKind,
    JobSetHook,
    JobSetOptions,
    JobSetOutcome,
    JobSetRunner,
    existing_jobs,
)

__all__ = [
    "Admission", "BatchRenewal", "Chunk", "JobKind", "JobSetHook", "JobSetOptions", "JobSetOutcome", "JobSetRunner",
    "SweepError",
    "checked_sweep_id", "existing_jobs", "first_round", "items_per_job", "jobset_tag",
]
