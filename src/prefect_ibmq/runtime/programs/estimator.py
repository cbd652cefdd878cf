"""Program ``estimator``: EstimatorV2 PUBs; results stay ``PrimitiveResult`` for ``expectation_frame``.

Transpiling maps each PUB's observables onto the ISA circuit's layout
(``apply_layout``), so the observables sent name physical qubits. The fetched
result carries ``metadata["prefect_ibmq"]`` (job id, backend, the PUBs as sent)
so ``expectation_frame`` can label it without another request; a failed job's
has no PUB results (IBM keeps no partial results) and the reason as ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qiskit.primitives.containers.estimator_pub import EstimatorPub

from prefect_ibmq.runtime.programs import job_options, pass_manager, primitives_without_deprecation

METADATA_KEY = "prefect_ibmq"


class EstimatorProgram:
    """Expectation values and standard errors per PUB, observable and parameter set."""

    name = "estimator"
    primitives = frozenset({"estimator"})

    def prepare(self, items: Sequence[Any], backend: Any, optimization_level: int | None) -> list[EstimatorPub]:
        """Coerce ``items`` to PUBs, transpiled to the backend's ISA unless ``optimization_level`` is None."""
        pubs = [EstimatorPub.coerce(item) for item in items]
        if optimization_level is None:
            return pubs
        isa = pass_manager(backend, optimization_level).run([pub.circuit for pub in pubs])
        return [
            EstimatorPub(circuit, pub.observables.apply_layout(circuit.layout), pub.parameter_values, pub.precision)
            for circuit, pub in zip(isa, pubs, strict=False)
        ]

    def run(self, mode: Any, pubs: list[EstimatorPub], tags: list[str], options: Mapping[str, Any]) -> Any:
        """Submit the PUBs in ``mode`` with these job tags; returns the runtime job."""
        from qiskit_ibm_runtime import EstimatorV2

        opts = dict(options)
        opts.pop("shots", None)  # the estimator is asked for a precision, not shots
        precision = opts.pop("precision", None)
        with primitives_without_deprecation():
            estimator = EstimatorV2(mode=mode, options=job_options(opts, tags, default_precision=precision))
        return estimator.run(pubs)

    def circuit_names(self, inputs: Mapping[str, Any]) -> list[str | None]:
        """The circuit name of each PUB of a job's (decoded) inputs."""
        return [pub.circuit.name for pub in self._pubs(inputs)]

    def result(self, job_id: str, backend_name: str, result: Any, inputs: Mapping[str, Any]) -> Any:
        """The ``PrimitiveResult``, carrying the job id, backend and PUBs as sent in its metadata."""
        result.metadata[METADATA_KEY] = {"job_id": job_id, "backend": backend_name, "pubs": self._pubs(inputs)}
        return result

    def failed_result(self, job_id: str, backend_name: str, inputs: Mapping[str, Any], message: str) -> Any:
        """No PUB results: IBM Quantum Platform keeps no partial results of a failed job."""
        from qiskit.primitives import PrimitiveResult

        return PrimitiveResult([], metadata={METADATA_KEY: {"job_id": job_id, "backend": backend_name,
                                                            "pubs": [], "error": message}})

    @staticmethod
    def _pubs(inputs: Mapping[str, Any]) -> list[EstimatorPub]:
        return [EstimatorPub.coerce(tuple(pub) if isinstance(pub, list) else pub) for pub in inputs.get("pubs") or ()]


PROGRAM = EstimatorProgram()
