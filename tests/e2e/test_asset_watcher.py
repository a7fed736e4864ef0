"""The asset example pair under a real Airflow (api-server, scheduler, dag-processor, triggerer):
a LakeFormation job run outside Airflow schedules the consumer DAG exactly once per run, also
across a triggerer restart, and never for a run that ended before the watcher was deployed.

Runs are started through the emulator's HTTP API (as the console or LakeFormation's own scheduler
would); the DAG runs are read through Airflow's REST API.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import (
    Emulator,
    ProcessGroup,
    airflow_cli,
    airflow_env,
    free_port,
    job_status,
    lakeformation_conn,
    new_airflow_home,
    start_emulator_process,
    wait_http,
)
from tests.e2e.test_real_scheduler import AirflowStack, _wait_for_dag

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

CONSUMER = "example_lakeformation_asset_consumer"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
JOB_NAME = "external_sales_discovery_e2e"
WAIT = 240.0
#: Seconds between the watcher's polls in this test ([lakeformation] watcher_poll_interval).
WATCH_POLL = 2


def _job_spec() -> dict[str, Any]:
    return {
        "name": JOB_NAME,
        "description": "discovery run outside Airflow",
        "type": "METADATA_DISCOVERY",
        "parameter": {
            "metadata_discovery_parameter": {
                "data_location": "obs://example-sales-lake/external/",
                "target_catalog": "hive",
                "target_database": "sales_external",
                "conflict_strategy": "UPSERT",
                "file_discovery_type": "PARQUET",
                "log_location": "obs://example-sales-lake/logs/",
                "instance_id": "lf-emulator-instance",
            }
        },
    }


def run_outside_airflow(emulator: Emulator, job_id: str) -> str:
    """Start the job through the service API and wait until it ended; return the run's start_time."""
    resp = emulator.api("POST", f"/lf-jobs/{job_id}/start")
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = emulator.job(job_id)
        if job_status(job) == "SUCCESS":
            assert job is not None
            return str(job["start_time"])
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {emulator.job(job_id)}")


def stop_process(group: ProcessGroup, name: str, timeout: float = 60.0) -> None:
    """SIGTERM one component's process group and wait for it (a graceful restart)."""
    proc = group.procs[name]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class Watched:
    def __init__(self, stack: AirflowStack, env: dict[str, str], job_id: str, before: str) -> None:
        self.stack, self.env, self.job_id, self.before = stack, env, job_id, before

    def dag_runs(self) -> list[dict[str, Any]]:
        """The consumer's DAG runs, oldest first (a loaded machine may answer slowly: retried)."""
        for attempt in range(5):
            try:
                body = self.stack.call(
                    "GET", f"/api/v2/dags/{CONSUMER}/dagRuns", params={"limit": 100}
                ).json()
                break
            except requests.RequestException:
                if attempt == 4:
                    raise
                time.sleep(2)
        runs: list[dict[str, Any]] = body["dag_runs"]
        return sorted(runs, key=lambda r: str(r.get("run_after") or r.get("queued_at")))

    def wait_runs(self, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` consumer runs exist and all finished; return them."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            runs = self.dag_runs()
            assert len(runs) <= count, f"too many consumer runs: {runs}"
            if len(runs) == count and all(r["state"] in ("success", "failed") for r in runs):
                return runs
            time.sleep(0.5)
        raise AssertionError(
            f"{count} consumer runs expected, got {self.dag_runs()}\n{self.stack.diagnostics()}"
        )

    def reported(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        assert run["state"] == "success", f"{run}\n{self.stack.diagnostics()}"
        value: list[dict[str, Any]] = self.stack.xcom(CONSUMER, run["dag_run_id"], "report_runs")
        return value

    def polls(self) -> int:
        return int(self.stack.emulator.stats()["by_route"].get("list_jobs", 0))


@pytest.fixture(scope="module")
def watched(migrated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    base = tmp_path_factory.mktemp("asset_watcher")
    home = new_airflow_home(base, migrated_db)
    group = ProcessGroup(base)
    try:
        emulator = start_emulator_process(group, run_seconds=1.0, submit_seconds=0.2)
        created = emulator.api("POST", "/lf-jobs", json=_job_spec())
        assert created.status_code == 201, created.text
        job_id = str(created.json()["id"])
        before = run_outside_airflow(emulator, job_id)  # ends before the watcher is deployed
        api_port = free_port()
        api = f"http://127.0.0.1:{api_port}"
        env = airflow_env(
            home,
            None,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="2",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(api_port),
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
            AIRFLOW__LAKEFORMATION__WATCHER_POLL_INTERVAL=str(WATCH_POLL),
        )
        add = subprocess.run(
            airflow_cli(
                "connections", "add", "lakeformation_default", "--conn-json", lakeformation_conn(emulator.url)
            ),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert add.returncode == 0, add.stdout + add.stderr
        for component in COMPONENTS:
            group.start(component, airflow_cli(component), env)
        stack = AirflowStack(api=api, home=home, emulator=emulator, group=group)
        try:
            wait_http(f"{api}/api/v2/version", timeout=120, proc=group.procs["api-server"])
            token = stack.call("GET", "/auth/token").json()["access_token"]
            stack.http.headers["Authorization"] = f"Bearer {token}"
            _wait_for_dag(stack, CONSUMER, timeout=120)
            stack.call("PATCH", f"/api/v2/dags/{CONSUMER}", json={"is_paused": False})
        except Exception as exc:
            raise AssertionError(f"Airflow did not come up: {exc}\n{stack.diagnostics()}") from exc
        yield Watched(stack, env, job_id, before)
    finally:
        group.close()


def wait_for_polls(w: Watched, more: int) -> None:
    """Wait until the watcher polled the job list ``more`` more times."""
    start = w.polls()
    deadline = time.monotonic() + WAIT
    while w.polls() < start + more:
        assert time.monotonic() < deadline, f"the watcher stopped polling\n{w.stack.diagnostics()}"
        time.sleep(0.5)


def test_run_outside_airflow_schedules_consumer_once_also_across_triggerer_restart(watched: Watched) -> None:
    w = watched
    started = time.monotonic()
    wait_for_polls(w, 3)  # the watcher is deployed and took its baseline
    assert w.dag_runs() == [], "a run that ended before deployment must not schedule the DAG"

    first = run_outside_airflow(w.stack.emulator, w.job_id)
    (run1,) = w.wait_runs(1)
    (reported,) = w.reported(run1)
    assert reported["job_id"] == w.job_id
    assert reported["job_status"] == "SUCCESS"
    assert reported["start_time"] == first
    assert reported["asset"].endswith("/hive/sales_external")
    assert reported["watch"] == "METADATA_DISCOVERY:external_sales_discovery*"
    print(f"first consumer run {time.monotonic() - started:.1f}s after the watcher was polled")

    # Restart the triggerer; a run finishes while it is down.
    stop_process(w.stack.group, "triggerer")
    second = run_outside_airflow(w.stack.emulator, w.job_id)
    w.stack.group.start("triggerer-restarted", airflow_cli("triggerer"), w.env)
    runs = w.wait_runs(2)
    (reported2,) = w.reported(runs[1])
    assert reported2["start_time"] == second
    wait_for_polls(w, 5)  # several polls after the restart: nothing is reported twice
    assert len(w.dag_runs()) == 2
    all_starts = [r["start_time"] for run in w.dag_runs() for r in w.reported(run)]
    assert sorted(all_starts) == sorted([first, second])
    assert w.before not in all_starts
    print(f"watcher e2e done in {time.monotonic() - started:.1f}s")
