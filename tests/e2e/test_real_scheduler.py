"""The discovery example under a real Airflow: api-server, scheduler (LocalExecutor, SQLite),
dag-processor and triggerer as subprocesses, plus the emulator CLI.

A run is triggered through the public REST API (v2, simple auth manager, all-admins mode with a
token from ``GET /auth/token``); the sensor must be seen ``deferred`` (waiting on the triggerer) and
the run must end ``success``. On Airflow 2.11 the same test runs against what that line has: the
webserver's REST API v1 (the public role is Admin: no user to create), the scheduler parsing the
DAGs itself (no dag-processor) with the SequentialExecutor (the only one 2.11 allows on SQLite),
and the triggerer. A job the emulator fails must fail the run, with the tail of the job
log in the sensor's task log (read through the REST API's log endpoint).

The LakeFormation connection is stored in the metadata DB with ``airflow connections add`` (not an
environment variable), so the triggerer's asynchronous connection lookup takes the production path.
"""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.compat import AIRFLOW_V_3
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

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAG_ID = "example_lakeformation_discovery"
SENSOR = "wait_for_discovery"
START = "start_discovery_job"
COMPONENTS = (
    ("api-server", "scheduler", "dag-processor", "triggerer")
    if AIRFLOW_V_3
    else ("webserver", "scheduler", "triggerer")
)
API = "/api/v2" if AIRFLOW_V_3 else "/api/v1"
RUN_TIMEOUT = 240.0


