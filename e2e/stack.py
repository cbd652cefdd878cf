"""``make e2e``: the whole stack for real, and what a person sees of it in a browser.

1. The services as a lab runs them past one machine (``e2e/services.py``): a PostgreSQL
   cluster, a Prefect server (``prefect server start`` on 127.0.0.1) on its ``prefect``
   database, a Dask scheduler with two worker processes, and two job-service replicas
   (``prefect-ibmq server --store-url postgresql+psycopg://.../jobs --dask-scheduler ...``)
   sharing the ``jobs`` database and the Dask cluster.
2. A small ``circuit_sweep`` through the first replica; then headless Chromium (Debian's,
   driven by Playwright) opens the flow run's page, its Task Runs tab and its Artifacts tab,
   and the artifacts themselves: the job ids are in the task run names, and the summary, the
   per-job timings table, the progress and the pictures are visible. Screenshots are saved.
3. The lab set-up: a process work pool, ``prefect deploy --all`` of deployments/prefect.yaml,
   ``prefect worker start`` pointed at the second replica, ``prefect deployment run`` of the
   scheduled nightly-backend-check; that flow run completes, its artifacts exist and the
   first replica lists its jobs.
4. Where it all went: Prefect's flow runs are rows in PostgreSQL, both replicas list the
   same jobs (the rows of the ``jobs`` table), and the Dask workers ran their chunks.

Everything started here is stopped at the end, failed or not. Each wait is bounded.
Run from the project root: ``python -m e2e.stack [--out out/e2e]`` (``e2e/run.sh`` installs
PostgreSQL, Chromium, Playwright and Dask first). The last line counts the checks: ``e2e: N passed, M failed``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import httpx

from e2e.procs import BIN, ROOT, Checks, Processes, api, log, wait_until
from e2e.services import DASK_WORKERS, Stack, chunks_run, start_stack

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
POOL = "ibmq-pool"  # the work pool deployments/prefect.yaml names
SCHEDULED = "nightly-backend-check/nightly-backend-check"


# --- the browser ----------------------------------------------------------------


class Browser:
    def __init__(self, out: Path) -> None:
        from playwright.sync_api import sync_playwright

        self.out = out
        self._pw = sync_playwright().start()
        self._ctx = self._pw.chromium.launch_persistent_context(
            str(out / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1440, "height": 1000}, timeout=60_000,
        )
        self.page = self._ctx.pages[0] if self._ctx.pages else self._ctx.new_page()
        self.page.set_default_timeout(30_000)
        self.shots: list[Path] = []

    def open(self, url: str) -> None:
        self.page.goto(url, wait_until="networkidle", timeout=60_000)

    def shot(self, name: str, height: int | None = None) -> Path:
        """A screenshot; ``height`` makes the window that tall first (the UI scrolls inside a pane,
        so a full-page screenshot alone shows only one window's height)."""
        path = self.out / "screenshots" / f"{name}.png"
        if height:
            self.page.set_viewport_size({"width": 1440, "height": height})
            self.page.wait_for_timeout(500)
        self.page.screenshot(path=str(path), full_page=True)
        if height:
            self.page.set_viewport_size({"width": 1440, "height": 1000})
        self.shots.append(path)
        log(f"screenshot {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path

    def text(self) -> str:
        return self.page.inner_text("body")

    def wait_text(self, text: str, timeout: float = 30_000) -> None:
        self.page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout)

    def tab(self, name: str) -> None:
        """Click a tab of the page (Prefect's tabs are ``li.p-tab`` in a ``role=tablist``)."""
        self.page.locator("[role=tablist] li.p-tab").filter(has_text=re.compile(f"^{name}$")).first.click()

    def close(self) -> None:
        try:
            self._ctx.close()
        finally:
            self._pw.stop()


# --- the steps --------------------------------------------------------------------


def small_sweep(procs: Processes, out: Path, env: dict[str, str]) -> dict[str, Any]:
    sweep_id = f"e2e-{secrets.token_hex(3)}"
    stdout = procs.run([sys.executable, "e2e/small_sweep.py", sweep_id, str(out / "sweep")], env, 240, "small-sweep")
    return json.loads(stdout.strip().splitlines()[-1])


def check_ui(check: Checks, browser: Browser, ui: str, client: httpx.Client, sweep: dict[str, Any]) -> None:
    flow_run_id, sweep_id, job_ids = sweep["flow_run_id"], sweep["sweep_id"], sweep["job_ids"]
    flow_run = api(client, "GET", f"/flow_runs/{flow_run_id}")
    page = browser.page

    browser.open(f"{ui}/runs/flow-run/{flow_run_id}")
    browser.wait_text(flow_run["name"])
    check("flow run page shows the run's name and Completed", "Completed" in browser.text())
    browser.shot("01-flow-run")

    browser.tab("Task Runs")
    browser.wait_text(f"wait-{job_ids[0]}")
    page.wait_for_timeout(1000)
    text = browser.text()
    missing = [j for j in job_ids if f"wait-{j}" not in text or f"fetch-{j}" not in text]
    check(f"Task Runs tab: every job id in the wait-/fetch- task run names ({len(job_ids)} jobs)",
          not missing, f"missing {missing}")
    browser.shot("02-flow-run-task-runs")

    browser.tab("Artifacts")
    keys = [f"{sweep_id}-{kind}" for kind in ("summary", "timings", "progress", "pictures")]
    browser.wait_text(keys[0])
    page.wait_for_timeout(1000)
    text = browser.text()
    check("Artifacts tab lists the summary, timings, progress and pictures artifacts",
          all(key in text for key in keys), f"missing {[key for key in keys if key not in text]}")
    browser.shot("03-flow-run-artifacts")

    artifacts = {a["key"]: a for a in api(client, "POST", "/artifacts/filter",
                                          json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})}
    summary = artifacts[f"{sweep_id}-summary"]
    browser.open(f"{ui}/artifacts/artifact/{summary['id']}")
    browser.wait_text(f"Sweep {sweep_id} on aer_simulator")
    text = browser.text()
    check("summary artifact renders its heading and the jobs-by-status table",
          f"{len(job_ids)} jobs" in text and "COMPLETED" in text and "median (s)" in text)
    browser.shot("04-artifact-summary")

    timings = artifacts[f"{sweep_id}-timings"]
    browser.open(f"{ui}/artifacts/artifact/{timings['id']}")
    browser.wait_text(job_ids[0])
    text = browser.text()
    check("per-job timings table shows every job id and the timing columns",
          all(j in text for j in job_ids) and "queue_s" in text and "run_s" in text)
    browser.shot("05-artifact-timings")

    progress = artifacts[f"{sweep_id}-progress"]
    browser.open(f"{ui}/artifacts/artifact/{progress['id']}")
    browser.wait_text("100")
    check("progress artifact shows 100%", re.search(r"100(\.0)?\s*%", browser.text()), browser.text()[:400])
    browser.shot("06-artifact-progress")

    pictures = artifacts[f"{sweep_id}-pictures"]
    browser.open(f"{ui}/artifacts/artifact/{pictures['id']}")
    browser.wait_text("job timeline and step durations")
    page.wait_for_function("() => [...document.images].filter(i => i.src.startsWith('data:image/png')"
                           " && i.complete && i.naturalWidth > 0).length >= 2", timeout=30_000)
    shown = page.eval_on_selector_all(
        "img", "els => els.filter(e => e.src.startsWith('data:image/png'))"
               ".map(e => [e.naturalWidth, e.getBoundingClientRect().width])")
    check("pictures artifact shows both PNGs (markdown data-URI images render in the UI)",
          len(shown) == 2 and all(natural > 0 and width > 100 for natural, width in shown), shown)
    browser.shot("07-artifact-pictures", height=1700)


