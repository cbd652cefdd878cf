"""Running one chunk of a job's circuits on aer: what simulator processes, Dask workers and threads execute.

A chunk travels as the job's whole QPY (:class:`JobQpy`) and the range of its
circuits. The server thus never decodes a job to run it nor encodes each chunk
again (together ~42 us per circuit of the server's CPU, holding its GIL); each
simulator process decodes a job's QPY once, on its first chunk of that job, and
keeps the last few jobs' circuits.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.backends.backend_utils import format_save_type

from prefect_ibmq.wire import MEAS_LEVEL_CLASSIFIED, qpy_to_circuits

from .config import BackendSpec
from .simops import rebuild_simulator_instructions

#: Seed of the GenericBackendV2 behind a noisy backend without its own seed: the
#: published properties then stay the same across restarts.
DEFAULT_NOISE_SEED = 1234
#: Ideal circuits up to this width run on aer's statevector method rather than
#: the stabilizer aer picks for Clifford circuits: sampling 1,024 shots from a
#: small statevector costs ~25% less CPU than 1,024 stabilizer measurements.
STATEVECTOR_MAX_QUBITS = 10
#: Decoded jobs a process keeps: the jobs of every worker thread, with one chunk of lookahead each.
DECODED_JOBS_KEPT = 8
#: Noise models (the ``noise_model`` run option) a process keeps built.
NOISE_MODELS_KEPT = 4


@dataclass(frozen=True)
class JobQpy:
    """A job's circuits as the QPY the service stored, named by its digest, sent with each of its chunks."""

    digest: str
    data: bytes
    count: int

    @classmethod
    def of(cls, data: bytes, count: int) -> JobQpy:
        """The QPY ``data`` of ``count`` circuits, with its digest."""
        return cls(hashlib.blake2b(data, digest_size=16).hexdigest(), data, count)

    def circuits(self) -> list[QuantumCircuit]:
        """All the job's circuits, decoded here (see :func:`job_circuits` for the cached copy)."""
        return qpy_to_circuits(self.data)


@dataclass(frozen=True)
class NoiseModelRef:
    """A job's ``noise_model`` option as JSON text, named by its digest (each process builds it once)."""

    digest: str
    text: str


def generic_backend(spec: BackendSpec) -> GenericBackendV2 | None:
    """The GenericBackendV2 behind a noisy backend (same seed, same noise everywhere); else None."""
    if spec.kind != "noisy":
        return None
    return GenericBackendV2(
        num_qubits=spec.n_qubits, seed=spec.seed if spec.seed is not None else DEFAULT_NOISE_SEED
    )


def make_aer(threads: int, generic: GenericBackendV2 | None) -> AerSimulator:
    """A fresh AerSimulator for a backend, with at most ``threads`` OpenMP threads (one per worker thread).

    aer's default parallelises the shots of each experiment over every core, whose
    fork/join per experiment costs more than a 2-5 qubit circuit's simulation: on 2 cores,
    1,000 GHZ circuits take ~1.1 s of CPU with one thread and ~4-5 s with the default (the
    busy-waiting OpenMP threads get worse when the cores are shared). With several threads,
    aer parallelises whole experiments of a chunk instead of shots.
    """
    options: dict[str, Any] = {"max_parallel_threads": max(1, threads)}
    if threads > 1:
        options.update(max_parallel_experiments=0, max_parallel_shots=1)
    if generic is not None:
        return AerSimulator.from_backend(generic, **options)
    return AerSimulator(**options)


def simulate(aer: AerSimulator, part: list[QuantumCircuit], run_options: dict[str, Any]) -> list[dict[str, Any]]:
    """Aer's per-experiment result dicts for ``part`` (those of ``Result.to_dict()``); raises if aer fails."""
    experiments = _execute(aer, part, run_options)
    if len(experiments) != len(part):
        raise RuntimeError(f"aer returned {len(experiments)} results for {len(part)} circuits")
    return experiments


#: AerSimulator per (backend spec, threads, thread), built on a process's first chunk for it
#: (per thread: a Dask worker, or the server with simulation="threads", runs chunks in several threads).
_AERS: dict[tuple[str, int, int], AerSimulator] = {}
_DECODED: OrderedDict[str, list[QuantumCircuit]] = OrderedDict()
_DECODED_LOCK = threading.Lock()
_NOISE_MODELS: OrderedDict[str, Any] = OrderedDict()


