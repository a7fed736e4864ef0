"""DAGs of the distributed end-to-end test (tests/e2e/test_distributed.py).

* ``lf_dist_fanout``: ``start`` (deferrable start operator) is mapped over ``params.n`` new jobs
  that run ``params.duration`` seconds; ``wait`` (deferrable sensor) is mapped over ``params.n``
  other new jobs that nothing in the DAG starts: the sensors wait until someone else starts them
  (the test does, once it has killed a triggerer), so they stay deferred however slow the
  machine is.
* ``lf_dist_sync_start``: one synchronous start (waits on the worker), with a retry: the test kills
  the Celery worker running it and expects the retry to reconnect to the run, not to start again.
* ``lf_dist_deferred_start``: one deferrable start of a long job, which the test marks failed
  through the REST API: the trigger's ``on_kill`` must stop the job.

The emulator runs each job ``params.duration`` seconds (``[lf-emulator:duration=N]`` in the
description).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
PARAMS = {"n": Param(1, type="integer", minimum=1), "duration": Param(30, type="integer", minimum=1)}


def job_spec(name: str, duration: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"distributed e2e [lf-emulator:duration={duration}]",
        "type": "METADATA_DISCOVERY",
        "parameter": {
            "metadata_discovery_parameter": {
                "data_location": f"obs://dist-e2e/{name}/",
                "target_catalog": "hive",
                "target_database": "dist_e2e",
                "conflict_strategy": "UPSERT",
                "file_discovery_type": "PARQUET",
                "log_location": "obs://dist-e2e/logs/",
            }
        },
    }


@task
def create_jobs(n: int, duration: int, run_id: str, prefix: str = "job") -> list[str]:
    """Create ``n`` jobs named after the run (so every run has its own jobs)."""
    hook = LakeFormationHook()
    tag = "".join(ch for ch in run_id if ch.isalnum())[-24:]
    return [hook.create_job(job_spec(f"{prefix}_{tag}_{i:03d}", duration)).id for i in range(int(n))]


with DAG(
    "lf_dist_fanout",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    params=PARAMS,
    max_active_tasks=64,
    tags=["e2e-distributed"],
):
    started = create_jobs.override(task_id="create_started")(
        n="{{ params.n }}", duration="{{ params.duration }}", run_id="{{ run_id }}", prefix="started"
    )
    awaited = create_jobs.override(task_id="create_awaited")(
        n="{{ params.n }}", duration="{{ params.duration }}", run_id="{{ run_id }}", prefix="awaited"
    )
    LakeFormationStartJobOperator.partial(task_id="start", deferrable=True, poll_interval=5).expand(
        job_id=started
    )
    LakeFormationJobSensor.partial(task_id="wait", deferrable=True, poke_interval=5, timeout=1800).expand(
        job_id=awaited
    )


with DAG(
    "lf_dist_sync_start",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    params=PARAMS,
    tags=["e2e-distributed"],
):
    job = create_jobs(n=1, duration="{{ params.duration }}", run_id="{{ run_id }}")
    LakeFormationStartJobOperator(
        task_id="start",
        job_id="{{ ti.xcom_pull(task_ids='create_jobs')[0] }}",
        deferrable=False,
        poll_interval=2,
        retries=2,
        retry_delay=timedelta(seconds=1),
    ).set_upstream(job)


with DAG(
    "lf_dist_deferred_start",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    params=PARAMS,
    tags=["e2e-distributed"],
):
    job = create_jobs(n=1, duration="{{ params.duration }}", run_id="{{ run_id }}")
    LakeFormationStartJobOperator(
        task_id="start",
        job_id="{{ ti.xcom_pull(task_ids='create_jobs')[0] }}",
        deferrable=True,
        poll_interval=2,
    ).set_upstream(job)
