"""Every code block of README.md runs as pasted: Python blocks and shell commands, section by section.

How the README is run (one test per ``##``/``###`` section, in the README's order, sharing one
scratch folder and the servers its blocks start, as one reader pasting into one terminal):

- Blocks marked ``python`` run each in a fresh interpreter (``python block.py``); blocks marked
  ``sh``/``bash``/``shell``/``console`` run in bash with ``set -euo pipefail``, so every command
  must exit 0. What a block exports stays for the next ones. Unmarked blocks (diagrams) and
  data (``toml``, ``yaml``, ``json``...) are not code and are not run.
- In a scratch folder with its own ``HOME`` (so ``~/.prefect-ibmq`` and ``~/.prefect`` are fresh),
  holding copies of ``flows/``, ``deployments/`` and ``circuits/`` (what the README's commands name
  "from the project root"), with the venv's ``bin`` first on ``PATH`` (the venv active). No
  ``PREFECT_IBMQ_*`` variable is set.
- Ports 8765, 8766, 8786 and 4200 become free ports, 5432 the tests' throwaway PostgreSQL (``PGPORT``, its
  client programs first on ``PATH``), and ``/tmp/...`` a folder of the scratch, so two runs on one
  machine never meet; ``prefect server start`` gets the port through ``PREFECT_SERVER_API_PORT``.
  Nothing else of a block is changed.
- Until a block starts a Prefect server, Prefect's API is the suite's test server
  (``PREFECT_API_URL``) instead of a temporary server per process: the same API, without its
  ~10 s start in every process.
- Long-running commands (``LONG_RUNNING``: the servers and workers a reader starts in a terminal
  of their own, with or without ``&``) are started in the background; the next command runs once
  the started one answers (its health URL, its port, or its "ready" line). A server started on a
  port that an earlier block's server holds replaces it (that one is stopped first, as a reader
  would). All are stopped at the end.
- ``SKIPPED`` lists the few blocks or commands that cannot run here, each with the reason.

Another section's blocks, added or changed, are found and run the same way: nothing here names them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.pgcluster import PostgresCluster

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
#: Folders the README's commands use "from the project root", copied into the scratch folder.
PROJECT_FOLDERS = ("flows", "deployments", "circuits")
SHELL = ("sh", "bash", "shell", "console")
#: Commands that keep running (a server, a worker): started in the background, then waited on until ready.
LONG_RUNNING = ("prefect server start", "prefect-ibmq server", "prefect worker start", "dask scheduler", "dask worker")
#: Fixed ports of the README, each run on a free one.
PORTS = (8765, 8766, 8786, 4200)
#: What cannot run here (a command's start, or a line of a Python block) -> why.
SKIPPED = {
    "make test": "the suite itself: this test runs inside it",
    "make run": "a 300-circuit sweep of a minute: .ci/run runs it on every fresh clone (tests/test_make_run.py "
    "checks its failure line)",
    "pip install": "installs from a package index: the tests run offline (the test extra has what it installs)",
    'ibm = IBMQuantumPlatformCredentials(token="<IBM Cloud API key>"': "IBM Quantum Platform itself: needs an IBM "
    "Cloud account and the network (the same flows run against the local one in the next block)",
}
COMMAND_TIMEOUT_S = 300
READY_TIMEOUT_S = 180


@dataclass(frozen=True)
class Block:
    section: str
    language: str
    text: str
    line: int


def readme_sections() -> dict[str, list[Block]]:
    """Runnable blocks by section (``##``/``###`` heading, or "top" before the first), in README order."""
    text = README.read_text(encoding="utf-8")
    found: dict[str, list[Block]] = {}
    section = "top"
    pattern = re.compile(r"^(#{2,3}) ([^\n]+)$|^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
    for match in pattern.finditer(text):
        if match.group(1):
            section = match.group(2).strip()
            continue
        language = match.group(3).lower()
        if language == "python" or language in SHELL:
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(section, []).append(Block(section, language, match.group(4), line))
    return found


def shell_commands(text: str) -> list[str]:
    """A shell block's commands: continued lines joined, blank lines and whole-line comments left out."""
    commands, pending = [], ""
    for raw in text.splitlines():
        pending += raw
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip() and not pending.lstrip().startswith("#"):
            commands.append(pending.strip())
        pending = ""
    return commands


def skip_reason(text: str) -> str | None:
    for start, reason in SKIPPED.items():
        if text.startswith(start) or f"\n{start}" in text:
            return reason
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Background:
    command: str
    process: subprocess.Popen
    log: Path
    ports: frozenset[int]

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


class ReadmeRun:
    """The README's blocks run in one scratch folder, one reader's terminal (see the module docstring)."""

    def __init__(self, scratch: Path, prefect_api_url: str, postgres: Callable[[], PostgresCluster]) -> None:
        self.scratch = scratch
        self.state = scratch / ".readme-shell-state"
        self.state.write_text("")
        self._postgres = postgres  # a callable giving the tests' cluster, asked for only when a block needs it
        self.ports = {port: _free_port() for port in PORTS}
        self.background: list[Background] = []
        self.blocks_run = 0
        home = scratch / "home"
        home.mkdir()
        for folder in PROJECT_FOLDERS:
            shutil.copytree(ROOT / folder, scratch / folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PYTEST_"))}
        env.update(
            HOME=str(home),
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            PREFECT_API_URL=prefect_api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_API_PORT=str(self.ports[4200]),
            PYTHONUNBUFFERED="1",
        )
        self.env = env

    # --- what a block becomes here ----------------------------------------------------------------

    def _with_postgres(self, block: Block) -> None:
        """A block that names PostgreSQL (its port or client programs) gets the tests' cluster:
        its clients first on PATH, PGPORT its port, 5432 mapped to it."""
        if 5432 not in self.ports and re.search(r"\b(5432|createdb|psql)\b", block.text):
            cluster = self._postgres()
            self.ports[5432] = cluster.port
            self.env.update(PATH=os.pathsep.join([str(cluster.bin), self.env["PATH"]]), PGPORT=str(cluster.port))

    def adapt(self, text: str) -> str:
        """The block with its fixed ports and /tmp folders mapped (see the module docstring)."""
        for port, free in self.ports.items():
            text = re.sub(rf"\b{port}\b", str(free), text)
        return re.sub(r"(?<![\w.])/tmp/", f"{self.scratch}/tmp/", text)

    def _shell_env(self) -> dict[str, str]:
        """The environment a command sees now: the base one plus what earlier blocks exported."""
        done = subprocess.run(
            ["bash", "-c", f"source {shlex.quote(str(self.state))} && env -0"],
            env=self.env, capture_output=True, timeout=60, check=True,
        )
        pairs = [item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item]
        return dict(pairs)

    # --- running ----------------------------------------------------------------------------------

    def run_section(self, blocks: list[Block]) -> list[str]:
        """Run every block of a section; returns what was skipped and why."""
        skipped = []
        for block in blocks:
            self.blocks_run += 1
            self._with_postgres(block)
            if block.language == "python":
                reason = skip_reason(block.text)
                if reason:
                    skipped.append(f"python block at README.md:{block.line}: {reason}")
                    continue
                self._python(block)
                continue
            script: list[str] = []
            for command in shell_commands(block.text):
                reason = skip_reason(command)
                if reason:
                    skipped.append(f"`{command.split('#')[0].strip()}` (README.md:{block.line}): {reason}")
                elif command.startswith(LONG_RUNNING):
                    self._shell(script, block)
                    script = []
                    self._start(self.adapt(command), block)
                else:
                    script.append(self.adapt(command))
            self._shell(script, block)
        return skipped

    def _python(self, block: Block) -> None:
        path = self.scratch / f"readme_block_{block.line}.py"
        path.write_text(self.adapt(block.text), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, path.name], cwd=self.scratch, env=self._shell_env(),
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, (
            f"python block at README.md:{block.line} ({block.section}) exited {done.returncode}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )

    def _shell(self, script: list[str], block: Block) -> None:
        if not script:
            return
        state = shlex.quote(str(self.state))
        # What the block exported, for the next blocks; not PATH and the like, which stay this run's own.
        keep = f"export -p | grep -Ev '^declare -x (PATH|PWD|OLDPWD|SHLVL|HOME|_)(=|$)' > {state}"
        text = "\n".join(["set -euo pipefail", f"source {state}", *script, keep])
        done = subprocess.run(
            ["bash", "-c", text], cwd=self.scratch, env=self.env,
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, (
            f"shell block at README.md:{block.line} ({block.section}) exited {done.returncode} in:\n"
            + "\n".join(script) + f"\n--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )

    def _start(self, command: str, block: Block) -> None:
        command = command.split(" #", 1)[0].strip().removesuffix("&").strip()
        # The ports it listens on (not the ones it connects to, as a worker to its scheduler).
        ports = frozenset(int(p) for p in re.findall(r"--port[ =](\d+)", command))
        if command.startswith("prefect server start"):
            ports |= {self.ports[4200]}
        for earlier in [b for b in self.background if b.ports & ports]:
            earlier.stop()  # the same port: a reader stops the earlier server first
            self.background.remove(earlier)
        log = self.scratch / f"background-{len(self.background)}-{block.line}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"source {shlex.quote(str(self.state))} && exec {command}"],
                cwd=self.scratch, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        started = Background(command, process, log, ports)
        self.background.append(started)
        self._until_ready(started, block)

    def _until_ready(self, started: Background, block: Block) -> None:
        command = started.command
        port = next(iter(started.ports), None)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if started.process.poll() is not None:
                break
            if self._ready(command, port, started.log):
                return
            time.sleep(0.2)  # polling the started process's answer
        raise AssertionError(
            f"`{command}` (README.md:{block.line}) "
            + (f"exited {started.process.returncode}" if started.process.poll() is not None else "never got ready")
            + f":\n{started.tail()}"
        )

    @staticmethod
    def _ready(command: str, port: int | None, log: Path) -> bool:
        output = log.read_text(errors="replace") if log.exists() else ""
        if command.startswith("dask worker"):
            return "Registered to" in output
        if command.startswith("dask scheduler"):
            return "Scheduler at:" in output
        if command.startswith("prefect worker start"):
            return "started!" in output
        if port is None:
            return True
        path = "/api/health" if command.startswith("prefect server") else "/v1/health"
        try:
            return requests.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def close(self) -> None:
        for started in reversed(self.background):
            started.stop()
        self.background.clear()


SECTIONS = readme_sections()


@pytest.fixture(scope="module")
def readme(prefect_harness, tmp_path_factory):
    from prefect.settings import PREFECT_API_URL

    clusters: list[PostgresCluster] = []

    def postgres() -> PostgresCluster:
        # Its own cluster, made when a block first names PostgreSQL: the README creates fixed database names.
        if not clusters:
            clusters.append(PostgresCluster().start())
        return clusters[0]

    run = ReadmeRun(tmp_path_factory.mktemp("readme"), str(PREFECT_API_URL.value()), postgres)
    try:
        yield run
    finally:
        run.close()
        for cluster in clusters:
            cluster.stop()


def test_the_readme_has_blocks_of_both_kinds():
    blocks = [block for blocks in SECTIONS.values() for block in blocks]
    assert {block.language for block in blocks} >= {"python", "sh"}
    assert len(blocks) >= 10


@pytest.mark.parametrize("section", list(SECTIONS))
def test_readme_section_runs_as_pasted(readme, section):
    skipped = readme.run_section(SECTIONS[section])
    # Only what SKIPPED names is left out, and it says why (shown with -rA).
    for line in skipped:
        print("skipped:", line)