def lab(check: Checks, procs: Processes, browser: Browser, out: Path, env: dict[str, str],
        stack: Stack, client: httpx.Client) -> None:
    ui = stack.ui
    logs = out / "logs"
    procs.run([str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"], env, 60, "work-pool-create")
    deployed = procs.run([str(BIN / "prefect"), "--no-prompt", "deploy", "--prefect-file",
                          "deployments/prefect.yaml", "--all"], env, 180, "deploy")
    deployments = api(client, "POST", "/deployments/filter", json={})
    names = {d["name"] for d in deployments}
    check("prefect deploy --all created both deployments", {"ghz-bell-sweep", "nightly-backend-check"} <= names,
          f"{names}\n{deployed[-1500:]}")
    nightly = next(d for d in deployments if d["name"] == "nightly-backend-check")
    in_root = {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
    check("the deployment runs its flow in the project root", in_root in (nightly["pull_steps"] or []),
          nightly["pull_steps"])
    check("the nightly deployment carries its cron schedule",
          any(s["schedule"].get("cron") == "0 2 * * *" for s in nightly.get("schedules", [])), nightly.get("schedules"))

    # The worker's flow runs use the last replica; the sweep used the first.
    worker_env = dict(env, PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_WORKER_PREFETCH_SECONDS="5",
                      PREFECT_IBMQ_URL=stack.job_urls[-1])
    worker = procs.start("worker", [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", "e2e-worker"],
                         worker_env)
    triggered = procs.run([str(BIN / "prefect"), "deployment", "run", SCHEDULED], env, 60, "deployment-run")
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", triggered)
    check("prefect deployment run created a flow run", match, triggered[-800:])
    flow_run_id = match.group(1)

    def final_state() -> dict[str, Any] | None:
        state = api(client, "GET", f"/flow_runs/{flow_run_id}")["state"]
        return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    state = wait_until("the nightly flow run", final_state, 240, every=2, alive=worker)
    check("the worker ran the nightly flow run to Completed", state["type"] == "COMPLETED",
          f"{state['type']}: {state.get('message')}; see {logs / 'worker.log'}")
    flow_run = api(client, "GET", f"/flow_runs/{flow_run_id}")
    check("the flow run belongs to the deployment and ran on the pool",
          flow_run["deployment_id"] == nightly["id"] and flow_run.get("work_pool_name") == POOL,
          (flow_run["deployment_id"], flow_run.get("work_pool_name")))

    child_runs = api(client, "POST", "/flow_runs/filter",
                     json={"flow_runs": {"parent_flow_run_id": {"any_": [flow_run_id]}}})
    run_ids = [flow_run_id, *(r["id"] for r in child_runs)]
    artifacts = api(client, "POST", "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": run_ids}}})
    keys = {a["key"] for a in artifacts if a.get("key")}
    backends = ("aer-simulator", "noisy-simulator")
    expected = {f"job-nightly-{b}-{kind}" for b in backends for kind in ("timings", "summary")}
    check("the nightly run's artifacts exist (a timings table and a summary per backend)", expected <= keys, keys)

    from prefect_ibmq import IBMQService

    # Asked through the first replica: it sees what the worker's runs submitted through the last.
    service = IBMQService(url=stack.job_urls[0], token=stack.token)
    names = {job.name() for job in service.jobs(limit=100)}
    check(f"the job service holds the nightly jobs (asked through replica 1 of {len(stack.job_urls)})",
          {"nightly-aer_simulator", "nightly-noisy_simulator"} <= names, names)

    browser.open(f"{ui}/runs/flow-run/{flow_run_id}")
    browser.wait_text(flow_run["name"])
    browser.page.wait_for_timeout(1000)
    browser.shot("08-nightly-flow-run")
    browser.open(f"{ui}/deployments")
    browser.wait_text("nightly-backend-check")
    browser.page.wait_for_timeout(500)
    browser.shot("09-deployments")


def check_shared_services(check: Checks, stack: Stack, client: httpx.Client, since: float) -> None:
    """What the run left where a lab past one machine keeps it: PostgreSQL and the Dask cluster."""
    from prefect_ibmq import IBMQService

    in_database = int(stack.postgres.sql("prefect", "SELECT count(*) FROM flow_run"))
    through_api = api(client, "POST", "/flow_runs/count", json={})
    check(f"Prefect keeps its flow runs in PostgreSQL ({in_database} rows in flow_run, as its API counts)",
          in_database == through_api and in_database >= 2, (in_database, through_api))
    listed = [{job.job_id() for job in IBMQService(url=url, token=stack.token).jobs(limit=1000)}
              for url in stack.job_urls]
    completed = [job for job in IBMQService(url=stack.job_urls[0], token=stack.token).jobs(limit=1000)
                 if job.record.status.value == "COMPLETED"]
    if stack.shared_store:
        stored = int(stack.postgres.sql("jobs", "SELECT count(*) FROM jobs"))
        check(f"{len(stack.job_urls)} job-service replicas list the same {len(listed[0])} jobs, "
              f"the rows of the jobs table in PostgreSQL",
              all(ids == listed[0] for ids in listed) and stored == len(listed[0]), (stored, [len(i) for i in listed]))
        live = set(stack.postgres.sql("jobs", "SELECT replica_id FROM replicas").split())
        ran_by = dict(line.split("|") for line in stack.postgres.sql(
            "jobs", "SELECT claimed_by, count(*) FROM jobs GROUP BY claimed_by").splitlines())
        check(f"{len(live)} replicas hold a lease, and they ran the jobs (jobs per replica: "
              f"{sorted(int(n) for n in ran_by.values())})",
              len(live) == len(stack.job_urls) and set(ran_by) <= live, (live, ran_by))
    chunks = chunks_run(stack, since)
    workers = sorted({record["worker"] for record in chunks})
    check(f"the Dask workers ran the jobs' chunks ({len(chunks)} chunks for {len(completed)} completed jobs, "
          f"on {len(workers)} of {DASK_WORKERS} workers)",
          len(completed) >= 5 and len(chunks) >= len(completed), (len(chunks), len(completed), workers))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/e2e", help="output folder (emptied first)")
    args = parser.parse_args()
    out = (ROOT / args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    for sub in ("logs", "screenshots", "prefect-home"):
        (out / sub).mkdir(parents=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PREFECT_IBMQ_"))}
    env.update(PREFECT_HOME=str(out / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_CLI_PROMPT="false", PYTHONUNBUFFERED="1",
               PREFECT_IBMQ_DATA_DIR=str(out / "embedded-job-service"))

    started = time.monotonic()
    check = Checks()
    procs = Processes(out / "logs")
    browser: Browser | None = None
    stack: Stack | None = None
    # SIGTERM/SIGINT (e.g. from run.sh's trap) unwind through the finally below.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: sys.exit(128 + s))
    error = None
    try:
        stack = start_stack(procs, out, env)
        since = time.time()
        with httpx.Client(base_url=f"{stack.ui}/api", timeout=30) as client:
            sweep = small_sweep(procs, out, env)
            check(f"small sweep {sweep['sweep_id']} ran {len(sweep['job_ids'])} jobs and wrote both pictures",
                  len(sweep["job_ids"]) == 3 and all(Path(sweep["outputs"][n]).stat().st_size > 1000
                                                     for n in ("timeline", "step_durations")), sweep)
            for name in ("timeline", "step_durations"):
                shutil.copy(sweep["outputs"][name], out / "screenshots" / f"sweep-{name}.png")
            browser = Browser(out)
            check_ui(check, browser, stack.ui, client, sweep)
            lab(check, procs, browser, out, env, stack, client)
            check_shared_services(check, stack, client, since)
    except BaseException as exc:  # noqa: BLE001 - reported, then the stack is stopped
        error = exc
        if not isinstance(exc, AssertionError):
            check.failed.append(type(exc).__name__)
        traceback.print_exc()
        if browser is not None:
            try:
                browser.shot("failure")
            except Exception:
                pass
    finally:
        if browser is not None:
            try:
                browser.close()
            except Exception:
                traceback.print_exc()
        if stack is not None:
            stack.dask.close()  # type: ignore[attr-defined]  # before the scheduler it talks to stops
        procs.stop_all()
    log(f"logs in {out / 'logs'}, screenshots in {out / 'screenshots'}; {time.monotonic() - started:.0f} s")
    if error is not None:
        log(f"FAILED: {error}")
    print(f"e2e: {len(check.passed)} passed, {len(check.failed)} failed", flush=True)
    return 1 if check.failed or error is not None else 0


if __name__ == "__main__":
    sys.exit(main())
