"""Results as the simulator makes them and as the wire carries them: every form gives the same qiskit Result."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.result import Result

from prefect_ibmq.circuits import bell, ghz
from prefect_ibmq.server.aerrun import make_aer, simulate
from prefect_ibmq.server.stored_results import encode_result, result_text
from prefect_ibmq.wire import COLUMNAR_MARKER, COLUMNAR_VERSION, columnar_result, legacy_result

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


def test_columnar_form_round_trips_every_shape_of_experiment():
    experiments = [
        {"shots": 8, "success": True, "data": {"counts": {"0x0": 5, "0x3": 3}}, "header": {"name": "a"},
         "metadata": {"method": "statevector", "fusion": {"applied": False}}, "seed_simulator": 7},
        {"shots": 8, "success": False, "data": {}, "header": {"name": "b"}, "status": "ERROR: failed"},
        {"shots": 8, "success": True, "data": {"counts": {"0x1": 8}, "memory": ["0x1"] * 8},
         "header": {"name": "c", "extra": None}, "metadata": {"method": "statevector", "fusion": {"applied": False}},
         "seed_simulator": 9, "meas_level": 2},
        {"shots": 8.0, "success": 1, "data": None, "header": {"name": "d"}},  # kinds that compare equal stay apart
    ]
    result = {"backend_name": "b", "job_id": "j", "success": False, "header": {"h": 1}, "results": experiments}
    columnar = columnar_result(result)
    assert columnar[COLUMNAR_MARKER] == COLUMNAR_VERSION and "results" not in columnar
    fields = {field["key"]: field for field in columnar["experiments"]["fields"]}
    assert fields["header"]["fields"][0] == {"key": "name", "values": ["a", "b", "c", "d"]}
    back = legacy_result(json.loads(json.dumps(columnar)))
    assert back == result
    assert [type(e["shots"]) for e in back["results"]] == [int, int, int, float]
    assert [type(e["success"]) for e in back["results"]] == [bool, bool, bool, int]
    assert legacy_result(result) is result  # the legacy form passes through


def test_both_forms_of_a_stored_result_convert_to_each_other():
    result = {"backend_name": "b", "job_id": "j", "success": True,
              "results": [{"shots": 4, "success": True, "data": {"counts": {"0x0": 4}}}]}
    stored = encode_result(result)  # what this server stores: columnar
    legacy_text = json.dumps(result)  # what an older server stored
    assert result_text(stored, "columnar") is stored
    assert result_text(legacy_text, "legacy") is legacy_text
    assert json.loads(result_text(stored, "legacy")) == result
    assert legacy_result(json.loads(result_text(legacy_text, "columnar"))) == result


def test_old_and_new_readers_get_the_same_result_of_a_job_with_failed_experiments(alice):
    # Seeded flaky backend: under this name some experiments fail, so the columns have absent keys.
    circuits = [bell(f"c{i}") for i in range(40)] + [ghz(3)]
    job = alice.submit(circuits, backend="flaky_simulator", shots=32, name="forms-40")
    assert alice.wait_final(job["job_id"])["status"] == "ERROR_RUNNING_JOB"
    path = f"/jobs/{job['job_id']}/result"
    legacy = alice.get(path, params={"partial": "true"})
    columnar = alice.get(path, params={"partial": "true", "format": "columnar"})
    assert legacy.status_code == columnar.status_code == 200
    assert COLUMNAR_MARKER not in legacy.json() and columnar.json()[COLUMNAR_MARKER] == COLUMNAR_VERSION
    assert len(columnar.content) * 3 < len(legacy.content)
    old, new = Result.from_dict(legacy.json()), Result.from_dict(legacy_result(columnar.json()))
    assert new.to_dict() == old.to_dict()
    good = [i for i, e in enumerate(old.results) if e.success]
    assert 0 < len(good) < len(circuits)
    assert [new.get_counts(i) for i in good] == [old.get_counts(i) for i in good]
    assert alice.get(path, params={"partial": "true", "format": "rows"}).status_code == 422
