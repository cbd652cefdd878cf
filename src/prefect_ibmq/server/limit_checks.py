"""One check per limit on a job, in one wording, wherever it is checked.

A backend's ``max_experiments``, ``max_shots`` and ``n_qubits`` and the job limits
of ``ServerConfig.limits`` are checked at a ``/v1`` submit (:mod:`.checks`), again
when the job is validated in the background (a restart may have changed the
configuration, :mod:`.validation`), at a runtime submit (:mod:`.runtime.budget`) and
by the runtime programs themselves (:mod:`.runtime.programs`): each by the one
function here, each refusal naming the value and the limit. :class:`InvalidJob` is
what every check of a job raises (``validation.InvalidJob`` is the same class).
"""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit

from .config import BackendSpec
from .limits import Limits

#: The seeds aer takes (a C++ int64).
SEED_RANGE = range(-(2**63), 2**63)


class InvalidJob(Exception):
    """A job the backend cannot run; the message names the circuit index and the problem."""


class OverLimit(InvalidJob):
    """A job past a limit; the message names the value and the limit."""


def too_many(count: int, what: str, owner: str, bound: str, maximum: int) -> str:
    """The refusal of a job of ``count`` ``what`` where ``owner`` runs at most ``bound``=``maximum``.

    One wording for the count wherever it is checked: here, and in the QPY header before decoding (:mod:`.qpyscan`).
    """
    return f"the job has {count} {what}; {owner} runs at most {bound}={maximum}"


def too_wide(label: str, qubits: int, owner: str, bound: str, maximum: int) -> str:
    """The refusal of circuit ``label`` on ``qubits`` qubits where ``owner`` has ``bound``=``maximum`` (as above)."""
    return f"{label} uses {qubits} qubits; {owner} has {bound}={maximum}"


def check_count(count: int, what: str, spec: BackendSpec) -> None:
    """At most ``spec.max_experiments`` experiments (``what``: circuits, pubs, items)."""
    if count > spec.max_experiments:
        raise OverLimit(too_many(count, what, spec.name, "max_experiments", spec.max_experiments))


def check_shots(name: str, shots: Any, spec: BackendSpec) -> None:
    """An integer number of shots from 1 to ``spec.max_shots`` (``name``: where the value was given)."""
    if isinstance(shots, bool) or not isinstance(shots, int) or not 0 < shots <= spec.max_shots:
        raise OverLimit(f"{name}={shots!r} is not accepted; give an int from 1 to max_shots={spec.max_shots} "
                        f"of {spec.name}")


def check_width(label: str, circuit: QuantumCircuit, spec: BackendSpec) -> None:
    """A circuit no wider than the backend (``label``: which circuit, e.g. ``circuit 3 ('bell')``)."""
    if circuit.num_qubits > spec.n_qubits:
        raise OverLimit(too_wide(label, circuit.num_qubits, spec.name, "n_qubits", spec.n_qubits))


def check_job_shots(total: int, breakdown: str, limits: Limits) -> None:
    """The job's shots over all its experiments (``breakdown``: how they add up) within ``limits.max_job_shots``."""
    if total > limits.max_job_shots:
        raise OverLimit(
            f"the job asks for {total} shots ({breakdown}); limits.max_job_shots={limits.max_job_shots}"
        )


def check_kept_bits(bits: int, breakdown: str, limits: Limits) -> None:
    """The classical bits a result keeps shot by shot within ``limits.max_job_classical_bits``."""
    if bits > limits.max_job_classical_bits:
        raise OverLimit(
            f"the job keeps {bits} classical bits ({breakdown}); "
            f"limits.max_job_classical_bits={limits.max_job_classical_bits}"
        )


def check_seed(name: str, seed: int) -> None:
    """A simulator seed aer takes."""
    if int(seed) not in SEED_RANGE:
        raise OverLimit(f"{name}={seed} must be in -2**63..2**63-1 (aer's seeds)")
