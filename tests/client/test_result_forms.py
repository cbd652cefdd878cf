"""The client reads results in the columnar form and gives back the same qiskit Result as the legacy form."""

from __future__ import annotations

import requests
from qiskit.result import Result

from prefect_ibmq.circuits import bell, ghz


def test_job_result_equals_the_legacy_forms_result(job_server, aer):
    token = next(token for token, who in job_server.config.tokens.items() if who.user == "alice")  # aer's owner
    circuits = [bell("b"), ghz(3), ghz(5)]
    job = aer.run(circuits, shots=64, seed_simulator=3)
    result = job.result(timeout=60)
    legacy = requests.get(
        f"{job_server.url}/v1/jobs/{job.job_id()}/result",
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )
    assert legacy.status_code == 200 and "result_format" not in legacy.json()
    old = Result.from_dict(legacy.json())
    assert result.to_dict() == old.to_dict()
    assert [result.get_counts(i) for i in range(3)] == [old.get_counts(i) for i in range(3)]
    assert sum(result.get_counts(2).values()) == 64 and set(result.get_counts(2)) <= {"00000", "11111"}
