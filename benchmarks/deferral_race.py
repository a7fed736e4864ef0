"""Airflow's deferral race, measured with and without the provider's mitigation in the same run.

A deferred task whose trigger fires before the scheduler has handled the executor's event of the
deferring process is failed by Airflow 3.2-3.3 ("finished with state success, but the task
instance's state attribute is queued"; apache/airflow issues 66374, 67287, 71580, 72716). Short jobs
with short polls hit it. The provider's mitigation: the trigger holds the event that resumes the task
until ``min_deferral_seconds`` after the deferral (default 10 s).

This script starts a real Airflow (api-server, scheduler with the LocalExecutor, dag-processor,
triggerer) on PostgreSQL (``scripts/services.sh``) against the emulator (jobs of ``--run-seconds``),
and runs ``--waits`` DAG runs per variant, interleaved: each run starts its own job
(``wait_for_completion=False``) and waits with a deferrable sensor (``poke_interval`` 1, 2 or 3 s in
turn). Variant ``hold=0`` is Airflow's behaviour, variant ``hold=N`` the provider's default. It
prints, per variant: runs, runs failed although the job succeeded (the race), lines of the race in
the scheduler log, and how long the sensor's wait took past the job's end (the mitigation's cost).

    python benchmarks/deferral_race.py                      # 30 waits per variant, 5 s jobs
    python benchmarks/deferral_race.py --waits 40 --hold 5

Needs the main lane's venv (Airflow 3.2+, ``.[test,distributed]``) and PostgreSQL (installed from
Debian's packages by ``scripts/services.sh`` where missing). It reuses the end-to-end tests' process
helpers (``tests/e2e/conftest.py``). Takes about 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from tests.e2e.conftest import (  # noqa: E402
    EMULATOR_INSTANCE_ID as INSTANCE_ID,
)
from tests.e2e.conftest import (  # noqa: E402
    Emulator,
    ProcessGroup,
    airflow_cli,
    airflow_env,
    free_port,
    job_status,
    lakeformation_conn,
    start_emulator_process,
    wait_http,
)

SERVICES = REPO / "scripts" / "services.sh"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
POKES = (1, 2, 3)
RACE_LINE = "but the task instance's state attribute is"

DAG_TEMPLATE = """
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

for hold in {holds!r}:
    for poke in {pokes!r}:
        with DAG(
            dag_id=f"lf_race_hold{{hold}}_poke{{poke}}",
            start_date=datetime(2025, 1, 1),
            schedule=None,
            catchup=False,
            max_active_runs=16,
        ) as dag:
            start = LakeFormationStartJobOperator(
                task_id="start",
                job_id="{{{{ dag_run.conf['job_id'] }}}}",
                wait_for_completion=False,
            )
            wait = LakeFormationJobSensor(
                task_id="wait",
                job_id="{{{{ dag_run.conf['job_id'] }}}}",
                deferrable=True,
                poke_interval=poke,
                timeout=600,
                min_deferral_seconds=hold,
            )
            start >> wait
        globals()[dag.dag_id] = dag
