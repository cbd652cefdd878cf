"""``prefect-ibmq server`` runs the same server as a process."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from prefect_ibmq.server import BackendSpec, JobServer, ServerAlreadyRunning, ServerConfig
from prefect_ibmq.server.config import LOCAL_IDENTITY
from prefect_ibmq.server.runtime.crn import instance_crn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``prefect-ibmq server`` on a free port, once it answers its health check: the process and its URL."""
    script = Path(sys.executable).with_name("prefect-ibmq")
    assert script.exists(), "the console script is installed with the package"
    port = _free_port()
    process = subprocess.Popen(
        [str(script), "server", "--port", str(port), "--data-dir", str(data_dir), "--workers", "1", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):  # startup (qiskit import) takes a few seconds
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.stdout.read().decode()}")
        try:
            health = requests.get(f"{url}/v1/health", timeout=2)
            assert health.json()["status"] == "ok"
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"{url} never answered")


def _stopped(process: subprocess.Popen[bytes]) -> int:
    """The exit code of a server sent SIGTERM (killed, and the test failed, if it outlives 30 s)."""
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        raise


def test_console_command_serves_health_and_guards_its_data_dir(tmp_path):
    process, url = _start_server(tmp_path, "--token", "cli-token")
    try:
        backends = requests.get(f"{url}/v1/backends", headers={"Authorization": "Bearer cli-token"}, timeout=10)
        assert backends.status_code == 200
        assert {b["backend_name"] for b in backends.json()} == {"aer_simulator", "noisy_simulator", "flaky_simulator"}
        # Another process holds the data directory: this one is refused, naming that server.
        config = ServerConfig(data_dir=tmp_path, backends=[BackendSpec(name="aer_simulator")])
        with pytest.raises(ServerAlreadyRunning) as caught:
            JobServer(config).start()
        assert url in str(caught.value)
    finally:
        process.send_signal(signal.SIGTERM)
        code = _stopped(process)
    assert code == 0
    assert not (tmp_path / "server.json").exists()
    # The instance CRN a Qiskit Runtime client names is shown at start.
    assert f"local/local/local: {instance_crn(LOCAL_IDENTITY)}" in process.stdout.read().decode()


#: tgkill(2), which sends a signal to one thread of a process, by machine.
_TGKILL = {"x86_64": 234, "aarch64": 131}


@pytest.mark.skipif(not Path("/proc/self/task").exists() or os.uname().machine not in _TGKILL,
                    reason="sends a signal to one thread through Linux's tgkill")
def test_a_sigterm_caught_by_any_thread_stops_the_server(tmp_path):
    # The kernel hands a process's signal to any of its threads; the server has a dozen. One caught
    # outside the main thread must stop it too (an untimed wait there once left a replica running).
    process, _ = _start_server(tmp_path)
    try:
        others = sorted(int(tid) for tid in os.listdir(f"/proc/{process.pid}/task") if int(tid) != process.pid)
        assert others, "the server runs threads beside its main one"
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(_TGKILL[os.uname().machine], process.pid, others[-1], signal.SIGTERM) == 0
    finally:
        code = _stopped(process)
    assert code == 0
