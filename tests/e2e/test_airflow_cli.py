"""``airflow dags test`` on the command line, as a user runs it: the discovery example against the
emulator CLI, with the sensor deferring and its trigger running in line, on every Airflow line the
lanes install (2.11, 3.1, 3.3)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.compat import AIRFLOW_VERSION
from tests.e2e.conftest import (
    ProcessGroup,
    airflow_cli,
    airflow_env,
    job_status,
    new_airflow_home,
    start_emulator_process,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAG_ID = "example_lakeformation_discovery"
JOB_TYPE = "METADATA_DISCOVERY"
JOB_NAME = "airflow_example_sales_discovery"
#: Logged by ``dag.test()`` when a deferred task's trigger runs in the same process (2.11 and 3.x).
DEFERRED_MARK = "running trigger in line"


def test_airflow_dags_test_discovery_defers_and_succeeds(
    migrated_db: Path, tmp_path: Path, process_group: ProcessGroup
) -> None:
    # Jobs run 4 s: the sensor's first poke finds the job running, so it defers.
    emulator = start_emulator_process(process_group, run_seconds=4.0)
    home = new_airflow_home(tmp_path, migrated_db)
    started = time.monotonic()
    proc = subprocess.run(
        airflow_cli("dags", "test", DAG_ID),
        env=airflow_env(home, emulator.url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    print(f"airflow dags test {DAG_ID} on Airflow {AIRFLOW_VERSION}: {time.monotonic() - started:.1f}s")
    assert proc.returncode == 0, output[-6000:]
    assert DEFERRED_MARK in output, output[-6000:]
    jobs = emulator.jobs_named(JOB_TYPE, JOB_NAME)
    assert len(jobs) == 1, jobs
    assert job_status(emulator.job(str(jobs[0]["id"]))) == "SUCCESS"
    assert emulator.stats()["starts"].get(str(jobs[0]["id"])) == 1
