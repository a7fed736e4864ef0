"""Asset watchers of the distributed end-to-end test (tests/e2e/test_distributed.py, the exactly-once
scenario with two triggerers).

Two assets, each watched by a ``LakeFormationJobRunTrigger`` on the same jobs (``METADATA_DISCOVERY``
jobs named ``lf_dist_watched*``, polled every 2 s): the triggers differ only in their hand-off, so
they are two triggers with one shared-stream key (Airflow 3.3+: one poll when a triggerer holds
both). One consumer DAG per asset, scheduled on it, returns the runs of its triggering events.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, AssetWatcher, task

from airflow_provider_lakeformation.lineage.assets import lakeformation_asset
from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger

REGION, INSTANCE_ID = "cn-north-4", "lf-emulator-instance"  # the emulator's
WATCHED_PATTERN = "lf_dist_watched*"
#: (consumer DAG id, asset database, hand-off seconds of its watcher)
WATCHES = (("lf_dist_watch_a", "dist_watch_a", 1.0), ("lf_dist_watch_b", "dist_watch_b", 1.5))


def report_runs(**context: Any) -> list[dict[str, Any]]:
    """The LakeFormation runs behind this DAG run, from the triggering asset events."""
    return [
        {"job_id": (event.extra or {}).get("payload", {}).get("job_id"), "extra": dict(event.extra or {})}
        for events in context["triggering_asset_events"].values()
        for event in events
    ]


for dag_id, database, handoff in WATCHES:
    asset = lakeformation_asset(
        REGION,
        INSTANCE_ID,
        "hive",
        database,
        watchers=[
            AssetWatcher(
                name=f"{dag_id}_runs",
                trigger=LakeFormationJobRunTrigger(
                    job_type="METADATA_DISCOVERY",
                    name_pattern=WATCHED_PATTERN,
                    poll_interval=2,
                    handoff_seconds=handoff,
                ),
            )
        ],
    )
    with DAG(
        dag_id,
        schedule=asset,
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        tags=["e2e-distributed"],
    ):
        task(report_runs, task_id="report_runs")()
