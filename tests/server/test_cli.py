"""``prefect-ibmq server`` runs the same server as a process."""

from __future__ import annotations

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


def test_console_command_serves_health_and_guards_its_data_dir(tmp_path):
    script = Path(sys.executable).with_name("prefect-ibmq")
    assert script.exists(), "the console script is installed with the package"
    port = _free_port()
    process = subprocess.Popen(
        [str(script), "server", "--port", str(port), "--data-dir", str(tmp_path), "--token", "cli-token",
         "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        health = None
        for _ in range(300):  # startup (qiskit import) takes a few seconds
            if process.poll() is not None:
                pytest.fail(f"server exited: {process.stdout.read().decode()}")
            try:
                health = requests.get(f"{url}/v1/health", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert health is not None and health.json()["status"] == "ok"
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
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            raise
    assert code == 0
    assert not (tmp_path / "server.json").exists()
    # The instance CRN a Qiskit Runtime client names is shown at start.
    assert f"local/local/local: {instance_crn(LOCAL_IDENTITY)}" in process.stdout.read().decode()
