"""The emulator's command line: ``python -m airflow_provider_lakeformation.emulator`` and the
``lakeformation-emulator`` console script, in one process and with several workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from .test_emulator import permission_spec

READY = re.compile(r"LakeFormation emulator ready at (http://\S+)")


class Cli:
    def __init__(self, *args: str, timeout: float = 120.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LF_EMULATOR_")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_lakeformation.emulator",
                "--log-level",
                "warning",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.url = self._wait_ready(timeout)
        self.ready_text = "\n".join(self.lines)

    def _wait_ready(self, timeout: float) -> str:
        found: list[str] = []
        done = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                match = READY.search(line)
                if match and not found:
                    found.append(match.group(1))
                if found and "console:" in line:
                    done.set()
            done.set()

        threading.Thread(target=read, daemon=True).start()
        done.wait(timeout)
        if not found:
            self.stop()
            raise AssertionError("emulator did not print its ready line:\n" + "\n".join(self.lines))
        return found[0]

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)


@pytest.fixture
def cli() -> Iterator[type[Cli]]:
    started: list[Cli] = []

    class Tracked(Cli):
        def __init__(self, *args: str, timeout: float = 120.0) -> None:
            super().__init__(*args, timeout=timeout)
            started.append(self)

    yield Tracked
    for process in started:
        process.stop()


API = "/v1/0123456789abcdef0123456789abcdef/instances/lf-emulator-instance"
TOKEN = {"X-Auth-Token": "emulator-token"}
IAM_BODY = {
    "auth": {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {
                    "domain": {"name": "emulator_domain"},
                    "name": "emulator_user",
                    "password": "emulator-password",
                }
            },
        },
        "scope": {"project": {"id": "0123456789abcdef0123456789abcdef"}},
    }
}


def test_cli_single_process_with_state(cli: type[Cli], tmp_path: Path) -> None:
    state = tmp_path / "cli.db"
    server = cli("--port", "0", "--state", str(state), "--submit-seconds", "0", "--run-seconds", "0.2",
                 "--status-shape", "object")  # fmt: skip
    for expected in ("ak=EMULATORAK", "sk=emulator-secret-key", "emulator-token", "user=emulator_user",
                     "password=emulator-password", "domain=emulator_domain", "project_id=0123456789abcdef",
                     "instance_id=lf-emulator-instance", str(state)):  # fmt: skip
        assert expected in server.ready_text
    created = requests.post(
        server.url + API + "/lf-jobs", json=permission_spec("cli_job"), headers=TOKEN, timeout=10
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == {"status": "CREATED"}
    job_id = created.json()["id"]
    assert (
        requests.post(f"{server.url}{API}/lf-jobs/{job_id}/start", headers=TOKEN, timeout=10).status_code
        == 202
    )
    time.sleep(0.4)
    assert requests.get(f"{server.url}{API}/lf-jobs/{job_id}", headers=TOKEN, timeout=10).json()[
        "status"
    ] == {"status": "SUCCESS"}
    assert server.stop() == 0

    again = cli("--port", "0", "--state", str(state))
    job = requests.get(f"{again.url}{API}/lf-jobs/{job_id}", headers=TOKEN, timeout=10)
    assert job.json()["status"] == "SUCCESS"
    assert (
        requests.get(f"{again.url}{API}/lf-jobs/{job_id}/history", headers=TOKEN, timeout=10).json()["total"]
        == 1
    )


def test_cli_credentials_from_flags(cli: type[Cli]) -> None:
    server = cli("--port", "0", "--token", "flag-token", "--project-id", "p" * 32, "--instance-id", "inst-9")
    assert "X-Auth-Token: flag-token" in server.ready_text
    listed = requests.get(
        f"{server.url}/v1/{'p' * 32}/instances/inst-9", headers={"X-Auth-Token": "flag-token"}, timeout=10
    )
    assert listed.status_code == 200
    assert listed.json()["id"] == "inst-9"


@pytest.mark.slow
def test_cli_workers_share_state(cli: type[Cli], tmp_path: Path) -> None:
    server = cli(
        "--port", "0", "--workers", "3", "--state", str(tmp_path / "workers.db"), "--run-seconds", "30"
    )
    assert "workers: 3" in server.ready_text
    base = server.url + API

    def work(i: int) -> tuple[int, int, int]:
        with requests.Session() as s:
            s.headers.update(TOKEN)
            created = s.post(base + "/lf-jobs", json=permission_spec(f"worker_job_{i}"), timeout=30)
            job_id = created.json()["id"]
            first = s.post(f"{base}/lf-jobs/{job_id}/start", timeout=30)
            second = s.post(f"{base}/lf-jobs/{job_id}/start", timeout=30)
            return created.status_code, first.status_code, second.status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(work, range(60)))
    assert set(results) == {(201, 202, 400)}
    token = requests.post(server.url + "/v3/auth/tokens", json=IAM_BODY, timeout=10)
    assert token.status_code == 201
    for _ in range(9):  # whichever worker answers accepts the token
        assert (
            requests.get(
                base, headers={"X-Auth-Token": token.headers["X-Subject-Token"]}, timeout=10
            ).status_code
            == 200
        )
    requests.post(server.url + "/_emulator/faults", json={"status": 503, "count": 3}, timeout=10)
    codes = [requests.get(base, headers=TOKEN, timeout=10).status_code for _ in range(6)]
    assert codes == [503, 503, 503, 200, 200, 200]  # faults are shared too
    time.sleep(0.6)  # counters of the other workers are flushed every 0.25 s
    stats = requests.get(server.url + "/_emulator/stats", timeout=10).json()
    assert stats["creates"] == 60
    assert sum(stats["starts"].values()) == 60
    assert stats["requests"] == 180 + 1 + 9 + 6
    assert stats["faults_injected"] == 3


def test_cli_rejects_workers_without_state() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_lakeformation.emulator", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--workers > 1 needs --state" in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("lakeformation-emulator")
    if not script.exists():
        pytest.skip("console script not installed (package not installed with pip install -e .)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    for flag in (
        "--state",
        "--submit-seconds",
        "--run-seconds",
        "--workers",
        "--token-ttl",
        "--status-shape",
    ):
        assert flag in result.stdout
