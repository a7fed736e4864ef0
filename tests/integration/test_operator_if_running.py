"""``if_running`` of the start operator against the emulator over real HTTP (issue #26 item 4): a run
already in progress is attached to (default), refused, or stopped and replaced; a retry never starts
a second run."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationError, LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models import IN_PROGRESS_STATUSES, JobStatus
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    FakeTI,
    lf_conn,
    make_context,
    new_job,
    outcome,
    starts,
    task_log,
    wait_status,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]


def _running(name: str) -> str:
    job_id = new_job(name, markers=outcome("SUCCESS", duration=30))
    LakeFormationHook(CONN_ID).start_job(job_id)
    assert wait_status(job_id, set(IN_PROGRESS_STATUSES)) in IN_PROGRESS_STATUSES
    return job_id


def _start(job_id: str, **kwargs: Any) -> LakeFormationStartJobOperator:
    return LakeFormationStartJobOperator(
        task_id="start", job_id=job_id, poll_interval=POLL, deferrable=False, **kwargs
    )


def _try(number: int) -> dict[str, Any]:
    ti = FakeTI()
    ti.try_number = number  # type: ignore[attr-defined]
    return make_context(ti=ti)


def test_if_running_is_checked_at_construction() -> None:
    with pytest.raises(LakeFormationSpecError, match="if_running: must be one of attach, fail, restart"):
        _start("j-1", if_running="replace")  # type: ignore[arg-type]


def test_fail_refuses_a_run_in_progress(emulator: EmulatorServer) -> None:
    job_id = _running("refused_run")
    with pytest.raises(
        LakeFormationError, match=f"job {job_id} is already (SUBMITTED|RUNNING).*if_running='fail'"
    ):
        _start(job_id, if_running="fail").execute(make_context())
    assert starts(emulator, job_id) == 1
    assert LakeFormationHook(CONN_ID).get_job_status(job_id) in IN_PROGRESS_STATUSES  # left alone


def test_restart_stops_the_run_then_starts_anew(emulator: EmulatorServer) -> None:
    job_id = _running("restarted_run")
    hook = LakeFormationHook(CONN_ID)
    first = hook.get_job(job_id).start_time
    context = make_context()
    op = _start(job_id, if_running="restart", wait_for_completion=False)
    assert op.execute(context) == job_id
    assert starts(emulator, job_id) == 2
    runs = hook.list_job_history(job_id, limit=10).jobs
    assert [r.status for r in runs if r.start_time == first] == [JobStatus.STOPPED]
    assert hook.get_job(job_id).start_time != first
    assert xcoms(context)["job_status"] in {s.value for s in IN_PROGRESS_STATUSES}


def test_a_retry_attaches_whatever_if_running_says(emulator: EmulatorServer) -> None:
    for mode in ("fail", "restart"):
        job_id = _running(f"retried_{mode}")
        op = _start(job_id, if_running=mode, wait_for_completion=False)
        assert op.execute(_try(2)) == job_id
        assert starts(emulator, job_id) == 1
        assert LakeFormationHook(CONN_ID).get_job_status(job_id) in IN_PROGRESS_STATUSES


def test_default_attaches(emulator: EmulatorServer) -> None:
    job_id = _running("attached_run")
    assert _start(job_id, wait_for_completion=False).execute(make_context()) == job_id
    assert starts(emulator, job_id) == 1
