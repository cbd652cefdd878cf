"""Program ``sampler``: SamplerV2 pubs ``[circuit, parameter values, shots]`` on qiskit-aer's SamplerV2."""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BitArray, DataBin, PrimitiveResult
from qiskit.primitives.containers import SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2

from ...config import BackendSpec
from ...limit_checks import check_shots
from ..codec import encode_result
from .common import InvalidParams, check_circuit, check_pub_count, options_of, parameter_values, pub_list, seed_from

PROGRAM_ID = "sampler"
#: Shots of a pub that names none, when ``options.default_shots`` is not set either (IBM's default).
DEFAULT_SHOTS = 4096


def _pubs(params: Any, spec: BackendSpec) -> list[SamplerPub]:
    raw = pub_list(params)
    check_pub_count(raw, spec)
    default_shots = options_of(params).get("default_shots") or DEFAULT_SHOTS
    pubs = []
    for index, item in enumerate(raw):
        circuit = item[0]
        values = item[1] if len(item) > 1 else None
        shots = item[2] if len(item) > 2 and item[2] is not None else default_shots
        check_circuit(index, circuit, spec)
        if circuit.num_clbits == 0:
            raise InvalidParams(f"pub {index}: the circuit has no classical bits to sample")
        check_shots(f"pub {index}: shots", shots, spec)
        try:
            pubs.append(SamplerPub.coerce((circuit, parameter_values(index, circuit, values), shots)))
        except InvalidParams:
            raise
        except Exception as exc:  # qiskit's own checks (ValueError, TypeError)
            raise InvalidParams(f"pub {index}: {exc}") from exc
    return pubs


def check(params: Any, spec: BackendSpec) -> list[QuantumCircuit]:
    """The pubs' circuits, once the parameters are checked (InvalidParams naming what is wrong)."""
    return [pub.circuit for pub in _pubs(params, spec)]


def run(params: Any, spec: BackendSpec, aer: AerSimulator, seed: int, dry_run: bool = False) -> str:
    """Run the pubs with SamplerV2 on ``aer``, seeded; the result text.

    With ``dry_run`` nothing runs: every register holds random bits, in the shapes a real run gives.
    """
    pubs = _pubs(params, spec)
    if dry_run:
        rng = np.random.default_rng(seed)
        return encode_result(PrimitiveResult([_mock(pub, rng) for pub in pubs], metadata={"version": 2}))
    sampler = SamplerV2.from_backend(aer, seed=seed_from(options_of(params), seed))
    return encode_result(sampler.run(pubs).result())


def _mock(pub: SamplerPub, rng: np.random.Generator) -> SamplerPubResult:
    registers = {
        creg.name: BitArray.from_bool_array(rng.integers(0, 2, pub.shape + (pub.shots, creg.size)) == 1, "little")
        for creg in pub.circuit.cregs
    }
    metadata = {"shots": pub.shots, "circuit_metadata": pub.circuit.metadata}
    return SamplerPubResult(DataBin(**registers, shape=pub.shape), metadata=metadata)
