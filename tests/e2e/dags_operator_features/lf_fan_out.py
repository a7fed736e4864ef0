"""Dynamic task mapping over a job listing: two jobs created, listed by type and name pattern, and
each started by a mapped task (``.expand(job_id=...)``)."""

from __future__ import annotations

from datetime import datetime, timezone

from _spec import migration_spec
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationListJobsOperator,
    LakeFormationStartJobOperator,
)

with DAG("lf_fan_out", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=timezone.utc), catchup=False):
    created = [
        LakeFormationCreateJobOperator(
            task_id=f"create_{n}", job=migration_spec(f"issue26_fan_{n}", "[lf-emulator:duration=1]")
        )
        for n in ("a", "b")
    ]
    other = LakeFormationCreateJobOperator(task_id="create_other", job=migration_spec("issue26_other_c"))
    listed = LakeFormationListJobsOperator(
        task_id="list_jobs", job_type="METADATA_MIGRATION", name_pattern="issue26_fan_*"
    )
    run_each = LakeFormationStartJobOperator.partial(
        task_id="run_each", deferrable=False, poll_interval=1
    ).expand(job_id=listed.output)
    [*created, other] >> listed >> run_each
