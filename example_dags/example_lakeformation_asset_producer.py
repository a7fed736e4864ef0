"""Asset events from Airflow-run LakeFormation jobs (producer half of the asset example pair).

The start task declares the discovery job's target database as an outlet, inferred from the job
spec with ``job_outlets``: a successful run publishes an asset event for
``lakeformation://{region}/{instance_id}/hive/sales_landing`` whose extra carries the job id, its
final status, the run's start and end times and the console URL.
``example_lakeformation_asset_consumer`` is scheduled on that asset.

Needs Airflow 3 (``airflow.sdk``, assets). On Airflow 2.11 the file defines no DAG, so the examples
folder loads there with no import error (an ``.airflowignore`` entry would hide it on Airflow 3 too).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

try:  # Airflow 3: the Task SDK, where assets live
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11: no airflow.sdk; this file defines no DAG there (no import error)
    AIRFLOW_3 = False
else:
    AIRFLOW_3 = True

from airflow_provider_lakeformation.lineage.assets import job_outlets
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)

LAKEFORMATION_CONN_ID = "lakeformation_default"
#: The connection's region and instance: part of the asset URI, so needed when the DAG is parsed.
REGION = "cn-north-4"
INSTANCE_ID = "example-instance-id"

DISCOVERY_JOB: dict[str, Any] = {
    "name": "airflow_sales_landing_discovery",
    "type": "METADATA_DISCOVERY",
    "parameter": {
        "metadata_discovery_parameter": {
            "data_location": "obs://example-sales-lake/landing/orders/",
            "target_catalog": "hive",
            "target_database": "sales_landing",
            "conflict_strategy": "UPSERT",
            "file_discovery_type": "PARQUET",
            "log_location": "obs://example-sales-lake/lakeformation-logs/discovery/",
        }
    },
}

DOC_MD = """
### LakeFormation asset producer

`create_discovery_job` creates (or updates) the discovery job; `run_discovery_job` runs it and,
when it succeeds, publishes an asset event for `hive.sales_landing` (outlet inferred from the
spec). With the `openlineage` extra installed, the run also emits OpenLineage events whose input
is `obs://example-sales-lake` / `landing/orders` and output
`lakeformation://{region}/{instance}` / `hive.sales_landing`.
"""

if AIRFLOW_3:
    with DAG(
        dag_id="example_lakeformation_asset_producer",
        description="Run a LakeFormation discovery job; its success publishes an asset event",
        doc_md=DOC_MD,
        schedule=None,
        start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        tags=["example", "lakeformation", "assets"],
    ):
        create = LakeFormationCreateJobOperator(
            task_id="create_discovery_job",
            lakeformation_conn_id=LAKEFORMATION_CONN_ID,
            job=DISCOVERY_JOB,
            if_exists="update",
        )
        LakeFormationStartJobOperator(
            task_id="run_discovery_job",
            lakeformation_conn_id=LAKEFORMATION_CONN_ID,
            job_id=create.output,
            poll_interval=5,
            outlets=job_outlets(DISCOVERY_JOB, region=REGION, instance_id=INSTANCE_ID),
        )
