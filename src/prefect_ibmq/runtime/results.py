"""Sampler results of IBM Quantum Platform as the ``qiskit.result.Result`` the legacy tables read.

A ``SamplerPubResult`` holds one ``BitArray`` per classical register. Each PUB
(each parameter set of a parametrised PUB) becomes one experiment whose counts
join the registers exactly as ``Result.get_counts()`` writes them for the same
circuit on the legacy platform: registers in circuit order, the first one
least significant, so ``counts_frame`` shows ``'10 1'`` on both platforms.

IBM Quantum Platform has no partial results: a failed job's result, when asked
for with ``partial``, is every experiment failed (so a sweep resubmits them all).
Pure qiskit: nothing here imports ``qiskit_ibm_runtime``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit.primitives import BitArray, PrimitiveResult
from qiskit.result import Result

from prefect_ibmq.timestamps import now_iso


def is_primitive_result(value: Any) -> bool:
    """Whether ``value`` is a ``PrimitiveResult`` (what a V2 primitive's job returns)."""
    return isinstance(value, PrimitiveResult)


def sampler_counts_result(
    result: Any, job_id: str | None = None, backend_name: str | None = None,
    circuit_names: Sequence[str | None] | None = None,
) -> Result:
    """A ``Result`` with one experiment per PUB element of a sampler ``PrimitiveResult``."""
    experiments = []
    for pub_index, pub_result in enumerate(result):
        name = circuit_names[pub_index] if circuit_names and pub_index < len(circuit_names) else None
        experiments.extend(_pub_experiments(pub_index, pub_result, name))
    return _result(job_id, backend_name, experiments, success=True)


def failed_result(
    job_id: str, backend_name: str | None, circuit_names: Sequence[str | None], message: str
) -> Result:
    """A ``Result`` of a failed job: every experiment failed with ``message`` (no partial results)."""
    experiments = [
        {"shots": 0, "success": False, "status": message, "data": {}, "header": {"name": name}}
        for name in circuit_names
    ]
    return _result(job_id, backend_name, experiments, success=False, status=message)


def _pub_experiments(pub_index: int, pub_result: Any, name: str | None) -> list[dict[str, Any]]:
    registers = [(key, value) for key, value in pub_result.data.items() if isinstance(value, BitArray)]
    if not registers:
        return [{"shots": 0, "success": False, "status": "no classical register measured", "data": {},
                 "header": {"name": name, "metadata": {"pub": pub_index}}}]
    joined = BitArray.concatenate_bits([bits for _, bits in registers]) if len(registers) > 1 else registers[0][1]
    header = {
        "creg_sizes": [[key, bits.num_bits] for key, bits in registers],
        "memory_slots": joined.num_bits,
    }
    experiments = []
    for index in np.ndindex(joined.shape):
        counts = joined.get_int_counts(loc=index if index else None)
        label = name if not index else f"{name}[{','.join(map(str, index))}]"
        experiments.append({
            "shots": joined.num_shots,
            "success": True,
            "status": "DONE",
            "data": {"counts": {hex(value): int(n) for value, n in counts.items()}},
            "header": {**header, "name": label, "metadata": {"pub": pub_index, "index": list(index)}},
        })
    return experiments


def _result(job_id: str | None, backend_name: str | None, experiments: list[dict[str, Any]],
            success: bool, status: str = "COMPLETED") -> Result:
    return Result.from_dict({
        "backend_name": backend_name or "",
        "backend_version": "ibm-quantum-platform",
        "date": now_iso(),
        "header": {},
        "qobj_id": job_id,
        "job_id": job_id,
        "status": status,
        "success": success,
        "results": experiments,
    })
