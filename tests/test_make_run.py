"""`make run` (flows/ghz_bell_sweep.py as a script) when Prefect's temporary server does not start.

A start limit of 0 s makes Prefect give up before its first look, whatever the machine:
the script then says so in one line on stderr, exits 2, and keeps Prefect's own words
in its log file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_a_prefect_server_that_does_not_start_is_one_line_and_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_IBMQ_DATA_DIR=str(tmp_path / "jobs"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="0",
        PYTHONWARNINGS="ignore",
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "flows" / "ghz_bell_sweep.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert "Prefect's temporary server did not start within 0 s" in line
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=300 make run" in line
    log = tmp_path / "out" / "ghz-bell-sweep" / "run.log"
    assert str(log.relative_to(tmp_path)) in line
    assert "Timed out while attempting to connect to ephemeral Prefect API server" in log.read_text()