def simulate_qpy(
    spec: BackendSpec, threads: int, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
) -> list[dict[str, Any]]:
    """What a pool process, Dask worker or simulation thread runs: circuits ``start:stop`` of ``job`` on aer.

    Ideal circuits no wider than ``STATEVECTOR_MAX_QUBITS`` run on the statevector method.
    """
    key = (spec.model_dump_json(), threads, threading.get_ident())
    aer = _AERS.get(key)
    if aer is None:
        aer = _AERS[key] = make_aer(threads, generic_backend(spec))
    circuits = job_circuits(job)
    if not 0 <= start < stop <= len(circuits):
        raise ValueError(f"circuits {start}:{stop} asked of a job of {len(circuits)}")
    part = circuits[start:stop]
    options = dict(run_options)
    ref = options.get("noise_model")
    if isinstance(ref, NoiseModelRef):
        options["noise_model"] = noise_model(ref)
    elif "method" not in options and spec.kind != "noisy" and _widest(part) <= STATEVECTOR_MAX_QUBITS:
        options["method"] = "statevector"
    return simulate(aer, part, options)


def _widest(circuits: list[QuantumCircuit]) -> int:
    return max(circuit.num_qubits for circuit in circuits)


def warm_up(backends: list[dict[str, Any]], threads: int, for_thread: int | None = None) -> None:
    """Build each backend's aer (the noisy one's noise model too) and run one circuit on it.

    What a fresh simulator process does before it takes chunks (``backends``: the specs,
    as ``BackendSpec.model_dump()``), so a job's first chunk does not pay for it.
    ``for_thread``: the thread whose chunks will use them (default: this one).
    """
    probe = QuantumCircuit(1, 1)  # x and measure: in every backend's basis, nothing to transpile
    probe.x(0)
    probe.measure(0, 0)
    for spec in (BackendSpec.model_validate(entry) for entry in backends):
        key = (spec.model_dump_json(), threads, for_thread or threading.get_ident())
        aer = _AERS.get(key)
        if aer is None:
            aer = make_aer(threads, generic_backend(spec))
            simulate(aer, [probe], {"shots": 1})
            _AERS.setdefault(key, aer)


def noise_model(ref: NoiseModelRef) -> Any:
    """The qiskit-aer NoiseModel of a ``noise_model`` option, rebuilt from its dict once per process."""
    from qiskit_aer.noise import NoiseModel

    with _DECODED_LOCK:
        built = _NOISE_MODELS.get(ref.digest)
    if built is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # aer's only way back from its own dict
            built = NoiseModel.from_dict(json.loads(ref.text))
        with _DECODED_LOCK:
            _NOISE_MODELS[ref.digest] = built
            while len(_NOISE_MODELS) > NOISE_MODELS_KEPT:
                _NOISE_MODELS.popitem(last=False)
    return built


def job_circuits(job: JobQpy) -> list[QuantumCircuit]:
    """The job's circuits, decoded on this process's first chunk of the job and kept for its next ones."""
    with _DECODED_LOCK:
        circuits = _DECODED.get(job.digest)
        if circuits is not None:
            _DECODED.move_to_end(job.digest)
            return circuits
    # Outside the lock: another thread's chunk need not wait for this decode.
    circuits = rebuild_simulator_instructions(job.circuits())
    if len(circuits) != job.count:
        raise ValueError(f"the job's QPY holds {len(circuits)} circuits, not {job.count}")
    with _DECODED_LOCK:
        _DECODED[job.digest] = circuits
        while len(_DECODED) > DECODED_JOBS_KEPT:
            _DECODED.popitem(last=False)
    return circuits


def _execute(aer: AerSimulator, part: list[QuantumCircuit], run_options: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``part`` on ``aer`` in the calling thread; the experiments as ``Result.to_dict()`` lists them.

    ``aer.run`` queues every call of the process on aer's one shared executor thread
    (``qiskit_aer.jobs.utils.DEFAULT_EXECUTOR``, max_workers=1), so two server workers
    would wait on each other's jobs there and pay a thread hand-off per chunk. The
    function that thread would call runs the same simulation here instead, and
    returns aer's output unwrapped: building a ``Result`` from it only to turn it
    back into dicts cost ~65 us per experiment, ~7 % of a 2-5 qubit simulation.
    """
    execute = getattr(aer, "_execute_circuits_job", None)
    if execute is None:  # another aer version: the public path
        return list(aer.run(part, **run_options).result().to_dict()["results"])
    output = execute(part, None, dict(run_options), job_id=str(uuid.uuid4()), format_result=False)
    if not isinstance(output, dict) or not isinstance(output.get("results"), list):
        raise RuntimeError(f"aer returned no results: {str(output)[:200]}")
    experiments: list[dict[str, Any]] = output["results"]
    for experiment in experiments:
        _format_saved_data(experiment)
        # Result.from_dict's default, which to_dict() writes out.
        experiment.setdefault("meas_level", MEAS_LEVEL_CLASSIFIED)
    return experiments


def _format_saved_data(experiment: dict[str, Any]) -> None:
    """Turn aer's saved data (``save_statevector`` and the like) into qiskit objects, as aer's own ``Result`` does."""
    data = experiment.get("data") or {}
    metadata = experiment.get("metadata") or {}
    types, subtypes = metadata.get("result_types", {}), metadata.get("result_subtypes", {})
    for key, value in data.items():
        if key in types:
            data[key] = format_save_type(value, types[key], subtypes[key])
