"""Migrate a Hive metastore kept in MySQL into Huawei Cloud LakeFormation.

The metastore database credentials are never written in the DAG: the job spec is a template that reads
them from the Airflow connection ``hive_metastore_mysql`` when the task runs. Airflow masks the
rendered ``password`` field in the UI, and the provider never logs or returns it.
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

MIGRATION_JOB: dict[str, Any] = {
    "name": "airflow_example_hive_metastore_migration",
    "description": "{{ params.description }}",
    "type": "METADATA_MIGRATION",
    "parameter": {
        "metadata_migration_parameter": {
            "datasource_type": "OPEN_FOR_MYSQL",
            "datasource_parameter": {
                "jdbc_url": (
                    "jdbc:mysql://{{ conn.hive_metastore_mysql.host }}:{{ conn.hive_metastore_mysql.port }}"
                    "/{{ conn.hive_metastore_mysql.schema }}"
                ),
                "username": "{{ conn.hive_metastore_mysql.login }}",
                "password": "{{ conn.hive_metastore_mysql.password }}",
            },
            "source_catalog": "hive",
            "target_catalog": "{{ params.target_catalog }}",
            "conflict_strategy": "UPSERT",
            "sync_objects": ["DATABASE", "TABLE", "PARTITION", "FUNCTION"],
            "default_owner": "hive",
            # Rewrite the HDFS warehouse paths of migrated tables to their new OBS home.
            "locations": [
                {"key": "hdfs://hacluster/user/hive/warehouse", "value": "obs://example-lake/warehouse"},
                {"key": "hdfs://hacluster/data/external", "value": "obs://example-lake/external"},
            ],
            "log_location": "obs://example-lake/lakeformation-logs/metadata-migration/",
        }
    },
}

DOC_MD = """
### Hive metastore (MySQL) -> LakeFormation metadata migration

1. `create_migration_job` creates the job, or reuses it unchanged if a job of that name exists
   (`if_exists="reuse"`; use `"update"` to push spec changes to an existing job).
2. `run_migration` starts the job and defers until it ends (`wait_for_completion=True`,
   `deferrable=True`). On failure the task log shows the tail of the job's log.

The metastore JDBC URL and credentials come from the connection **`hive_metastore_mysql`**
(`host`, `port`, `schema`, `login`, `password`), rendered into the job spec at run time.
HDFS warehouse locations are rewritten to OBS by the `locations` rules.
"""

with DAG(
    dag_id="example_lakeformation_metadata_migration",
    description="Migrate a MySQL-backed Hive metastore into LakeFormation",
    doc_md=DOC_MD,
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["example", "lakeformation", "huaweicloud", "metadata-migration"],
    params={
        "description": Param(
            "Migrate the on-premises Hive metastore to LakeFormation", type="string", maxLength=4000
        ),
        "target_catalog": Param("hive", type="string", description="LakeFormation catalog to fill."),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
) as dag:
    create_job = LakeFormationCreateJobOperator(
        task_id="create_migration_job",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job=MIGRATION_JOB,
        if_exists="reuse",
    )

    run_migration = LakeFormationStartJobOperator(
        task_id="run_migration",
        lakeformation_conn_id=LAKEFORMATION_CONN_ID,
        job_id=create_job.output,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=15,
        timeout=6 * 60 * 60,
    )

    create_job >> run_migration
