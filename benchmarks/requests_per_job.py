"""Figure 3: HTTP requests for submit -> wait -> result of a job that runs 3 s (and 6 s).

Counted on the wire: the client talks to the job server through the test suite's
FaultProxy (tests/faultproxy.py) with no faults, which forwards and logs every
request. Reading the backend's configuration happens once per service, before
the count starts. The job is one experiment on a backend whose experiments take
3 s (6 s for the second measure): its run time is the backend's, not the client's.

Baseline, in the same run: the same job waited on by a loop that calls ``status()``
and sleeps 0.5 s until the job is final, then ``result()``.

Target: <= 5 requests, the same for the 6 s job as for the 3 s one.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from benchmarks.common import ROOT, figure, ghz, tmp_dir

TOKEN = "bench-token-0123456789"
POLL_S = 0.5


def _proxy_class() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    from faultproxy import FaultProxy

    class CountingProxy(FaultProxy):
        """Forwards everything (rate 0) and keeps (method, path) of each request."""

        def __init__(self, upstream: str) -> None:
            super().__init__(upstream, rate=0.0)
            self.log: list[tuple[str, str]] = []

        def choose_fault(self, method: str, path: str) -> str | None:
            with self._lock:
                self.log.append((method, path.split("?")[0]))
            return super().choose_fault(method, path)

    return CountingProxy


def _count(proxy: Any, backend: Any, poll: bool) -> tuple[int, list[tuple[str, str]]]:
    start = len(proxy.log)
    job = backend.run([ghz(2)], shots=64)
    if poll:
        while not job.in_final_state():
            time.sleep(POLL_S)
    else:
        job.wait_for_final_state()
    assert job.result().get_counts()
    log = proxy.log[start:]
    return len(log), log


def run() -> list[dict[str, Any]]:
    from prefect_ibmq import IBMQService
    from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
    from prefect_ibmq.server.config import LOCAL_IDENTITY

    config = ServerConfig(
        data_dir=tmp_dir("requests"),
        tokens={TOKEN: LOCAL_IDENTITY},
        backends=[BackendSpec(name="sim_3s", n_qubits=5, experiment_delay_s=3.0),
                  BackendSpec(name="sim_6s", n_qubits=5, experiment_delay_s=6.0)],
        workers=2,
    )
    rows = []
    with JobServer(config) as server, _proxy_class()(server.url) as proxy:
        service = IBMQService(url=proxy.url, token=TOKEN)
        for seconds in (3, 6):
            backend = service.backend(f"sim_{seconds}s")
            ours, log = _count(proxy, backend, poll=False)
            polled, _ = _count(proxy, backend, poll=True)
            print(f"requests for a {seconds} s job: {log}", file=sys.stderr)
            rows.append(figure(f"requests per job (submit, wait, result), {seconds} s job", ours, polled,
                               "<= 5, independent of run time", ours <= 5, unit="requests"))
    rows[1]["met"] = rows[1]["met"] and rows[1]["value_s"] == rows[0]["value_s"]
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
