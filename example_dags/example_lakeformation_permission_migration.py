"""Migrate Apache Ranger policies into Huawei Cloud LakeFormation permissions.

A Ranger policy export (JSON) lying in OBS is converted into LakeFormation grants. Ranger users become
IAM users (with a prefix), Ranger groups IAM user groups and Ranger roles LakeFormation roles.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)

LAKEFORMATION_CONN_ID = "lakeformation_default"

PERMISSION_JOB: dict[str, Any] = {
    "name": "airflow_example_ranger_permission_migration",
    "description": "{{ params.description }}",
    "type": "PERMISSION_MIGRATION",
    "parameter": {
        "permission_migration_parameter": {
            "policy_type": "RANGER",
            "location": "obs://example-lake/ranger-export/",
            "file_name": "{{ params.policy_file }}",
            "catalog_id": "hive",
            "log_location": "obs://example-lake/lakeformation-logs/permission-migration/",
            "ranger_permission_migration_principal_relas": {
                "user_to": "IAM_USER",
                "user_prefix": "ranger_",
                "group_to": "IAM_GROUP",
                "role_to": "ROLE",
            },
        }
    },
}

DOC_MD = """
### Ranger -> LakeFormation permission migration

`create_permission_job` creates the job or updates it to this spec (`if_exists="update"`), so a new
policy file name given as the `policy_file` param is picked up on the next run.
`run_permission_migration` starts the job **by name** (`job_name` + `job_type`, matched exactly) and
polls it from the worker until it ends
(`deferrable=False`: permission migrations are short; use `deferrable=True` for long ones).

Principal mapping (`ranger_permission_migration_principal_relas`):

| Ranger | LakeFormation |
|---|---|
| user `alice` | IAM user `ranger_alice` |
| group `analysts` | IAM user group `analysts` |
| role `etl` | role `etl` |
"""

with DAG(
    dag_id="example_lakeformation_permission_migration",
    description="Migrate Ranger policies into LakeFormation permissions",
    doc_md=DOC_MD,
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["example", "lakeformation", "huaweicloud", "permission-migration", "ranger"],
    params={
        "description": Param("Migrate Ranger Hive policies to LakeFormation", type="string", maxLength=4000),
        "policy_file": Param(
            "ranger_hive_policies.json",
            type="string",
            pattern=r'^[^<>:"/\\|?*]+$',
            description="Name of the Ranger policy export inside the OBS location.",
        ),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
) as dag:
    create_job = LakeFormationCreateJobOperator(
        task_id="create_permission_job",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job=PERMISSION_JOB,
        if_exists="update",
    )

    # The job is given by its exact name and type (as dbt Cloud / Databricks tasks take a job by
    # name); job_id=create_job.output would do the same here. The id found is this task's XCom.
    run_permission_migration = LakeFormationStartJobOperator(
        task_id="run_permission_migration",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job_name=PERMISSION_JOB["name"],
        job_type=PERMISSION_JOB["type"],
        wait_for_completion=True,
        deferrable=False,
        poll_interval=10,
        timeout=30 * 60,
    )

    create_job >> run_permission_migration
