"""Simulation on a real Dask cluster (``simulation = "dask"``).

The module's cluster is what the README tells a lab to run: ``dask scheduler``
and two ``dask worker --nthreads 1`` processes (with their nannies), here on
127.0.0.1 only, without dashboards. The tests prove that the cluster did the
work by reading the scheduler's task stream (which worker ran which chunk),
kill a worker process while it runs a chunk, and cancel a job mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from prefect_ibmq.circuits import bell, ghz
from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
from prefect_ibmq.server.chunks import CHUNK
from prefect_ibmq.server.dasksim import DaskSchedulerUnreachable, DaskSimulators
from tests.server.helpers import Api

#: Bounds every wait for the cluster (start-up imports; a nanny restarting a worker).
START_LIMIT_S = 90
#: Shots that make a chunk of 64 GHZ circuits run for ~1-3 s on one Dask worker thread.
HEAVY_SHOTS = 30_000
#: The scheduler's name for our chunks: client.submit keys them after the function.
CHUNK_TASK = "simulate_qpy-"
#: Only loopback, no dashboard (its HTTP server otherwise listens on every interface).
LOOPBACK = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


def _scheduler_address(scheduler_file: Path) -> str:
    """The address in the scheduler's file, once it has written it whole; "" until then."""
    try:
        return json.loads(scheduler_file.read_text()).get("address", "")
    except (FileNotFoundError, json.JSONDecodeError):
        return ""


class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes, each in its own process group."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self.address = ""
        self.client: Client | None = None

    def start(self, workers: int) -> None:
        dask = str(Path(sys.executable).with_name("dask"))
        scheduler_file = self.folder / "scheduler.json"
        # Port 0 and a scheduler file: the scheduler picks a free port and tells the workers.
        self._spawn("scheduler", [dask, "scheduler", "--port", "0", *LOOPBACK, "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + START_LIMIT_S
        # The file exists before the scheduler has written it (a loaded machine shows it empty).
        while not (address := _scheduler_address(scheduler_file)):
            assert time.monotonic() < deadline, f"no scheduler: {self._log('scheduler')}"
            time.sleep(0.1)  # waiting for the scheduler to start
        self.address = address
        for index in range(workers):
            self._spawn(
                f"worker-{index}",
                [dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", *LOOPBACK,
                 "--local-directory", str(self.folder / f"worker-{index}")],
            )
        self.client = Client(self.address, timeout=START_LIMIT_S, set_as_default=False)
        self.client.get_task_stream()  # the scheduler records tasks from now on
        if workers:
            self.wait_for_workers(workers)

    def wait_for_workers(self, count: int) -> None:
        assert self.client is not None
        self.client.wait_for_workers(count, timeout=START_LIMIT_S)

    def chunk_records(self, since: float) -> list[dict]:
        """The scheduler's task stream of our chunks that finished after ``since`` (time.time())."""
        assert self.client is not None
        return [r for r in self.client.get_task_stream(start=since) if str(r["key"]).startswith(CHUNK_TASK)]

    def chunks_on_scheduler(self) -> list[str]:
        """Keys of our chunks the scheduler still holds (queued, running or done)."""
        assert self.client is not None
        return self.client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks if str(k).startswith(CHUNK_TASK)]
        )

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its group (a nanny's worker)
            except ProcessLookupError:
                pass
            process.wait()

    def _spawn(self, name: str, command: list[str]) -> None:
        with open(self.folder / f"{name}.log", "wb") as log:
            self.processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )

    def _log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-2000:]


@pytest.fixture(scope="module")
def _cluster(tmp_path_factory) -> Iterator[DaskCluster]:
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        cluster.start(workers=2)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(_cluster) -> DaskCluster:
    """The module's cluster with both workers up (a nanny restarts a killed one)."""
    _cluster.wait_for_workers(2)
    return _cluster


def _server(job_server, tmp_path, cluster: DaskCluster, **overrides) -> JobServer:
    settings = dict(
        data_dir=tmp_path,
        tokens=job_server.config.tokens,
        backends=[BackendSpec(name="aer_simulator", n_qubits=5)],
        workers=1,
        simulation="dask",
        dask_scheduler=cluster.address,
    )
    settings.update(overrides)
    return JobServer(ServerConfig(**settings))


