"""What ``execution_timeout`` does to a deferred start and a deferred sensor, and to their jobs,
under the real scheduler and triggerer of each Airflow line (issue #26 item 7).

Airflow 3.x (3.1, 3.3): ``execution_timeout`` bounds each stretch the task runs on a worker, not
the time it spends deferred (the task runner's "TODO: handle timeout in case of deferral"), so both
tasks wait for their 40 s jobs and succeed; nothing is stopped. Airflow 2.11: the scheduler caps the
deferral at ``start_date + execution_timeout`` and fails the task when that passes; the trigger is
cancelled (no ``on_kill`` on that line) and the job is left running. Use the operators' own
``timeout`` to bound a wait: the start operator then stops the job (docs/operators.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat import AIRFLOW_V_3
from tests.e2e.conftest import ProcessGroup, job_status
from tests.e2e.test_real_scheduler import AirflowStack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAG_ID = "lf_execution_timeout"
DAGS = Path(__file__).with_name("dags_operator_features")
JOB_SECONDS = 40.0


@pytest.fixture(scope="module")
def stack(migrated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    base = tmp_path_factory.mktemp("execution_timeout")
    group = ProcessGroup(base)
    try:
        yield start_stack(
            base, migrated_db, group, run_seconds=JOB_SECONDS, dags_folder=DAGS, unpause=(DAG_ID,)
        )
    finally:
        group.close()


def test_execution_timeout_of_deferred_waits(stack: AirflowStack) -> None:
    started = time.monotonic()
    run_id = stack.trigger(DAG_ID)
    run_state, start_states = stack.watch(DAG_ID, run_id, "start_waits")
    took = time.monotonic() - started
    tasks = stack.task_states(DAG_ID, run_id)
    print(f"run {run_id}: {run_state} in {took:.1f}s; start_waits went {start_states}; tasks {tasks}")
    assert "deferred" in start_states, f"{start_states}\n{stack.diagnostics()}"
    waited = stack.xcom(DAG_ID, run_id, "create_started")
    sensed = stack.xcom(DAG_ID, run_id, "create_sensed")
    history = {job_id: stack.emulator.history(job_id) for job_id in (waited, sensed)}
    # Either way each job was started once and never stopped.
    for job_id, runs in history.items():
        assert [r["status"] for r in runs if r["status"] == "STOPPED"] == [], (job_id, runs)
        assert len(runs) == 1, (job_id, runs)
    if AIRFLOW_V_3:
        assert run_state == "success", f"{tasks}\n{stack.diagnostics()}"
        assert tasks["start_waits"] == tasks["sensor_waits"] == "success"
        assert job_status(stack.emulator.job(waited)) == "SUCCESS"
        assert took > JOB_SECONDS  # the tasks outlived their 10 s execution_timeout, deferred
    else:
        assert run_state == "failed", f"{tasks}\n{stack.diagnostics()}"
        assert tasks["start_waits"] == tasks["sensor_waits"] == "failed"
        assert job_status(stack.emulator.job(waited)) in ("RUNNING", "SUCCESS")  # left running
        assert job_status(stack.emulator.job(sensed)) in ("RUNNING", "SUCCESS")
