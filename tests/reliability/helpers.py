"""Helpers of the reliability tests: figures for out/reliability.json, job servers run as
real processes (killed with SIGKILL where a test says so), subprocess environments."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
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
        # pytest-xdist's workers each write their sections at their session's end: the lock makes
        # each read-merge-write whole, and the rename means no reader ever sees half a file.
        with open(FIGURES_FILE.with_suffix(".lock"), "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                merged = json.loads(FIGURES_FILE.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                merged = {}
            merged.update(self.sections)
            merged["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            partial = FIGURES_FILE.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(partial, FIGURES_FILE)
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


# --- attacks on a shared server: what the others see meanwhile ---------------------------------


class MemoryWatch:
    """Samples a process's RSS in a thread (every 5 ms); ``growth_mib`` is the peak over the first sample."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / 2**20


class Bystander:
    """Another identity's client, reading one URL in a loop while an attack runs; every answer must be 200."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with requests.Session() as http:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    answer = http.get(self.url, headers=self.headers, timeout=60)
                    if answer.status_code != 200:
                        self.failures.append(f"{answer.status_code}: {answer.text[:200]}")
                except requests.RequestException as exc:
                    self.failures.append(repr(exc))
                self.latencies.append(time.perf_counter() - started)
                self._stop.wait(0.005)

    def __enter__(self) -> Bystander:
        self._thread.start()
        while not self.latencies and self._thread.is_alive():  # one answer before the attack starts
            time.sleep(0.001)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def worst_s(self) -> float:
        return max(self.latencies, default=0.0)


class Attack:
    """An attack on ``server`` (a process) while ``bystander`` reads: memory watched, requests counted."""

    def __init__(self, pid: int, bystander_url: str, bystander_headers: dict[str, str]) -> None:
        self.memory = MemoryWatch(pid)
        self.bystander = Bystander(bystander_url, bystander_headers)
        self.tried = 0

    def __enter__(self) -> Attack:
        self.bystander.__enter__()
        self.memory.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.memory.__exit__(*exc)
        self.bystander.__exit__(*exc)

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.tried += 1
        return requests.request(method, url, timeout=kwargs.pop("timeout", 120), **kwargs)

    def figures(self, **extra: Any) -> dict[str, Any]:
        return {"requests_tried": self.tried, "memory_growth_mib": round(self.memory.growth_mib, 1),
                "worst_bystander_s": round(self.bystander.worst_s, 3),
                "bystander_requests": len(self.bystander.latencies), **extra}


def runtime_token(url: str, apikey: str) -> str:
    """A runtime access token (JWT) for ``apikey`` from the server's IAM endpoint."""
    answer = requests.post(f"{url}/identity/token", timeout=30,
                           data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": apikey})
    answer.raise_for_status()
    return answer.json()["access_token"]
