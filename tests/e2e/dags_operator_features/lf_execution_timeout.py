"""``execution_timeout`` on deferred waits, run by the real scheduler and triggerer
(tests/e2e/test_execution_timeout.py): a deferred start and a deferred sensor whose
``execution_timeout`` (10 s) is far shorter than their jobs (the emulator's run time, 40 s)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from _spec import migration_spec
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

SHORT = timedelta(seconds=10)

with DAG(
    "lf_execution_timeout",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 0},
):
    started = LakeFormationCreateJobOperator(
        task_id="create_started", job=migration_spec("issue26_timeout_start"), if_exists="update"
    )
    start_waits = LakeFormationStartJobOperator(
        task_id="start_waits",
        job_id=started.output,
        deferrable=True,
        poll_interval=2,
        execution_timeout=SHORT,
    )
    sensed = LakeFormationCreateJobOperator(
        task_id="create_sensed", job=migration_spec("issue26_timeout_sensor"), if_exists="update"
    )
    start_only = LakeFormationStartJobOperator(
        task_id="start_only", job_id=sensed.output, wait_for_completion=False
    )
    sensor_waits = LakeFormationJobSensor(
        task_id="sensor_waits",
        job_id=sensed.output,
        deferrable=True,
        poke_interval=2,
        timeout=600,
        execution_timeout=SHORT,
    )
    started >> start_waits
    sensed >> start_only >> sensor_waits
