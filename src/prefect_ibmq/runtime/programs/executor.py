"""Program ``executor``: the client's executor-based ``Sampler`` and ``Estimator`` (qiskit-ibm-runtime 0.50+).

The stock ``executor_sampler.Sampler`` and ``executor_estimator.Estimator`` turn PUBs
into a ``QuantumProgram`` on the client and submit it to program ``executor``; the
client's decoders turn the job's result back into a ``PrimitiveResult`` by the
program's semantic role (``sampler_v2`` / ``estimator_v2``). Which of the two a
submission uses is read from its items: estimator PUBs carry observables (an
``EstimatorPub``, or a tuple whose second element is observables); anything else is
sampled. ISA mapping is the ``sampler`` and ``estimator`` programs' own, and results
are handed on as theirs are: counts as a legacy ``Result``, expectation values as a
``PrimitiveResult`` with the job id and backend in ``metadata["prefect_ibmq"]``, but
no PUBs: the job's inputs hold the executor's items and mitigation plan, not the
PUBs' observables in their shape, so a table labels them from the PUBs it sent
(``expectation_frame(result, pubs=...)``, as ``estimator_sweep`` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import Pauli, SparseObservable, SparsePauliOp

from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.runtime.programs import job_options
from prefect_ibmq.runtime.programs.estimator import METADATA_KEY
from prefect_ibmq.runtime.programs.estimator import PROGRAM as ESTIMATOR
from prefect_ibmq.runtime.programs.sampler import PROGRAM as SAMPLER
from prefect_ibmq.runtime.results import failed_result, sampler_counts_result

#: What an estimator PUB's second element is made of (a sampler PUB's is parameter values: numbers).
_OBSERVABLE_TYPES = (str, dict, Pauli, SparsePauliOp, SparseObservable, ObservablesArray)
#: The client's semantic role of an executor job's ``QuantumProgram``, by primitive.
_ROLES = {"sampler_v2": "sampler", "estimator_v2": "estimator"}


class ExecutorProgram:
    """The executor-based Sampler (counts) or Estimator (expectation values), chosen by the items."""

    name = "executor"
    primitives = frozenset({"sampler", "estimator"})

    def prepare(self, items: Sequence[Any], backend: Any, optimization_level: int | None) -> list[Any]:
        """Estimator PUBs or sampler PUBs (never both in one job), as the estimator or sampler program maps them."""
        kinds = {_is_estimator_item(item) for item in items}
        if len(kinds) > 1:
            raise IBMQValueError("program 'executor' runs either estimator PUBs (with observables) or circuits / "
                                 "sampler PUBs in one job, not both; submit them as separate jobs")
        program = ESTIMATOR if kinds == {True} else SAMPLER
        return program.prepare(items, backend, optimization_level)

    def run(self, mode: Any, pubs: list[Any], tags: list[str], options: Mapping[str, Any]) -> Any:
        """Submit the PUBs through the client's executor ``Estimator`` or ``Sampler``; returns the runtime job."""
        opts = dict(options)
        shots = opts.pop("shots", None)
        if pubs and isinstance(pubs[0], EstimatorPub):
            from qiskit_ibm_runtime.executor_estimator import Estimator

            precision = opts.pop("precision", None)  # asked for a precision, not shots
            return Estimator(mode=mode, options=job_options(opts, tags, default_precision=precision)).run(pubs)
        from qiskit_ibm_runtime.executor_sampler import Sampler

        return Sampler(mode=mode, options=job_options(opts, tags, default_shots=shots)).run(pubs)

    def circuit_names(self, inputs: Mapping[str, Any]) -> list[str | None]:
        """The circuit name of each PUB: the sampler's items are its PUBs; the estimator's are listed in its plan."""
        program = inputs.get("quantum_program")
        if program is None:  # a private job's inputs are hidden
            return []
        names = [item.circuit.name for item in program.items]
        if _role(inputs) == "sampler":
            return names
        plan = (program.passthrough_data or {}).get("qiskit_mitigation") or []
        return [names[entry["program_item_index"]] for entry in plan if "observables" in entry]

    def result(self, job_id: str, backend_name: str, result: Any, inputs: Mapping[str, Any]) -> Any:
        """Counts as the sampler's ``Result``, or the estimator's ``PrimitiveResult`` with the job id and backend."""
        from qiskit.primitives import SamplerPubResult

        sampled = all(isinstance(pub, SamplerPubResult) for pub in result) if len(result) else \
            _role(inputs) == "sampler"
        if sampled:
            return sampler_counts_result(result, job_id, backend_name, self.circuit_names(inputs))
        result.metadata[METADATA_KEY] = {"job_id": job_id, "backend": backend_name, "pubs": None}
        return result

    def failed_result(self, job_id: str, backend_name: str, inputs: Mapping[str, Any], message: str) -> Any:
        """The sampler's or the estimator's form of a failed job (no partial results on IBM)."""
        if _role(inputs) == "estimator":
            return ESTIMATOR.failed_result(job_id, backend_name, {}, message)
        return failed_result(job_id, backend_name, self.circuit_names(inputs), message)


def _is_estimator_item(item: Any) -> bool:
    if isinstance(item, EstimatorPub):
        return True
    if isinstance(item, (SamplerPub, QuantumCircuit)) or not isinstance(item, (tuple, list)) or len(item) < 2:
        return False
    value = item[1]
    while isinstance(value, (list, tuple, np.ndarray)) and len(value):  # nested observables: look at the first
        value = value[0]
    return isinstance(value, _OBSERVABLE_TYPES)


def _role(inputs: Mapping[str, Any]) -> str:
    """``sampler`` or ``estimator`` by the job's program's semantic role (``sampler`` when hidden or unknown)."""
    program = inputs.get("quantum_program")
    return _ROLES.get(getattr(program, "_semantic_role", None) or "", "sampler")


PROGRAM = ExecutorProgram()
