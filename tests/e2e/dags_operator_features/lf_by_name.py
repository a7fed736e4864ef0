"""Jobs by name through Airflow: a deferred start by name with do_xcom_push=False, then a sensor by
name; and a DAG whose tasks fail before they know their job (no XCom lookup for the link)."""

from __future__ import annotations

from datetime import datetime, timezone

from _spec import migration_spec
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
NAME = "issue26_by_name"

with DAG("lf_by_name", schedule=None, start_date=START, catchup=False):
    create = LakeFormationCreateJobOperator(
        task_id="create", job=migration_spec(NAME, "[lf-emulator:duration=3]"), if_exists="update"
    )
    start = LakeFormationStartJobOperator(
        task_id="start",
        job_name="{{ params.name }}",
        job_type="metadata_migration",
        deferrable=True,
        poll_interval=1,
        do_xcom_push=False,
        params={"name": NAME},
    )
    wait = LakeFormationJobSensor(
        task_id="wait", job_name=NAME, job_type="METADATA_MIGRATION", poke_interval=1, timeout=120
    )
    create >> start >> wait

with DAG("lf_fails_early", schedule=None, start_date=START, catchup=False):
    LakeFormationCreateJobOperator(
        task_id="bad_create", job=migration_spec("{{ 'not a valid name' }}"), retries=0
    )
    LakeFormationStartJobOperator(
        task_id="missing_start", job_name="issue26_no_such_job", job_type="METADATA_MIGRATION", retries=0
    )
