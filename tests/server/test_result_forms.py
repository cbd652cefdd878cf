"""Results as the simulator makes them and as the wire carries them: every form gives the same qiskit Result."""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.result import Result
from server_helpers import bell

from prefect_ibmq.server.aerrun import make_aer, simulate

#: Keys whose values are measured times (or memory estimates): they differ between two runs of anything.
_TIMED = {"time_taken", "sample_measure_time", "max_memory_mb", "required_memory_mb"}


def _untimed(value: Any) -> Any:
    """``value`` without the measured times, with arrays as lists, so that two runs compare equal."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in _TIMED}
    if isinstance(value, list | tuple):
        return [_untimed(v) for v in value]
    if hasattr(value, "data") and hasattr(value.data, "tolist"):  # e.g. a saved Statevector
        return np.asarray(value.data).tolist()
    return value


def _saves_statevector() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name="saves")
    circuit.h(0)
    circuit.save_statevector()
    circuit.measure([0, 1], [0, 1])
    return circuit


def test_simulate_gives_the_experiments_of_aers_own_result():
    circuits = [bell(f"b{i}") for i in range(5)] + [_saves_statevector()]
    for memory in (False, True):
        options = {"shots": 50, "memory": memory, "seed_simulator": 11}
        ours = simulate(make_aer(1, None), circuits, dict(options))
        aers = make_aer(1, None).run(circuits, **options).result().to_dict()["results"]
        assert _untimed(ours) == _untimed(aers)
        assert {"time_taken", "metadata"} <= set(ours[0])  # the timed keys are there, only not compared
        rebuilt = Result.from_dict({"backend_name": "b", "backend_version": "1", "qobj_id": "q", "job_id": "j",
                                    "success": True, "results": ours})
        assert rebuilt.get_counts(0) == Result.from_dict(
            {"backend_name": "b", "backend_version": "1", "qobj_id": "q", "job_id": "j", "success": True,
             "results": aers}
        ).get_counts(0)
