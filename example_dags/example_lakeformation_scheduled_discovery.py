"""Daily, backfill-safe metadata discovery of one date partition with Huawei Cloud LakeFormation.

Every DAG run works on its own partition: the job name and the OBS path are built from the run's
logical date (``{{ ds_nodash }}`` / ``{{ ds }}``), so runs for different days never touch each other's
job, and re-running (or backfilling) a day updates and re-runs that day's job instead of creating a
duplicate.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG

from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
)

LAKEFORMATION_CONN_ID = "lakeformation_default"

DAILY_DISCOVERY_JOB: dict[str, Any] = {
    "name": "daily_events_discovery_{{ ds_nodash }}",
    "description": "Discovery of the events partition dt={{ ds }} (DAG run {{ run_id }})",
    "type": "METADATA_DISCOVERY",
    "parameter": {
        "metadata_discovery_parameter": {
            "data_location": "obs://example-events-lake/raw/events/dt={{ ds }}/",
            "target_catalog": "hive",
            "target_database": "events_raw",
            "conflict_strategy": "UPSERT",
            "file_discovery_type": "JSON",
            "table_depth": 1,
            "rediscovery_policy": "INCREMENTAL_DISCOVERY",
            "execute_strategy": "MANNUAL",
            "log_location": "obs://example-events-lake/lakeformation-logs/discovery/{{ ds_nodash }}/",
        }
    },
}

DOC_MD = """
### Daily partition discovery (catchup / backfill safe)

Runs `@daily` from 2025-01-01 with `catchup=True`. For the run of logical date *D*:

1. `create_daily_job` creates `daily_events_discovery_<D:YYYYMMDD>` for `obs://.../dt=<D>/`, or updates
   it if it exists (`if_exists="update"`): re-running or backfilling a day is idempotent.
2. `run_daily_job` starts it and defers until it ends (no worker slot held while waiting).
3. `delete_daily_job` removes the one-off job **after a successful run only** (default trigger rule
   `all_success`). A failed job is **kept** so its log and parameters stay visible in the
   LakeFormation console; clearing the failed run updates and re-runs that same job.

`max_active_runs=3` bounds how many days a catch-up or backfill discovers at once.
"""

with DAG(
    dag_id="example_lakeformation_scheduled_discovery",
    description="Daily LakeFormation discovery of one date partition (backfill safe)",
    doc_md=DOC_MD,
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=True,
    max_active_runs=3,
    tags=["example", "lakeformation", "huaweicloud", "metadata-discovery", "scheduled"],
) as dag:
    create_job = LakeFormationCreateJobOperator(
        task_id="create_daily_job",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job=DAILY_DISCOVERY_JOB,
        if_exists="update",
    )

    run_job = LakeFormationStartJobOperator(
        task_id="run_daily_job",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job_id=create_job.output,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=30,
        timeout=3 * 60 * 60,
    )

    delete_job = LakeFormationDeleteJobOperator(
        task_id="delete_daily_job",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job_id=create_job.output,
        ignore_missing=True,  # clearing this task after the job is gone still succeeds
    )

    create_job >> run_job >> delete_job
