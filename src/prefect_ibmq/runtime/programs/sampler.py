"""Program ``sampler``: SamplerV2 PUBs or plain circuits; results as a legacy-shaped ``Result``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qiskit.primitives.containers.sampler_pub import SamplerPub

from prefect_ibmq.runtime.programs import job_options, pass_manager, primitives_without_deprecation
from prefect_ibmq.runtime.results import failed_result, sampler_counts_result


class SamplerProgram:
    """Counts per classical register, one experiment per PUB (see ``runtime.results``)."""

    name = "sampler"
    primitives = frozenset({"sampler"})

    def prepare(self, items: Sequence[Any], backend: Any, optimization_level: int | None) -> list[SamplerPub]:
        """Coerce ``items`` to PUBs, transpiled to the backend's ISA unless ``optimization_level`` is None."""
        pubs = [SamplerPub.coerce(item) for item in items]
        if optimization_level is None:
            return pubs
        isa = pass_manager(backend, optimization_level).run([pub.circuit for pub in pubs])
        return [SamplerPub(circuit, pub.parameter_values, pub.shots) for circuit, pub in zip(isa, pubs, strict=False)]

    def run(self, mode: Any, pubs: list[SamplerPub], tags: list[str], options: Mapping[str, Any]) -> Any:
        """Submit the PUBs in ``mode`` with these job tags; returns the runtime job."""
        from qiskit_ibm_runtime import SamplerV2

        opts = dict(options)
        shots = opts.pop("shots", None)
        with primitives_without_deprecation():
            sampler = SamplerV2(mode=mode, options=job_options(opts, tags, default_shots=shots))
        return sampler.run(pubs)

    def circuit_names(self, inputs: Mapping[str, Any]) -> list[str | None]:
        """The circuit name of each PUB of a job's (decoded) inputs."""
        return [_circuit(pub).name for pub in inputs.get("pubs") or ()]

    def result(self, job_id: str, backend_name: str, result: Any, inputs: Mapping[str, Any]) -> Any:
        """A ``Result`` with counts per PUB (one experiment each), named after the circuits."""
        return sampler_counts_result(result, job_id, backend_name, self.circuit_names(inputs))

    def failed_result(self, job_id: str, backend_name: str, inputs: Mapping[str, Any], message: str) -> Any:
        """What a partial fetch of a failed job returns: experiments that all failed with ``message``."""
        return failed_result(job_id, backend_name, self.circuit_names(inputs), message)


def _circuit(pub: Any) -> Any:
    return pub.circuit if hasattr(pub, "circuit") else pub[0]


PROGRAM = SamplerProgram()
