"""OpenLineage through the OpenLineage provider's own listener, and the asset example pair, in
``dag.test()`` subprocesses against the emulator.

The producer DAG runs with ``[openlineage] transport`` = a file transport: the COMPLETE event of its
start task must name the OBS prefix as input and the target database as output, and carry the
``lakeformation_job`` run facet. Its start task publishes an asset event (outlet inferred from the
spec). The consumer DAG (asset-scheduled) runs through ``dag.test()`` with no triggering event.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RUNNER, Emulator, airflow_env, job_status, new_airflow_home
from tests.e2e.test_example_dags import Outcome, _run_many

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRODUCER = "example_lakeformation_asset_producer"
CONSUMER = "example_lakeformation_asset_consumer"
START_TASK = "run_discovery_job"
LAKE_NS = "lakeformation://cn-north-4/lf-emulator-instance"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    from airflow_provider_lakeformation.emulator import EmulatorServer

    with EmulatorServer(port=0, submit_seconds=0.5, run_seconds=2.0) as srv:
        yield Emulator(srv.url)


@pytest.fixture(scope="module")
def runs(migrated_db: Path, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    jobs = {}
    events_file = tmp_path_factory.mktemp("openlineage") / "events.jsonl"
    for dag_id in (PRODUCER, CONSUMER):
        base = tmp_path_factory.mktemp(dag_id)
        env = airflow_env(
            new_airflow_home(base, migrated_db),
            emulator.url,
            AIRFLOW__OPENLINEAGE__NAMESPACE="e2e",
            AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
        )
        # the connection's region is part of the LakeFormation namespace
        conn = json.loads(env["AIRFLOW_CONN_LAKEFORMATION_DEFAULT"])
        assert conn["extra"]["region"] == "cn-north-4"
        jobs[dag_id] = ([sys.executable, str(RUNNER), dag_id], env, base)
    outcomes: dict[str, Outcome] = _run_many(jobs, timeout=240)
    lines = events_file.read_text().splitlines() if events_file.exists() else []
    return {"outcomes": outcomes, "events": [json.loads(line) for line in lines]}


def _complete(events: list[dict[str, Any]], job_name: str) -> dict[str, Any]:
    found = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == job_name]
    assert len(found) == 1, [(e["eventType"], e["job"]["name"]) for e in events]
    return found[0]


def test_producer_emits_complete_event_with_obs_input_and_database_output(
    runs: dict[str, Any], emulator: Emulator
) -> None:
    outcome = runs["outcomes"][PRODUCER]
    assert outcome.returncode == 0, outcome.output[-8000:]
    assert outcome.result["state"] == "success", outcome.output[-8000:]
    job_id = outcome.result["xcom"][START_TASK]["job_id"]
    event = _complete(runs["events"], f"{PRODUCER}.{START_TASK}")
    print("COMPLETE event:", json.dumps({k: event[k] for k in ("eventType", "inputs", "outputs")}))
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        ("obs://example-sales-lake", "landing/orders")
    ]
    assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [(LAKE_NS, "hive.sales_landing")]
    facet = event["run"]["facets"]["lakeformation_job"]
    assert facet["job_id"] == job_id
    assert facet["job_type"] == "METADATA_DISCOVERY"
    assert facet["status"] == "SUCCESS"
    assert facet["console_url"] == f"{emulator.url}/console/jobs/{job_id}"
    assert job_status(emulator.job(job_id)) == "SUCCESS"
    # the create task's COMPLETE event describes the job it defined
    create = _complete(runs["events"], f"{PRODUCER}.create_discovery_job")
    assert [(d["namespace"], d["name"]) for d in create["outputs"]] == [(LAKE_NS, "hive.sales_landing")]


def test_producer_publishes_the_inferred_asset_event(runs: dict[str, Any]) -> None:
    outcome = runs["outcomes"][PRODUCER]
    assert outcome.returncode == 0, outcome.output[-8000:]
    job_id = outcome.result["xcom"][START_TASK]["job_id"]
    assert (
        f"LakeFormation job {job_id}: asset events for "
        "lakeformation://cn-north-4/example-instance-id/hive/sales_landing"
    ) in outcome.output


def test_consumer_runs_without_triggering_events(runs: dict[str, Any]) -> None:
    outcome = runs["outcomes"][CONSUMER]
    assert outcome.returncode == 0, outcome.output[-8000:]
    assert outcome.result["state"] == "success", outcome.output[-8000:]
    assert outcome.result["xcom"]["report_runs"]["return_value"] == []
