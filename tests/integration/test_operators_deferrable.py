"""LakeFormationStartJobOperator in deferrable mode: execute -> TaskDeferred -> trigger (rebuilt from
its serialized kwargs) -> execute_complete, against the emulator over real HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import (
    LakeFormationError,
    LakeFormationJobFailedError,
    LakeFormationTimeoutError,
)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.compat import requires_task_state_store
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    FakeStateStore,
    execute_deferrable,
    lf_conn,
    make_context,
    new_job,
    outcome,
    run_deferred,
    starts,
    task_log,
    wait_status,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]


def _op(job_id: str, **kwargs: Any) -> LakeFormationStartJobOperator:
    kwargs.setdefault("poll_interval", POLL)
    return LakeFormationStartJobOperator(task_id="start", job_id=job_id, deferrable=True, **kwargs)


def _defer(op: LakeFormationStartJobOperator, context: dict[str, Any]) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    return info.value


def test_deferrable_success(emulator: EmulatorServer, task_log: pytest.LogCaptureFixture) -> None:
    job_id = new_job("defer_ok", markers=outcome(duration=1.0))
    op = _op(job_id)
    context = make_context()
    deferred = _defer(op, context)
    trigger = deferred.trigger
    assert isinstance(trigger, LakeFormationJobTrigger)
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout is None
    _, kwargs = trigger.serialize()
    assert kwargs["job_id"] == job_id
    assert kwargs["poll_interval"] == POLL
    assert kwargs["end_time"] is None
    assert kwargs["cancel_on_kill"] is True
    assert run_deferred(deferred, op, context) == job_id
    started_at = LakeFormationHook(CONN_ID).get_job(job_id).start_time
    assert xcoms(context) == {
        "job_id": job_id,
        "console_url": emulator.console_url(job_id, run=str(started_at)),  # the run this task started
        "job_status": "SUCCESS",
    }
    assert starts(emulator, job_id) == 1
    assert "RUNNING -> SUCCESS after" in task_log.text


def test_deferrable_failure_shows_log_tail(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("defer_fail", markers=outcome("FAILED"))
    context = make_context()
    with pytest.raises(LakeFormationJobFailedError) as info:
        execute_deferrable(_op(job_id, log_tail_lines=3), context)
    assert info.value.status == "FAILED"
    assert info.value.log_tail
    assert info.value.log_tail.splitlines()[-1] in task_log.text
    assert xcoms(context)["job_status"] == "FAILED"


@pytest.mark.parametrize(("fail_on_partial_success", "fails"), [(True, True), (False, False)])
def test_deferrable_partial_success(
    emulator: EmulatorServer, fail_on_partial_success: bool, fails: bool
) -> None:
    job_id = new_job(f"defer_partial_{int(fails)}", markers=outcome("PARTIAL_SUCCESS"))
    op = _op(job_id, fail_on_partial_success=fail_on_partial_success)
    context = make_context()
    if fails:
        with pytest.raises(LakeFormationJobFailedError, match="PARTIAL_SUCCESS"):
            execute_deferrable(op, context)
    else:
        assert execute_deferrable(op, context) == job_id
    assert xcoms(context)["job_status"] == "PARTIAL_SUCCESS"


def test_deferrable_timeout_stops_the_job(emulator: EmulatorServer) -> None:
    job_id = new_job("defer_slow", markers=outcome(duration=30))
    op = _op(job_id, timeout=0.5)
    context = make_context()
    deferred = _defer(op, context)
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["end_time"] == pytest.approx(time.time() + 0.5, abs=2)
    assert deferred.timeout is not None
    assert deferred.timeout > timedelta(seconds=0.5)  # the scheduler's backstop comes later
    with pytest.raises(LakeFormationTimeoutError, match="asked to stop"):
        run_deferred(deferred, op, context)
    assert wait_status(job_id, {JobStatus.STOPPED}) is JobStatus.STOPPED


def test_already_finished_run_does_not_defer(emulator: EmulatorServer) -> None:
    """Status is checked once right after starting: a run already over completes without deferring."""
    emulator.configure(submit_seconds=0.0, run_seconds=0.0)
    job_id = new_job("defer_instant")
    context = make_context()
    assert _op(job_id).execute(context) == job_id  # no TaskDeferred
    assert xcoms(context)["job_status"] == "SUCCESS"


def test_deferrable_attaches_to_running_run(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("defer_attach", markers=outcome(duration=0.5))
    LakeFormationHook(CONN_ID).start_job(job_id)
    assert execute_deferrable(_op(job_id), make_context()) == job_id
    assert starts(emulator, job_id) == 1
    assert "attaches to that run" in task_log.text


def test_trigger_error_event_fails_the_task(emulator: EmulatorServer) -> None:
    job_id = new_job("defer_gone", markers=outcome(duration=30))
    op = _op(job_id)
    context = make_context()
    deferred = _defer(op, context)
    hook = LakeFormationHook(CONN_ID)
    hook.stop_job(job_id)
    wait_status(job_id, {JobStatus.STOPPED})
    hook.delete_job(job_id)
    with pytest.raises(LakeFormationError, match="404") as info:
        run_deferred(deferred, op, context)
    assert not isinstance(info.value, LakeFormationJobFailedError)


def test_bad_event_is_an_error(emulator: EmulatorServer) -> None:
    op = _op("j-1")
    with pytest.raises(LakeFormationError, match="no usable event"):
        op.execute_complete(make_context(), event=None)
    with pytest.raises(LakeFormationError, match="no usable event"):
        op.execute_complete(make_context(), event={"status": "weird"})


def test_deferrable_retry_after_a_crash_redefers_on_the_same_run(emulator: EmulatorServer) -> None:
    """Try 1 starts and defers, then the worker dies; try 2 (same task state store) defers again on
    that run instead of starting a second one."""
    job_id = new_job("defer_retry_running", markers=outcome(duration=2.0))
    store = FakeStateStore()
    _defer(_op(job_id), make_context(store))  # try 1: started, deferred, then lost
    second_context = make_context(store)
    deferred = _defer(_op(job_id), second_context)  # try 2
    assert run_deferred(deferred, _op(job_id), second_context) == job_id
    assert starts(emulator, job_id) == 1
    assert xcoms(second_context)["job_status"] == "SUCCESS"


@requires_task_state_store
def test_deferrable_retry_after_the_run_succeeded_does_not_start_again(emulator: EmulatorServer) -> None:
    """The run of try 1 succeeded while its resume was lost: try 2 returns without starting."""
    job_id = new_job("defer_retry_done", markers=outcome(duration=0.2))
    store = FakeStateStore()
    _defer(_op(job_id), make_context(store))
    wait_status(job_id, {JobStatus.SUCCESS})
    second_context = make_context(store)
    assert _op(job_id).execute(second_context) == job_id  # no TaskDeferred: nothing to wait for
    assert starts(emulator, job_id) == 1
    assert xcoms(second_context)["job_status"] == "SUCCESS"


def test_deferral_sets_the_hold(emulator: EmulatorServer) -> None:
    """``min_deferral_seconds`` becomes the trigger's ``hold_until`` (deferral time + the hold); 0
    (the test suite's config) sets none."""
    job_id = new_job("defer_hold", markers=outcome(duration=1.0))
    before = time.time()
    deferred = _defer(_op(job_id, min_deferral_seconds=4), make_context())
    _, kwargs = deferred.trigger.serialize()
    assert before + 4 <= kwargs["hold_until"] <= time.time() + 4
    job_id = new_job("defer_nohold", markers=outcome(duration=1.0))
    _, kwargs = _defer(_op(job_id), make_context()).trigger.serialize()
    assert kwargs["hold_until"] is None
