"""Run a DAG when a LakeFormation job finishes, even one run outside Airflow (consumer half).

Scheduled on two database assets:

* ``hive.sales_landing``, published by ``example_lakeformation_asset_producer`` when its discovery
  job succeeds;
* ``hive.sales_external``, watched by an ``AssetWatcher`` whose ``LakeFormationJobRunTrigger``
  follows the discovery jobs named ``external_sales_discovery*``, started from the console, the API
  or LakeFormation's own ``SCHEDULE`` strategy. Each newly finished successful run fires one asset
  event (none for runs that ended before the watcher was first deployed, no repeat after a
  triggerer restart).

The task prints the run details found in ``triggering_asset_events``.

Needs Airflow 3 (``airflow.sdk``, assets). On Airflow 2.11 the file defines no DAG, so the examples
folder loads there with no import error (an ``.airflowignore`` entry would hide it on Airflow 3 too).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

try:  # Airflow 3: the Task SDK and asset watchers
    from airflow.sdk import DAG, AssetWatcher, task
except ImportError:  # Airflow 2.11: no airflow.sdk; this file defines no DAG there (no import error)
    AIRFLOW_3 = False
else:
    AIRFLOW_3 = True

from airflow_provider_lakeformation.lineage.assets import lakeformation_asset
from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger

LAKEFORMATION_CONN_ID = "lakeformation_default"
#: The connection's region and instance: part of the asset URIs, so needed when the DAG is parsed.
REGION = "cn-north-4"
INSTANCE_ID = "example-instance-id"

DOC_MD = """
### LakeFormation asset consumer

Runs once per successful discovery of `hive.sales_landing` (from the producer DAG) or
`hive.sales_external` (jobs `external_sales_discovery*` run outside Airflow). `report_runs`
returns the job id, status, run times and console URL of each triggering run.
"""

if AIRFLOW_3:
    #: Written by the producer DAG's discovery job.
    SALES_LANDING = lakeformation_asset(REGION, INSTANCE_ID, "hive", "sales_landing")
    #: Refreshed by discovery jobs run outside Airflow. The watcher polls every
    #: ``[lakeformation] watcher_poll_interval`` seconds (60 by default): one list call per poll,
    #: plus one history call per job whose latest run changed.
    SALES_EXTERNAL = lakeformation_asset(
        REGION,
        INSTANCE_ID,
        "hive",
        "sales_external",
        watchers=[
            AssetWatcher(
                name="external_sales_discovery_runs",
                trigger=LakeFormationJobRunTrigger(
                    job_type="METADATA_DISCOVERY",
                    name_pattern="external_sales_discovery*",
                    lakeformation_conn_id=LAKEFORMATION_CONN_ID,
                ),
            )
        ],
    )

    with DAG(
        dag_id="example_lakeformation_asset_consumer",
        description="Runs once per finished LakeFormation discovery, from Airflow or from outside it",
        doc_md=DOC_MD,
        schedule=SALES_LANDING | SALES_EXTERNAL,
        start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        tags=["example", "lakeformation", "assets"],
        default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},  # reading events is idempotent
    ):

        @task
        def report_runs(**context: Any) -> list[dict[str, Any]]:
            """The LakeFormation runs behind this DAG run, from the triggering asset events."""
            runs: list[dict[str, Any]] = []
            for asset, events in context["triggering_asset_events"].items():
                for event in events:
                    extra = dict(event.extra or {})
                    run = dict(extra.get("payload") or extra)  # watcher events nest the run in "payload"
                    run["asset"] = getattr(asset, "uri", str(asset))
                    print(f"LakeFormation job {run.get('job_id')} finished {run.get('job_status')}: {run}")
                    runs.append(run)
            return runs

        report_runs()
