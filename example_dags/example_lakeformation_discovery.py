"""Metadata discovery with Huawei Cloud LakeFormation: create or update a job, start it, wait for it.

The job scans Parquet files under an OBS prefix and registers the tables it finds in a LakeFormation
catalog. Starting the job returns at once; a deferrable sensor then waits in the triggerer (no worker
slot is held while the job runs) and a last task reports the outcome.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

#: Connection with credentials, project_id and instance_id (see docs/operators.md).
LAKEFORMATION_CONN_ID = "lakeformation_default"
JOB_NAME = "airflow_example_sales_discovery"

DISCOVERY_JOB: dict[str, Any] = {
    "name": JOB_NAME,
    "description": "{{ params.description }}",
    "type": "METADATA_DISCOVERY",
    "parameter": {
        "metadata_discovery_parameter": {
            "data_location": "obs://example-sales-lake/landing/orders/",
            "target_catalog": "hive",
            "target_database": "sales_landing",
            "conflict_strategy": "UPSERT",
            "file_discovery_type": "PARQUET",
            "file_sample_rate": 100,
            "table_depth": 2,
            "rediscovery_policy": "INCREMENTAL_DISCOVERY",
            "execute_strategy": "MANNUAL",
            "log_location": "obs://example-sales-lake/lakeformation-logs/discovery/",
            "principals": [
                {"principal_type": "ROLE", "principal_source": "IAM", "principal_name": "data_engineers"}
            ],
            # instance_id is taken from the connection when left out.
        }
    },
}

DOC_MD = """
### LakeFormation metadata discovery

`create_discovery_job` creates the job **`airflow_example_sales_discovery`**, or updates it to the
spec below if a job of that name exists (`if_exists="update"`), so the DAG can run again and again.
`start_discovery_job` sends the start request and returns (`wait_for_completion=False`);
`wait_for_discovery` defers to the triggerer until the job reaches a terminal status, and
`report` prints the job id and final status.

* Connection: `lakeformation_default` (credentials, `project_id`, `instance_id`).
* Param `description`: the job description shown in the LakeFormation console.
"""

with DAG(
    dag_id="example_lakeformation_discovery",
    description="Create/update a LakeFormation metadata discovery job, start it and wait for it",
    doc_md=DOC_MD,
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["example", "lakeformation", "huaweicloud", "metadata-discovery"],
    params={
        "description": Param(
            "Discover the Parquet tables of the sales landing zone (managed by Airflow)",
            type="string",
            maxLength=4000,
            description="Job description shown in the LakeFormation console.",
        )
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
) as dag:
    create_job = LakeFormationCreateJobOperator(
        task_id="create_discovery_job",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job=DISCOVERY_JOB,
        if_exists="update",
    )

    start_job = LakeFormationStartJobOperator(
        task_id="start_discovery_job",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job_id=create_job.output,
        wait_for_completion=False,
    )

    wait_for_job = LakeFormationJobSensor(
        task_id="wait_for_discovery",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job_id=start_job.output,
        deferrable=True,
        poke_interval=10,  # also how often the trigger polls
        timeout=60 * 60,
        retries=0,  # a FAILED job stays FAILED: re-running the sensor would not help
    )

    @task
    def report(job_id: str, job_status: str) -> dict[str, str]:
        """Print the job id (from the start task) and the final status (from the sensor)."""
        print(f"LakeFormation discovery job {job_id} finished: {job_status}")
        return {"job_id": job_id, "job_status": job_status}

    # The sensor's return value is the job's final status.
    report(start_job.output, wait_for_job.output)
