"""Fixtures of the Airflow end-to-end tests.

Airflow reads its configuration once, when it is imported, so these tests never run Airflow in the
pytest process: every ``dag.test()`` and every Airflow component runs as a subprocess with its own
environment (AIRFLOW_HOME in a temp dir, DAGS_FOLDER = the repo's ``example_dags``, connections as
``AIRFLOW_CONN_*`` variables). The metadata DB is migrated once per session and copied per test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
RUNNER = Path(__file__).with_name("dag_test_runner.py")
RESULT_PREFIX = "E2E_RESULT "

# Credentials and identifiers of the emulator (its documented defaults).
EMULATOR_PROJECT_ID = "0123456789abcdef0123456789abcdef"
EMULATOR_INSTANCE_ID = "lf-emulator-instance"
EMULATOR_AK = "EMULATORAK"
EMULATOR_SK = "emulator-secret-key"
EMULATOR_TOKEN = "emulator-token"

#: The Hive metastore connection of example_lakeformation_metadata_migration (fake values).
METASTORE_CONN = {
    "conn_type": "mysql",
    "host": "metastore-db.example.internal",
    "port": 3306,
    "schema": "hive",
    "login": "hive",
    "password": "e2e-metastore-password",
}


def airflow_cli(*args: str) -> list[str]:
    """The ``airflow`` command of the interpreter running the tests."""
    return [sys.executable, "-m", "airflow", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lakeformation_conn(url: str) -> str:
    """``AIRFLOW_CONN_LAKEFORMATION_DEFAULT`` value for an emulator at ``url`` (AK/SK auth)."""
    return json.dumps(
        {
            "conn_type": "lakeformation",
            "host": url,
            "login": EMULATOR_AK,
            "password": EMULATOR_SK,
            "extra": {
                "auth_type": "aksk",
                "region": "cn-north-4",
                "project_id": EMULATOR_PROJECT_ID,
                "instance_id": EMULATOR_INSTANCE_ID,
                "max_retries": 2,
                "retry_min_wait": 0.2,
                "retry_max_wait": 1,
            },
        }
    )


def airflow_env(home: Path, emulator_url: str | None = None, **overrides: str) -> dict[str, str]:
    """A clean environment for an Airflow subprocess (no AIRFLOW* variable of the caller leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__FERNET_KEY": "Aa-YUvAeP3RF1IzWSoKE8imXlU0PXLpeu06nw3_4QTI=",
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-jwt-secret-not-for-production",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # The deferral-race hold (default 10 s) made short: every deferral still takes the
            # hold's path; benchmarks/deferral_race.py measures the default against none.
            "AIRFLOW__LAKEFORMATION__MIN_DEFERRAL_SECONDS": "2",
            "AIRFLOW_CONN_HIVE_METASTORE_MYSQL": json.dumps(METASTORE_CONN),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if emulator_url:
        env["AIRFLOW_CONN_LAKEFORMATION_DEFAULT"] = lakeformation_conn(emulator_url)
    env.update(overrides)
    return env


def new_airflow_home(base: Path, migrated_db: Path) -> Path:
    """A fresh AIRFLOW_HOME holding a copy of the migrated metadata DB."""
    home = base / "airflow_home"
    home.mkdir(parents=True)
    # A present airflow.cfg stops every process from writing its own default one (with random keys).
    (home / "airflow.cfg").write_text("[core]\nload_examples = False\n")
    shutil.copy2(migrated_db, home / "airflow.db")
    return home


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``airflow db migrate`` once per session; tests copy the resulting SQLite file."""
    home = tmp_path_factory.mktemp("airflow_db")
    (home / "airflow.cfg").write_text("[core]\nload_examples = False\n")
    started = time.monotonic()
    proc = subprocess.run(
        airflow_cli("db", "migrate"),
        env=airflow_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    print(f"airflow db migrate: {time.monotonic() - started:.1f}s")
    return home / "airflow.db"


# ------------------------------------------------------------------------------------ emulator


@dataclass
class Emulator:
    url: str

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the job API with the emulator's static token."""
        url = f"{self.url}/v1/{EMULATOR_PROJECT_ID}/instances/{EMULATOR_INSTANCE_ID}{path}"
        headers = {"X-Auth-Token": EMULATOR_TOKEN, "Content-Type": "application/json"}
        return requests.request(method, url, headers=headers, timeout=10, **kwargs)

    def jobs_named(self, job_type: str, name: str) -> list[dict[str, Any]]:
        resp = self.api("GET", "/lf-jobs", params={"type": job_type, "name_pattern": name, "limit": 100})
        resp.raise_for_status()
        return [job for job in resp.json().get("jobs", []) if job.get("name") == name]

    def job(self, job_id: str) -> dict[str, Any] | None:
        resp = self.api("GET", f"/lf-jobs/{job_id}")
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def job_log(self, job_id: str) -> str:
        resp = self.api("GET", f"/lf-jobs/{job_id}/log")
        resp.raise_for_status()
        return str(resp.json().get("log", ""))

    def history(self, job_id: str) -> list[dict[str, Any]]:
        """The job's runs, newest first (``run_id``, ``status``, ``start_time``/``end_time`` in epoch ms)."""
        resp = self.api("GET", f"/lf-jobs/{job_id}/history", params={"limit": 100})
        resp.raise_for_status()
        return list(resp.json().get("jobs", []))

    def stats(self) -> dict[str, Any]:
        resp = requests.get(f"{self.url}/_emulator/stats", timeout=10)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body


def job_status(job: Mapping[str, Any] | None) -> str | None:
    """``status`` of a job body, whether a plain string or ``{"status": ...}``."""
    if job is None:
        return None
    status = job.get("status")
    if isinstance(status, Mapping):
        status = status.get("status")
    return None if status is None else str(status)


def wait_http(url: str, timeout: float, proc: subprocess.Popen[Any] | None = None) -> None:
    """Wait until ``url`` answers below 500 (or ``proc`` dies)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} came up")
        try:
            resp = requests.get(url, timeout=2)
            if resp.status_code < 500:
                return
            last = resp.status_code
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not come up within {timeout}s (last: {last})")


# ------------------------------------------------------------------------------------ processes


class ProcessGroup:
    """Subprocesses started in their own sessions, all killed (whole process groups) on ``close``."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, cmd: list[str], env: Mapping[str, str], *, append: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` as ``name`` (``append``: a restart that keeps the earlier log)."""
        log = (self.log_dir / f"{name}.log").open("ab" if append else "wb")
        try:
            proc = subprocess.Popen(
                cmd, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO
            )
        finally:
            log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to ``name``'s process group and to every descendant, also those in process
        groups of their own (Airflow runs each task in one): with ``SIGKILL``, a lost machine."""
        proc = self.procs[name]
        descendants: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            descendants = psutil.Process(proc.pid).children(recursive=True)
        _signal_group(proc, sig)
        for child in descendants:
            with contextlib.suppress(psutil.Error):
                child.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str, grace: float = 30.0) -> None:
        """Stop one process (its whole group): SIGTERM, then SIGKILL after ``grace`` seconds."""
        proc = self.procs.pop(name)
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=5)

    def close(self, grace: float = 15.0) -> None:
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # Children (task supervisors, gunicorn/uvicorn workers) may outlive their leader.
            _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@pytest.fixture
def process_group(tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(tmp_path)
    try:
        yield group
    finally:
        group.close()


def start_emulator_process(
    group: ProcessGroup, *, run_seconds: float, submit_seconds: float = 0.5
) -> Emulator:
    """The emulator CLI as a subprocess on a free port."""
    port = free_port()
    proc = group.start(
        "emulator",
        [
            sys.executable,
            "-m",
            "airflow_provider_lakeformation.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--run-seconds",
            str(run_seconds),
            "--submit-seconds",
            str(submit_seconds),
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("LF_EMULATOR")},
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_emulator/stats", timeout=30, proc=proc)
    return Emulator(url)


def parse_result(stdout: str) -> dict[str, Any]:
    """The ``E2E_RESULT`` summary printed by dag_test_runner.py."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise AssertionError(f"no {RESULT_PREFIX.strip()} line in the runner output:\n{stdout[-5000:]}")
