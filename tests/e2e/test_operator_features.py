"""Operator features of issue #26 through Airflow: each DAG of ``dags_operator_features`` runs with
``dag.test()`` in its own subprocess against one in-process emulator (all started together)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat import AIRFLOW_V_3
from tests.e2e.conftest import RUNNER, Emulator, airflow_env, job_status, new_airflow_home
from tests.e2e.test_example_dags import Outcome, _run_many

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAGS = Path(__file__).with_name("dags_operator_features")
DAG_IDS = ("lf_by_name", "lf_fails_early", "lf_fan_out")
RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    from airflow_provider_lakeformation.emulator import EmulatorServer

    with EmulatorServer(port=0, submit_seconds=0.5, run_seconds=3.0) as srv:
        yield Emulator(srv.url)


@pytest.fixture(scope="module")
def runs(
    migrated_db: Path, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    import sys

    jobs = {}
    for dag_id in DAG_IDS:
        base = tmp_path_factory.mktemp(dag_id)
        env = airflow_env(
            new_airflow_home(base, migrated_db), emulator.url, AIRFLOW__CORE__DAGS_FOLDER=str(DAGS)
        )
        jobs[dag_id] = ([sys.executable, str(RUNNER), dag_id], env, base)
    return _run_many(jobs, timeout=RUN_TIMEOUT)


def test_start_and_sensor_by_name_with_do_xcom_push_false(
    runs: dict[str, Outcome], emulator: Emulator
) -> None:
    outcome = runs["lf_by_name"]
    assert outcome.returncode == 0, outcome.output[-8000:]
    result = outcome.result
    assert result["tasks"] == {"create": "success", "start": "success", "wait": "success"}, outcome.output[
        -8000:
    ]
    job_id = result["xcom"]["create"]["return_value"]
    assert [job["id"] for job in emulator.jobs_named("METADATA_MIGRATION", "issue26_by_name")] == [job_id]
    assert job_status(emulator.job(job_id)) == "SUCCESS"
    # do_xcom_push=False: neither the return value nor job_id / console_url / job_status
    start_xcoms = result["xcom"].get("start", {})
    assert {"return_value", "job_id", "console_url", "job_status"}.isdisjoint(start_xcoms), start_xcoms
    if AIRFLOW_V_3:  # the link the task recorded when it ended (after its deferral) shows the job anyway
        assert job_id in start_xcoms["_link_LakeFormationJobLink"]
    assert "[DAG TEST] running trigger in line" in outcome.output
    assert result["xcom"]["wait"]["job_id"] == job_id
    assert result["xcom"]["wait"]["return_value"] == "SUCCESS"


def test_tasks_failing_before_they_know_their_job(runs: dict[str, Outcome]) -> None:
    outcome = runs["lf_fails_early"]
    assert outcome.returncode == 0, outcome.output[-8000:]
    assert outcome.result["tasks"] == {"bad_create": "failed", "missing_start": "failed"}
    assert "no METADATA_MIGRATION LakeFormation job named 'issue26_no_such_job' exists" in outcome.output
    # the extra link is recorded without asking XCom for a console_url that was never pushed
    assert "XCom not found" not in outcome.output
    assert "Failed to push an xcom for task operator extra link" not in outcome.output


def test_fan_out_over_a_job_listing(runs: dict[str, Outcome], emulator: Emulator) -> None:
    outcome = runs["lf_fan_out"]
    assert outcome.returncode == 0, outcome.output[-8000:]
    result = outcome.result
    assert result["state"] == "success", outcome.output[-8000:]
    wanted = sorted(result["xcom"][f"create_{n}"]["return_value"] for n in ("a", "b"))
    assert sorted(result["xcom"]["list_jobs"]["return_value"]) == wanted
    for job_id in wanted:  # each started once by its mapped task and waited for
        assert job_status(emulator.job(job_id)) == "SUCCESS"
        assert len(emulator.history(job_id)) == 1
    other = result["xcom"]["create_other"]["return_value"]
    assert emulator.history(other) == []
    assert outcome.output.count("[DAG TEST] end task task_id=run_each") == 2