@dataclass
class AirflowStack:
    api: str
    home: Path
    emulator: Emulator
    group: ProcessGroup
    #: The environment the components run with (for ``airflow`` CLI calls against the same stack).
    env: dict[str, str] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        resp = self.http.request(method, f"{self.api}{path}", timeout=30, **kwargs)
        if resp.status_code >= 400:
            raise AssertionError(f"{method} {path}: {resp.status_code} {resp.text[:2000]}")
        return resp

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"conf": conf or {}}
        if AIRFLOW_V_3:
            body["logical_date"] = None
        run_id: str = self.call("POST", f"{API}/dags/{dag_id}/dagRuns", json=body).json()["dag_run_id"]
        return run_id

    def _run_path(self, dag_id: str, run_id: str) -> str:
        return f"{API}/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.call("GET", self._run_path(dag_id, run_id)).json()["state"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        body = self.call("GET", f"{self._run_path(dag_id, run_id)}/taskInstances").json()
        return {ti["task_id"]: ti["state"] for ti in body["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        value = self.call("GET", path, params={"deserialize": "true"}).json()["value"]
        if isinstance(value, str) and not AIRFLOW_V_3:  # v1 returns the deserialized value as text
            with contextlib.suppress(ValueError, SyntaxError):
                return ast.literal_eval(value)
        return value

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task log as text: each event, plus ``ExcType: message`` of logged exceptions."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/logs/{try_number}"
        if not AIRFLOW_V_3:  # v1: the log files (task + triggerer parts) as plain text
            return self.call(
                "GET", path, params={"full_content": "true"}, headers={"Accept": "text/plain"}
            ).text
        body = self.call("GET", path, headers={"Accept": "application/json"}).json()
        content = body.get("content")
        if not isinstance(content, list):
            return str(content)
        lines: list[str] = []
        for item in content:
            if not isinstance(item, dict):
                lines.append(str(item))
                continue
            lines.append(str(item.get("event", "")))
            for exc in item.get("error_detail") or []:
                lines.append(f"{exc.get('exc_type')}: {exc.get('exc_value')}")
        return "\n".join(lines)

    def watch(self, dag_id: str, run_id: str, task_id: str) -> tuple[str, list[str | None]]:
        """Poll until the run ends; return its state and the distinct states ``task_id`` went through."""
        seen: list[str | None] = []
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            state = self.task_states(dag_id, run_id).get(task_id)
            if not seen or seen[-1] != state:
                seen.append(state)
            run_state = self.run_state(dag_id, run_id)
            if run_state in ("success", "failed"):
                return run_state, seen
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} not finished after {RUN_TIMEOUT}s; {task_id} went {seen}")

    def diagnostics(self) -> str:
        return "\n".join(f"--- {name}\n{self.group.log(name)[-3000:]}" for name in (*COMPONENTS, "emulator"))


def start_stack(
    base: Path,
    migrated_db: Path,
    group: ProcessGroup,
    *,
    run_seconds: float = 12.0,
    dags_folder: Path | None = None,
    unpause: Sequence[str] = (DAG_ID,),
) -> AirflowStack:
    """The emulator and the Airflow components as subprocesses of ``group``; ``unpause`` DAGs are
    waited for and unpaused (every other DAG stays paused)."""
    home = new_airflow_home(base, migrated_db)
    emulator = start_emulator_process(group, run_seconds=run_seconds, submit_seconds=0.5)
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    env = airflow_env(
        home,
        None,  # the LakeFormation connection lives in the metadata DB, as in production
        **(_v3_settings(api_port) if AIRFLOW_V_3 else _v2_settings(api_port)),
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        # Airflow 2.11's executors run `airflow tasks run ...` from PATH: this interpreter's.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if dags_folder is not None:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
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
    if not AIRFLOW_V_3:
        # Anonymous users get the Admin role: no user to create (minutes of permission syncing).
        (home / "webserver_config.py").write_text('AUTH_ROLE_PUBLIC = "Admin"\n')
    started = time.monotonic()
    for component in COMPONENTS:
        group.start(component, airflow_cli(component), env)
    stack = AirflowStack(api=api, home=home, emulator=emulator, group=group, env=env)
    try:
        wait_http(f"{api}{API}/version", timeout=180, proc=group.procs[COMPONENTS[0]])
        if AIRFLOW_V_3:
            token = stack.call("GET", "/auth/token").json()["access_token"]
            stack.http.headers["Authorization"] = f"Bearer {token}"
        for dag_id in unpause:
            _wait_for_dag(stack, dag_id, timeout=180)
            stack.call("PATCH", f"{API}/dags/{dag_id}", json={"is_paused": False})
    except Exception as exc:
        raise AssertionError(f"Airflow did not come up: {exc}\n{stack.diagnostics()}") from exc
    print(f"Airflow stack up in {time.monotonic() - started:.1f}s")
    return stack


def _v3_settings(api_port: int) -> dict[str, str]:
    """Airflow 3: api-server (REST API v2, simple auth manager, all admins), LocalExecutor,
    dag-processor."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
    }


def _v2_settings(api_port: int) -> dict[str, str]:
    """Airflow 2.11: webserver (REST API v1, open to the public Admin role), scheduler parsing the
    DAGs itself, SequentialExecutor (2.11 refuses LocalExecutor on SQLite)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",
        "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.default",
        "AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT": "True",
        "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(api_port),
        "AIRFLOW__WEBSERVER__WORKERS": "1",
        "AIRFLOW__WEBSERVER__SECRET_KEY": "e2e-webserver-secret-not-for-production",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "10",
    }


@pytest.fixture(scope="module")
def stack(migrated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    base = tmp_path_factory.mktemp("real_scheduler")
    group = ProcessGroup(base)
    try:
        # Jobs run 12 s: even on a slow machine the sensor's first poke (a few seconds after the start
        # task) finds the job running, so it defers and is seen deferred for a while. Airflow 2.11's
        # SequentialExecutor starts every task as a fresh `airflow tasks run` process (measured: ~20 s
        # each on the loaded 2-core machine, the sensor's first poke came after a 12 s job had ended),
        # so there the jobs run 45 s. Only this DAG is unpaused: the scheduled example stays paused.
        run_seconds = 12.0 if AIRFLOW_V_3 else 45.0
        yield start_stack(base, migrated_db, group, run_seconds=run_seconds, unpause=(DAG_ID,))
    finally:
        group.close()


def _wait_for_dag(stack: AirflowStack, dag_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = stack.http.get(f"{stack.api}{API}/dags/{dag_id}", timeout=10)
        if resp.status_code == 200:
            return
        time.sleep(1)
    raise TimeoutError(f"DAG {dag_id} not parsed within {timeout}s")


def test_discovery_run_defers_and_succeeds(stack: AirflowStack) -> None:
    started = time.monotonic()
    run_id = stack.trigger(DAG_ID)
    run_state, sensor_states = stack.watch(DAG_ID, run_id, SENSOR)
    print(f"run {run_id}: {run_state} in {time.monotonic() - started:.1f}s; sensor went {sensor_states}")
    tasks = stack.task_states(DAG_ID, run_id)
    assert run_state == "success", f"{tasks}\n{stack.diagnostics()}"
    assert "deferred" in sensor_states, sensor_states
    assert set(tasks.values()) == {"success"}, tasks

    job_id = stack.xcom(DAG_ID, run_id, START)
    assert stack.xcom(DAG_ID, run_id, SENSOR) == "SUCCESS"
    assert stack.xcom(DAG_ID, run_id, "report") == {"job_id": job_id, "job_status": "SUCCESS"}
    assert job_status(stack.emulator.job(job_id)) == "SUCCESS"
    # The wait happened on the triggerer: the trigger's log shows up in the sensor's task log.
    assert f"LakeFormation job {job_id}" in stack.task_log(DAG_ID, run_id, SENSOR)


def test_failed_job_fails_run_with_log_tail(stack: AirflowStack) -> None:
    started = time.monotonic()
    run_id = stack.trigger(DAG_ID, {"description": "Nightly discovery [lf-emulator:outcome=FAILED]"})
    run_state, sensor_states = stack.watch(DAG_ID, run_id, SENSOR)
    print(f"run {run_id}: {run_state} in {time.monotonic() - started:.1f}s; sensor went {sensor_states}")
    tasks = stack.task_states(DAG_ID, run_id)
    assert run_state == "failed", f"{tasks}\n{stack.diagnostics()}"
    assert "deferred" in sensor_states, sensor_states
    assert tasks[SENSOR] == "failed"
    assert tasks["report"] == "upstream_failed"

    job_id = stack.xcom(DAG_ID, run_id, START)
    assert job_status(stack.emulator.job(job_id)) == "FAILED"
    job_log = stack.emulator.job_log(job_id).strip()
    assert job_log, "the emulator should write a job log"
    task_log = stack.task_log(DAG_ID, run_id, SENSOR)
    assert f"log of LakeFormation job {job_id}" in task_log
    assert job_log.splitlines()[-1].strip() in task_log
    assert f"LakeFormationJobFailedError: LakeFormation job {job_id} ended with status FAILED" in task_log