def _served_url(process: subprocess.Popen) -> str:
    """The URL in the console server's banner, "prefect-ibmq job service on http://127.0.0.1:<port>"."""
    seen = []
    for line in process.stdout:  # log lines may come first; EOF if the server exits
        if "job service on http://" in line:
            return line.split(" on ")[1].split()[0]
        seen.append(line)
    pytest.fail(f"the server exited without serving: {''.join(seen)}")


def test_the_console_server_simulates_bell_and_ghz_on_the_dask_workers(cluster, tmp_path):
    script = Path(sys.executable).with_name("prefect-ibmq")
    process = subprocess.Popen(
        [str(script), "server", "--port", "0", "--data-dir", str(tmp_path), "--token", "dask-token",
         "--dask-scheduler", cluster.address],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        api = Api(_served_url(process), "dask-token")
        since = time.time()
        circuits = [bell()] * 65 + [ghz(3)] * 65
        job = api.submit(circuits, options={"shots": 200, "seed_simulator": 7})
        assert api.wait_final(job["job_id"])["status"] == "COMPLETED"
        experiments = api.get(f"/jobs/{job['job_id']}/result").json()["results"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    counts = [e["data"]["counts"] for e in experiments]
    assert all(set(c) == {"0x0", "0x3"} and sum(c.values()) == 200 for c in counts[:65])
    assert all(set(c) == {"0x0", "0x7"} and sum(c.values()) == 200 for c in counts[65:])
    # Dask ran the job: 130 circuits are three chunks, each finished by one of the cluster's workers.
    records = cluster.chunk_records(since)
    assert len(records) == -(-len(circuits) // CHUNK) == 3
    assert {r["status"] for r in records} == {"OK"}
    assert {r["worker"] for r in records} <= set(cluster.client.scheduler_info()["workers"])


def _freeze_a_worker_mid_chunk(cluster: DaskCluster, pids: dict[str, int]) -> tuple[str, int, str]:
    """SIGSTOP a worker process while it runs a chunk; its address, pid and the chunk.

    The scheduler is asked, not the worker: aer holds the GIL while it simulates, so a
    busy worker answers only after its chunk. A stopped process sends nothing, so once
    what it sent before has reached the scheduler, "still processing there" proves the
    chunk unfinished.
    """
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        for address, keys in cluster.client.processing().items():
            if not keys:
                continue
            time.sleep(0.2)  # lets the worker receive the chunk and start it
            os.kill(pids[address], signal.SIGSTOP)
            time.sleep(0.5)  # lets what the worker sent before it stopped reach the scheduler
            if keys[0] in cluster.client.processing([address])[address]:
                return address, pids[address], keys[0]
            os.kill(pids[address], signal.SIGCONT)  # it finished that chunk meanwhile: try again
        time.sleep(0.05)  # polling the scheduler until a worker runs a chunk
    pytest.fail("no worker ever ran a chunk")


def test_a_worker_killed_mid_chunk_its_chunk_reruns_elsewhere_and_the_job_completes(job_server, tmp_path, cluster):
    with _server(job_server, tmp_path, cluster) as server:
        api = Api(server.url, next(iter(job_server.config.tokens)))
        pids = cluster.client.run(os.getpid)  # asked while the workers are idle
        since = time.time()
        job = api.submit([ghz(2 + i % 4) for i in range(2 * CHUNK)], shots=HEAVY_SHOTS)
        victim, pid, chunk = _freeze_a_worker_mid_chunk(cluster, pids)
        os.kill(pid, signal.SIGKILL)  # the worker process (its nanny starts a new one)

        assert api.wait_final(job["job_id"])["status"] == "COMPLETED", api.status(job["job_id"])
        experiments = api.get(f"/jobs/{job['job_id']}/result").json()["results"]
    assert len(experiments) == 2 * CHUNK
    assert all(e["success"] and sum(e["data"]["counts"].values()) == HEAVY_SHOTS for e in experiments)
    # The killed worker never finished its chunk; another worker ran it from the start.
    finished = [r for r in cluster.chunk_records(since) if r["key"] == chunk]
    assert [r["status"] for r in finished] == ["OK"]
    assert finished[0]["worker"] != victim


def test_cancel_stops_a_running_dask_job_and_drops_its_chunks(job_server, tmp_path, cluster):
    chunks = 8
    backends = [BackendSpec(name="aer_simulator", n_qubits=5, max_experiments=chunks * CHUNK)]
    with _server(job_server, tmp_path, cluster, backends=backends) as server:
        api = Api(server.url, next(iter(job_server.config.tokens)))
        since = time.time()
        job = api.submit([ghz(5)] * (chunks * CHUNK), shots=HEAVY_SHOTS)
        deadline = time.monotonic() + START_LIMIT_S
        while not cluster.client.processing() or not any(cluster.client.processing().values()):
            assert time.monotonic() < deadline, "the job never reached the cluster"
            time.sleep(0.05)  # polling the scheduler until a chunk runs
        assert api.request("POST", f"/jobs/{job['job_id']}/cancel").status_code == 200
        assert api.wait_final(job["job_id"])["status"] == "CANCELLED"
        # The server cancels the chunks it sent ahead: the scheduler forgets them all.
        deadline = time.monotonic() + START_LIMIT_S
        while held := cluster.chunks_on_scheduler():
            assert time.monotonic() < deadline, f"chunks left on the scheduler: {held}"
            time.sleep(0.1)  # polling the scheduler until it dropped them
        assert len(cluster.chunk_records(since)) < chunks

        later = api.submit([bell()] * 2)  # the cluster is free for the next job
        assert api.wait_final(later["job_id"])["status"] == "COMPLETED"
        # Its chunk's result is released once read: nothing of the server's stays on the cluster.
        deadline = time.monotonic() + START_LIMIT_S
        while held := cluster.chunks_on_scheduler():
            assert time.monotonic() < deadline, f"chunks still held after the job: {held}"
            time.sleep(0.1)  # polling the scheduler until the server released them


def test_a_server_stops_while_its_chunk_waits_for_a_worker_and_runs_the_job_after_a_restart(
    job_server, tmp_path, tmp_path_factory, cluster
):
    idle = DaskCluster(tmp_path_factory.mktemp("dask-idle"))
    try:
        idle.start(workers=0)  # the chunk can never run there
        server = _server(job_server, tmp_path, idle).start()
        api = Api(server.url, next(iter(job_server.config.tokens)))
        job = api.submit([bell()] * 2)
        assert api.wait_for(job["job_id"], {"RUNNING"})["status"] == "RUNNING"
        deadline = time.monotonic() + START_LIMIT_S
        while not idle.chunks_on_scheduler():
            assert time.monotonic() < deadline, "the chunk never reached the scheduler"
            time.sleep(0.05)  # polling the scheduler until it holds the chunk
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        stopping.join(timeout=START_LIMIT_S)
        assert not stopping.is_alive(), "stop() waits for a chunk no worker will run"
    finally:
        idle.stop()
    # Left RUNNING, not failed: the next server on the same data queues it again and runs it.
    with _server(job_server, tmp_path, cluster) as server:
        api = Api(server.url, next(iter(job_server.config.tokens)))
        assert api.wait_final(job["job_id"])["status"] == "COMPLETED"
        assert len(api.get(f"/jobs/{job['job_id']}/result").json()["results"]) == 2


def test_only_a_dask_server_imports_distributed_and_dask_needs_a_reachable_address(tmp_path):
    program = (
        "import sys\n"
        "from prefect_ibmq.server import JobServer, ServerConfig\n"
        "import prefect_ibmq.cli\n"
        f"with JobServer(ServerConfig(data_dir={str(tmp_path)!r}, workers=1, prestart_simulators=True)):\n"
        "    pass\n"
        "assert 'distributed' not in sys.modules, 'distributed was imported'\n"
        "assert 'dask' not in sys.modules, 'dask was imported'\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=120)
    with pytest.raises(ValueError, match="needs dask_scheduler"):
        ServerConfig(data_dir=tmp_path, simulation="dask")
    with pytest.raises(ValueError, match='only used with simulation="dask"'):
        ServerConfig(data_dir=tmp_path, dask_scheduler="tcp://127.0.0.1:8786")
    closed_port = "tcp://127.0.0.1:1"
    with pytest.raises(DaskSchedulerUnreachable, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'"):
        DaskSimulators(closed_port, threading.Event(), connect_timeout_s=1)