"""


@dataclass
class Wait:
    variant: int
    dag_id: str
    run_id: str
    job_id: str
    state: str = ""
    job_status: str | None = None
    job_end: float | None = None
    sensor_end: float | None = None


@dataclass
class Stack:
    api: str
    emulator: Emulator
    group: ProcessGroup
    http: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.http.request(method, f"{self.api}{path}", timeout=60, **kwargs)
        resp.raise_for_status()
        return resp.json() if resp.content else None


def _airflow(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        airflow_cli(*args), env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"airflow {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _services(base: Path) -> dict[str, str]:
    subprocess.run(["bash", str(SERVICES), "install"], check=True, timeout=1800)
    subprocess.run(["bash", str(SERVICES), "start", str(base)], check=True, timeout=900, capture_output=True)
    lines = (base / "services.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _env(home: Path, dags: Path, pg_url: str, api_port: int) -> dict[str, str]:
    return airflow_env(
        home,
        None,
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="16",
        AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="16",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        # the variants set min_deferral_seconds per task; this is only the fallback
        AIRFLOW__LAKEFORMATION__MIN_DEFERRAL_SECONDS="10",
        PYTHONPATH=str(REPO),
    )


def start_stack(base: Path, holds: tuple[int, ...], run_seconds: float, group: ProcessGroup) -> Stack:
    services = _services(base / "services")
    home, dags = base / "airflow_home", base / "dags"
    home.mkdir()
    dags.mkdir()
    (home / "airflow.cfg").write_text("[core]\nload_examples = False\n")
    (dags / "lf_race.py").write_text(DAG_TEMPLATE.format(holds=holds, pokes=POKES))
    emulator = start_emulator_process(group, run_seconds=run_seconds, submit_seconds=0.5)
    api_port = free_port()
    env = _env(home, dags, services["PG_URL"], api_port)
    _airflow(env, "db", "migrate")
    _airflow(
        env, "connections", "add", "lakeformation_default", "--conn-json", lakeformation_conn(emulator.url)
    )
    for name in COMPONENTS:
        group.start(name, airflow_cli(name), env)
    stack = Stack(api=f"http://127.0.0.1:{api_port}", emulator=emulator, group=group)
    wait_http(f"{stack.api}/api/v2/version", timeout=300, proc=group.procs["api-server"])
    token = stack.call("GET", "/auth/token")["access_token"]
    stack.http.headers["Authorization"] = f"Bearer {token}"
    wanted = {f"lf_race_hold{h}_poke{p}" for h in holds for p in POKES}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        dags_seen = {d["dag_id"] for d in stack.call("GET", "/api/v2/dags", params={"limit": 100})["dags"]}
        if wanted <= dags_seen:
            return stack
        time.sleep(2)
    raise SystemExit(f"DAGs not parsed within 300 s; seen {sorted(dags_seen)}")


def _new_job(emulator: Emulator, name: str) -> str:
    parameter = {
        "data_location": "obs://race-lake/landing/",
        "target_catalog": "hive",
        "target_database": "race",
        "conflict_strategy": "UPSERT",
        "file_discovery_type": "PARQUET",
        "execute_strategy": "MANNUAL",
        "log_location": "obs://race-lake/logs/",
        "instance_id": INSTANCE_ID,
    }
    body = {
        "name": name,
        "type": "METADATA_DISCOVERY",
        "parameter": {"metadata_discovery_parameter": parameter},
    }
    resp = emulator.api("POST", "/lf-jobs", data=json.dumps(body))
    resp.raise_for_status()
    return str(resp.json()["id"])


def trigger_all(stack: Stack, holds: tuple[int, ...], waits: int, pace: float) -> list[Wait]:
    """``waits`` runs per variant, interleaved (hold A, hold B, hold A...), poke 1/2/3 s in turn."""
    runs: list[Wait] = []
    for i in range(waits):
        for hold in holds:
            dag_id = f"lf_race_hold{hold}_poke{POKES[i % len(POKES)]}"
            job_id = _new_job(stack.emulator, f"race_hold{hold}_{i:03d}")
            body = {"logical_date": None, "conf": {"job_id": job_id}}
            run_id = stack.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]
            runs.append(Wait(hold, dag_id, run_id, job_id))
            time.sleep(pace)
    return runs


def _epoch(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or str(value).replace(".", "", 1).isdigit():
        return float(value) / (1000.0 if float(value) > 1e11 else 1.0)
    from datetime import datetime

    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def collect(stack: Stack, runs: list[Wait], timeout: float) -> None:
    """Wait until every run ended; read its state, the job's status and end, the sensor's end."""
    deadline = time.monotonic() + timeout
    pending = list(runs)
    while pending and time.monotonic() < deadline:
        for run in list(pending):
            path = f"/api/v2/dags/{run.dag_id}/dagRuns/{run.run_id}"
            state = stack.call("GET", path)["state"]
            if state in ("success", "failed"):
                run.state = state
                tis = stack.call("GET", f"{path}/taskInstances")["task_instances"]
                sensor = next(ti for ti in tis if ti["task_id"] == "wait")
                run.sensor_end = _epoch(sensor.get("end_date"))
                job = stack.emulator.job(run.job_id)
                run.job_status = job_status(job)
                history = stack.emulator.history(run.job_id)
                run.job_end = _epoch(history[0].get("end_time")) if history else None
                pending.remove(run)
        time.sleep(2)
    for run in pending:
        run.state = "unfinished"


def report(runs: list[Wait], holds: tuple[int, ...], scheduler_log: str, args: argparse.Namespace) -> None:
    print(
        f"\nAirflow's deferral race: {args.waits} waits per variant, {args.run_seconds:g} s jobs, "
        f"polls {POKES} s, LocalExecutor on PostgreSQL, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    race_lines = [line for line in scheduler_log.splitlines() if RACE_LINE in line]
    print(f"race lines in the scheduler log ('...{RACE_LINE}...'): {len(race_lines)}")
    columns = ("min_deferral_seconds", "runs", "success", "failed", "failed with job SUCCESS", "race lines")
    print("| " + " | ".join(columns) + " | sensor end - job end p50 / max (s) |")
    print("|---|---|---|---|---|---|---|")
    for hold in holds:
        mine = [r for r in runs if r.variant == hold]
        failed = [r for r in mine if r.state != "success"]
        raced = [r for r in failed if r.job_status == "SUCCESS"]
        lags = [r.sensor_end - r.job_end for r in mine if r.state == "success" and r.sensor_end and r.job_end]
        lag = f"{statistics.median(lags):.1f} / {max(lags):.1f}" if lags else "-"
        seen = sum(f"lf_race_hold{hold}_" in line for line in race_lines)
        cells = (hold, len(mine), len(mine) - len(failed), len(failed), len(raced), seen, lag)
        print("| " + " | ".join(str(cell) for cell in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=30, help="deferred waits per variant (default 30)")
    parser.add_argument("--run-seconds", type=float, default=5.0, help="seconds each job runs (default 5)")
    parser.add_argument("--hold", type=int, default=10, help="the mitigated variant's min_deferral_seconds")
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between run triggers (default 1)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="longest wait for all runs (s)")
    args = parser.parse_args()
    holds = (0, args.hold)
    base = Path(tempfile.mkdtemp(prefix="lf-deferral-race-"))
    os.chmod(base, 0o755)  # PostgreSQL runs as the postgres user when we are root
    group = ProcessGroup(base)
    try:
        started = time.monotonic()
        stack = start_stack(base, holds, args.run_seconds, group)
        print(f"stack up in {time.monotonic() - started:.0f} s")
        runs = trigger_all(stack, holds, args.waits, args.pace)
        collect(stack, runs, args.timeout)
        print(f"all runs ended {time.monotonic() - started:.0f} s after the start")
        report(runs, holds, group.log("scheduler"), args)
    finally:
        group.close()
        subprocess.run(["bash", str(SERVICES), "stop", str(base / "services")], timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
