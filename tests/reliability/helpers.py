"""Helpers of the reliability tests: figures for out/reliability.json, job servers run as
real processes (killed with SIGKILL where a test says so), subprocess environments."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = ROOT / "out" / "reliability.json"


class Figures:
    """What the tests measured, by section; merged into out/reliability.json at the end."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, Any]] = {}

    def record(self, section: str, **values: Any) -> None:
        self.sections.setdefault(section, {}).update(values)

    def write(self) -> None:
        if not self.sections:
            return
        FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
        try:
            merged = json.loads(FIGURES_FILE.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            merged = {}
        merged.update(self.sections)
        merged["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        FIGURES_FILE.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"\nreliability figures -> {FIGURES_FILE}\n{json.dumps(self.sections, indent=2, sort_keys=True)}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``prefect-ibmq server`` in its own process, on a fixed port so it can be restarted there."""

    def __init__(self, config: Path, port: int, log: Path, preexec: Any = None) -> None:
        self.config, self.port, self.log_path, self.preexec = config, port, log, preexec
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 120.0) -> ServerProcess:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        log = open(self.log_path, "ab")
        command = [sys.executable, "-m", "prefect_ibmq.cli", "server", "--config", str(self.config),
                   "--port", str(self.port), "--log-level", "WARNING"]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                        preexec_fn=self.preexec)
        log.close()
        deadline = time.monotonic() + timeout
        while True:  # startup imports qiskit: a few seconds
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/v1/health", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""


def tokens_toml(tokens: dict[str, tuple[str, Any]]) -> str:
    """The [tokens] table of a server config for the suite's identities."""
    lines = []
    for token, identity in tokens.values():
        lines.append(f'[tokens."{token}"]')
        for field in ("user", "hub", "group", "project"):
            lines.append(f'{field} = "{getattr(identity, field)}"')
    return "\n".join(lines) + "\n"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env
