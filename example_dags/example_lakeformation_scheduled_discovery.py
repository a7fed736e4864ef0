"""Daily, backfill-safe metadata discovery of one date partition with Huawei Cloud LakeFormation.

Every DAG run works on its own partition: the job name and the OBS path are built from the run's
logical date (``{{ ds_nodash }}`` / ``{{ ds }}``), so runs for different days never touch each other's
job, and re-running, clearing or backfilling a day updates and re-runs that day's job instead of
creating a duplicate. The per-day job is kept: its run history shows every run of that day, and a
cleared start task always finds the job it starts.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)

LAKEFORMATION_CONN_ID = "lakeformation_default"
#: The first day to discover: with ``CATCHUP``, unpausing the DAG runs every day since then.
START_DATE = datetime(2025, 1, 1, tzinfo=timezone.utc)
CATCHUP = True
#: Days the scheduler discovers at once (scheduled and catch-up runs; a backfill has its own limit).
MAX_ACTIVE_RUNS = 3
#: Seconds between two status reads of a running job (on the triggerer).
POLL_INTERVAL = 30

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
   it if it exists (`if_exists="update"`): re-running or backfilling a day reuses that day's job.
2. `run_daily_job` starts it and defers until it ends (no worker slot held while waiting).

The job of each day is **kept**, successful or not: its log, parameters and run history stay visible in
the LakeFormation console, and clearing `run_daily_job` alone re-runs that same job. To re-run a day
with a changed spec, clear the whole run, so `create_daily_job` updates the job first.

`max_active_runs=3` bounds how many days the scheduler (and a catch-up) discovers at once. A backfill
has its own limit: `airflow backfill create ... --max-active-runs 3` (the REST API's default is 10).
"""

with DAG(
    dag_id="example_lakeformation_scheduled_discovery",
    description="Daily LakeFormation discovery of one date partition (backfill safe)",
    doc_md=DOC_MD,
    schedule="@daily",
    start_date=START_DATE,
    catchup=CATCHUP,
    max_active_runs=MAX_ACTIVE_RUNS,
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
        poll_interval=POLL_INTERVAL,
        timeout=3 * 60 * 60,
    )

    create_job >> run_job
