"""Figure 8: a task's ``timeout_seconds`` stops it within 1 s, and the wait's job is cancelled.

A job of 8 experiments of 0.5 s each (a backend with ``experiment_delay_s=0.5``: the
job runs ~4 s) and ``wait_for_final_state.with_options(timeout_seconds=1)`` in a
flow: the value is how long after its timeout the wait task ended (TimedOut), the
median of 3 runs; each run asserts that the state is TimedOut and the job CANCELLED.

Baseline, in the same run: how long the job runs when nobody stops it (what a
sync task in a worker thread waited before, since it could not be interrupted).

Target: the wait ends <= 1 s after its timeout.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

from benchmarks.common import figure, ghz_circuits, prefect_server, tmp_dir

TIMEOUT_S = 1.0
EXPERIMENTS = 8
DELAY_S = 0.5


def run() -> list[dict[str, Any]]:
    from prefect import flow
    from qiskit.providers import JobStatus

    from prefect_ibmq.blocks import IBMQServiceCredentials
    from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
    from prefect_ibmq.tasks import submit_job, wait_for_final_state

    prefect_server()
    logging.getLogger("prefect").setLevel(logging.ERROR)
    slow = BackendSpec(name="slow_simulator", kind="ideal", n_qubits=5, experiment_delay_s=DELAY_S)
    circuits = ghz_circuits(EXPERIMENTS, low=3, high=3)
    wait = wait_for_final_state.with_options(timeout_seconds=TIMEOUT_S)
    config = ServerConfig.default(tmp_dir("timeouts"), backends=[*BackendSpec.defaults(), slow])
    with JobServer(config) as server:
        credentials = IBMQServiceCredentials(url=server.url, token=server.token)
        service = credentials.get_client()

        @flow(name="timed-out-wait")
        def timed_out_wait() -> tuple[str, str, float]:
            job_id = submit_job(circuits, backend_name="slow_simulator", shots=16, service=credentials)
            start = time.perf_counter()
            state = wait(job_id, service=credentials, return_state=True)
            return job_id, state.name, time.perf_counter() - start

        late = []
        for _ in range(3):
            job_id, state_name, took = timed_out_wait()
            assert state_name == "TimedOut", state_name
            assert service.job(job_id).status() is JobStatus.CANCELLED
            late.append(took - TIMEOUT_S)

        job = service.backend("slow_simulator").run(circuits, shots=16)
        start = time.perf_counter()
        job.wait_for_final_state()
        job_s = time.perf_counter() - start
    value = statistics.median(late)
    return [figure(f"timeout: wait task with timeout_seconds={TIMEOUT_S:g} on a ~{EXPERIMENTS * DELAY_S:g} s job "
                   "ends TimedOut (job cancelled), seconds after its timeout / the job's run time",
                   value, job_s, "<= 1 s after the timeout", value <= 1.0)]


if __name__ == "__main__":
    for row in run():
        print(row)
