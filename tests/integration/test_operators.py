"""Operators against the emulator over real HTTP: create/update/delete/stop, and start (sync path)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import (
    LakeFormationError,
    LakeFormationJobFailedError,
    LakeFormationNotFoundError,
    LakeFormationSpecError,
    LakeFormationTimeoutError,
)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.links.lakeformation import LakeFormationJobLink
from airflow_provider_lakeformation.models import IN_PROGRESS_STATUSES, JobStatus
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationUpdateJobOperator,
)
from tests.compat import (
    AIRFLOW_V_3_3,
    executable_in_this_thread,
    requires_task_state_store,
    without_task_state_store,
)
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    FakeStateStore,
    FakeTI,
    lf_conn,
    make_context,
    migration_spec,
    new_job,
    outcome,
    starts,
    task_log,
    wait_status,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]  # fixtures used by name


def _hook() -> LakeFormationHook:
    return LakeFormationHook(CONN_ID)


def _start_op(job_id: str, **kwargs: Any) -> LakeFormationStartJobOperator:
    kwargs.setdefault("poll_interval", POLL)
    kwargs.setdefault("deferrable", False)
    return LakeFormationStartJobOperator(task_id="start", job_id=job_id, **kwargs)


# ------------------------------------------------------------------------------------------ create


def test_create_returns_id_and_pushes_xcoms(emulator: EmulatorServer) -> None:
    op = LakeFormationCreateJobOperator(task_id="create", job=migration_spec("created_job", password="pw-1"))
    context = make_context()
    job_id = op.execute(context)
    job = _hook().get_job(job_id)
    assert job.name == "created_job"
    assert xcoms(context) == {"job_id": job_id, "console_url": emulator.console_url(job_id)}
    # the instance id came from the connection
    assert job.parameter is not None


def test_create_invalid_spec_fails_before_any_http(emulator: EmulatorServer) -> None:
    spec = migration_spec("bad name with spaces")
    spec["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["password"] = "pw-SECRET-77"
    del spec["parameter"]["metadata_migration_parameter"]["log_location"]
    before = emulator.stats()["requests"]
    op = LakeFormationCreateJobOperator(task_id="create", job=spec)
    with pytest.raises(LakeFormationSpecError) as info:
        op.execute(make_context())
    text = str(info.value)
    assert "name:" in text
    assert "log_location" in text
    assert "pw-SECRET-77" not in text
    assert emulator.stats()["requests"] == before


def test_create_spec_as_json_string(emulator: EmulatorServer) -> None:
    import json

    op = LakeFormationCreateJobOperator(task_id="create", job=json.dumps(migration_spec("json_job")))  # type: ignore[arg-type]
    assert _hook().get_job(op.execute(make_context())).name == "json_job"


def test_create_if_exists_fail_names_existing_job(emulator: EmulatorServer) -> None:
    first = LakeFormationCreateJobOperator(task_id="c", job=migration_spec("dup_job")).execute(make_context())
    with pytest.raises(LakeFormationError, match=f"already exists: job id {first}"):
        LakeFormationCreateJobOperator(task_id="c", job=migration_spec("dup_job")).execute(make_context())


def test_create_if_exists_reuse(emulator: EmulatorServer) -> None:
    first = LakeFormationCreateJobOperator(task_id="c", job=migration_spec("reuse_job")).execute(
        make_context()
    )
    changed = migration_spec("reuse_job")
    changed["description"] = "changed"
    context = make_context()
    op = LakeFormationCreateJobOperator(task_id="c", job=changed, if_exists="reuse")
    assert op.execute(context) == first
    assert xcoms(context)["job_id"] == first
    assert _hook().get_job(first).description != "changed"


def test_create_if_exists_update(emulator: EmulatorServer) -> None:
    first = LakeFormationCreateJobOperator(task_id="c", job=migration_spec("upd_job")).execute(make_context())
    changed = migration_spec("upd_job")
    changed["description"] = "changed by update"
    op = LakeFormationCreateJobOperator(task_id="c", job=changed, if_exists="update")
    assert op.execute(make_context()) == first
    assert _hook().get_job(first).description == "changed by update"


# ------------------------------------------------------------------------------------------ update


def test_update_operator(emulator: EmulatorServer) -> None:
    job_id = new_job("update_me")
    spec = migration_spec("update_me_renamed")
    context = make_context()
    assert LakeFormationUpdateJobOperator(task_id="u", job_id=job_id, job=spec).execute(context) == job_id
    assert _hook().get_job(job_id).name == "update_me_renamed"
    assert xcoms(context)["console_url"] == emulator.console_url(job_id)


def test_update_operator_checks_type(emulator: EmulatorServer) -> None:
    job_id = new_job("update_type")
    spec = migration_spec("update_type")
    spec["type"] = "METADATA_DISCOVERY"
    with pytest.raises(LakeFormationSpecError, match="metadata_discovery_parameter"):
        LakeFormationUpdateJobOperator(task_id="u", job_id=job_id, job=spec).execute(make_context())


# ------------------------------------------------------------------------------------- stop/delete


def test_stop_operator_not_running_is_a_no_op(emulator: EmulatorServer) -> None:
    job_id = new_job("stop_idle")
    context = make_context()
    assert LakeFormationStopJobOperator(task_id="s", job_id=job_id).execute(context) == job_id
    assert xcoms(context)["job_status"] == "CREATED"


def test_stop_operator_waits_for_stop(emulator: EmulatorServer) -> None:
    emulator.configure(stop_seconds=0.3)
    job_id = new_job("stop_busy", markers=outcome(duration=30))
    _hook().start_job(job_id)
    context = make_context()
    op = LakeFormationStopJobOperator(task_id="s", job_id=job_id, wait_for_stop=True, poll_interval=POLL)
    op.execute(context)
    assert xcoms(context)["job_status"] == "STOPPED"


def test_delete_running_job_needs_stop_if_running(emulator: EmulatorServer) -> None:
    job_id = new_job("delete_busy", markers=outcome(duration=30))
    _hook().start_job(job_id)
    with pytest.raises(LakeFormationError, match="stop_if_running=True"):
        LakeFormationDeleteJobOperator(task_id="d", job_id=job_id).execute(make_context())
    op = LakeFormationDeleteJobOperator(task_id="d", job_id=job_id, stop_if_running=True, poll_interval=POLL)
    assert op.execute(make_context()) == job_id
    with pytest.raises(LakeFormationNotFoundError):
        _hook().get_job(job_id)


def test_delete_missing_job(emulator: EmulatorServer) -> None:
    with pytest.raises(LakeFormationNotFoundError):
        LakeFormationDeleteJobOperator(task_id="d", job_id="no-such-job").execute(make_context())
    op = LakeFormationDeleteJobOperator(task_id="d", job_id="no-such-job", ignore_missing=True)
    assert op.execute(make_context()) is None


# ------------------------------------------------------------------------------------ start (sync)


def test_start_waits_for_success(emulator: EmulatorServer, task_log: pytest.LogCaptureFixture) -> None:
    job_id = new_job("start_ok")
    context = make_context()
    assert _start_op(job_id).execute(context) == job_id
    assert xcoms(context) == {
        "job_id": job_id,
        "console_url": emulator.console_url(job_id, run=str(_hook().get_job(job_id).start_time)),
        "job_status": "SUCCESS",
    }
    assert starts(emulator, job_id) == 1
    # each transition logged once, with the time it took
    assert "SUBMITTED -> RUNNING after" in task_log.text
    assert task_log.text.count("RUNNING -> SUCCESS after") == 1


def test_start_failure_shows_log_tail(emulator: EmulatorServer, task_log: pytest.LogCaptureFixture) -> None:
    job_id = new_job("start_fail", markers=outcome("FAILED"))
    context = make_context()
    with pytest.raises(LakeFormationJobFailedError) as info:
        _start_op(job_id, log_tail_lines=5).execute(context)
    err = info.value
    assert err.job_id == job_id
    assert err.status == "FAILED"
    assert job_id in str(err)
    assert emulator.console_url(job_id) in str(err)
    assert err.log_tail
    assert len(err.log_tail.splitlines()) <= 5
    assert err.log_tail.splitlines()[-1] in task_log.text
    assert "last 5 lines of the log" in task_log.text
    assert xcoms(context)["job_status"] == "FAILED"


def test_start_partial_success_fails_by_default(emulator: EmulatorServer) -> None:
    job_id = new_job("partial_strict", markers=outcome("PARTIAL_SUCCESS"))
    with pytest.raises(LakeFormationJobFailedError, match="PARTIAL_SUCCESS"):
        _start_op(job_id).execute(make_context())


def test_start_partial_success_allowed(emulator: EmulatorServer) -> None:
    job_id = new_job("partial_ok", markers=outcome("PARTIAL_SUCCESS"))
    context = make_context()
    assert _start_op(job_id, fail_on_partial_success=False).execute(context) == job_id
    assert xcoms(context)["job_status"] == "PARTIAL_SUCCESS"


def test_start_timeout_stops_the_job(emulator: EmulatorServer, task_log: pytest.LogCaptureFixture) -> None:
    job_id = new_job("start_slow", markers=outcome(duration=30))
    started = time.monotonic()
    with pytest.raises(LakeFormationTimeoutError, match="asked to stop"):
        _start_op(job_id, timeout=0.5).execute(make_context())
    assert time.monotonic() - started < 5
    assert wait_status(job_id, {JobStatus.STOPPED}) is JobStatus.STOPPED


def test_start_without_waiting(emulator: EmulatorServer) -> None:
    job_id = new_job("start_nowait", markers=outcome(duration=30))
    context = make_context()
    assert _start_op(job_id, wait_for_completion=False).execute(context) == job_id
    assert xcoms(context)["job_status"] in {"SUBMITTED", "RUNNING"}
    assert _hook().get_job_status(job_id) in IN_PROGRESS_STATUSES
    _hook().stop_job(job_id)


def test_start_attaches_to_a_running_run(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    """Without any stored state (Airflow < 3.3 or a fresh task): a running job is joined, not restarted."""
    job_id = new_job("attach_me", markers=outcome(duration=0.6))
    _hook().start_job(job_id)
    context = make_context()  # no task_state_store
    assert _start_op(job_id).execute(context) == job_id
    assert starts(emulator, job_id) == 1
    assert "attaches to that run instead of starting another one" in task_log.text
    if AIRFLOW_V_3_3:
        assert "crash recovery is disabled" in task_log.text  # the mixin's warning without a store
    assert xcoms(context)["job_status"] == "SUCCESS"


@requires_task_state_store
def test_retry_after_crash_reconnects(emulator: EmulatorServer, task_log: pytest.LogCaptureFixture) -> None:
    """Try 1 starts the job and "dies"; try 2 finds the run in the task state store and waits for it."""
    job_id = new_job("resume_me", markers=outcome(duration=0.8))
    store = FakeStateStore()
    first = _start_op(job_id)
    first.wait_for_job = _crash  # type: ignore[method-assign]
    with pytest.raises(_WorkerCrash):
        first.execute(make_context(store))
    stored = store.get("lakeformation_job_run")
    assert stored["job_id"] == job_id
    assert stored["start_time"]

    context = make_context(store)
    assert _start_op(job_id).execute(context) == job_id  # reconnect path returns the job id too
    assert starts(emulator, job_id) == 1
    assert "reconnected to the run of LakeFormation job" in task_log.text
    assert xcoms(context)["job_status"] == "SUCCESS"


@requires_task_state_store
def test_retry_after_run_finished_does_not_restart(emulator: EmulatorServer) -> None:
    job_id = new_job("resume_done")
    store = FakeStateStore()
    first = _start_op(job_id)
    first.wait_for_job = _crash  # type: ignore[method-assign]
    with pytest.raises(_WorkerCrash):
        first.execute(make_context(store))
    wait_status(job_id, {JobStatus.SUCCESS})
    context = make_context(store)
    assert _start_op(job_id).execute(context) == job_id
    assert starts(emulator, job_id) == 1
    assert xcoms(context)["job_status"] == "SUCCESS"


@without_task_state_store
def test_retry_after_crash_attaches_while_the_run_is_in_progress_below_3_3(emulator: EmulatorServer) -> None:
    """The documented fallback (Airflow < 3.3, no task state store): try 1 starts the job and dies,
    try 2 finds it SUBMITTED/RUNNING and attaches instead of starting it again."""
    job_id = new_job("attach_after_crash", markers=outcome(duration=1.5))
    store = FakeStateStore()
    first = _start_op(job_id)
    first.wait_for_job = _crash  # type: ignore[method-assign]
    with pytest.raises(_WorkerCrash):
        first.execute(make_context(store))
    assert store.data == {}  # nothing persisted below 3.3
    context = make_context(store)
    assert _start_op(job_id).execute(context) == job_id
    assert starts(emulator, job_id) == 1
    assert xcoms(context)["job_status"] == "SUCCESS"


@without_task_state_store
def test_retry_after_run_finished_starts_again_below_3_3(emulator: EmulatorServer) -> None:
    """The documented 2.11 limitation: once the run of try 1 has finished, try 2 cannot know it was
    its own and starts the job again (Airflow 3.3 returns the stored run's result instead)."""
    job_id = new_job("restart_after_done")
    store = FakeStateStore()
    first = _start_op(job_id)
    first.wait_for_job = _crash  # type: ignore[method-assign]
    with pytest.raises(_WorkerCrash):
        first.execute(make_context(store))
    wait_status(job_id, {JobStatus.SUCCESS})
    context = make_context(store)
    assert _start_op(job_id).execute(context) == job_id
    assert starts(emulator, job_id) == 2
    assert xcoms(context)["job_status"] == "SUCCESS"


def test_retry_after_failed_run_starts_again(emulator: EmulatorServer) -> None:
    job_id = new_job("resume_failed", markers=outcome("FAILED"))
    store = FakeStateStore()
    with pytest.raises(LakeFormationJobFailedError):
        _start_op(job_id).execute(make_context(store))
    with pytest.raises(LakeFormationJobFailedError):
        _start_op(job_id).execute(make_context(store))
    assert starts(emulator, job_id) == 2


@requires_task_state_store
def test_stored_run_of_someone_else_is_not_mine(emulator: EmulatorServer) -> None:
    """The job was re-run by someone else after my run ended: my run's result comes from history."""
    job_id = new_job("resume_history")
    store = FakeStateStore()
    first = _start_op(job_id)
    first.wait_for_job = _crash  # type: ignore[method-assign]
    with pytest.raises(_WorkerCrash):
        first.execute(make_context(store))
    wait_status(job_id, {JobStatus.SUCCESS})
    _hook().start_job(job_id)  # another run, not this task's
    op = _start_op(job_id)
    assert op.get_job_status(store.get("lakeformation_job_run"), make_context()) == "SUCCESS"
    wait_status(job_id, {JobStatus.SUCCESS})


class _TryTI(FakeTI):
    """A task instance with Airflow's ``max_tries``: constant across retries, raised by every clear."""

    def __init__(self, max_tries: int) -> None:
        super().__init__()
        self.max_tries = max_tries


@requires_task_state_store
def test_cleared_task_starts_the_job_again(emulator: EmulatorServer) -> None:
    """A clear (backfill reprocessing, "Clear task") is a request to run again, not a retry: the run
    stored by the earlier try must not stand in for this one. A retry after the clear still reconnects."""
    job_id = new_job("cleared_task")
    store = FakeStateStore()
    assert _start_op(job_id).execute(make_context(store, ti=_TryTI(0))) == job_id
    assert starts(emulator, job_id) == 1
    context = make_context(store, ti=_TryTI(1))  # cleared: Airflow set max_tries = try_number + retries
    assert _start_op(job_id).execute(context) == job_id
    assert starts(emulator, job_id) == 2
    assert xcoms(context)["job_status"] == "SUCCESS"
    assert _start_op(job_id).execute(make_context(store, ti=_TryTI(1))) == job_id  # a retry: same max_tries
    assert starts(emulator, job_id) == 2


def test_on_kill_stops_the_run(emulator: EmulatorServer) -> None:
    job_id = new_job("kill_me", markers=outcome(duration=30))
    op = _start_op(job_id)
    errors: list[BaseException] = []

    def run() -> None:
        executable_in_this_thread()  # Airflow 2.11's ExecutorSafeguard
        try:
            op.execute(make_context())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert wait_status(job_id, {JobStatus.RUNNING}) is JobStatus.RUNNING
    op.on_kill()
    worker.join(10)
    assert not worker.is_alive()
    assert wait_status(job_id, {JobStatus.STOPPED}) is JobStatus.STOPPED
    assert errors
    assert isinstance(errors[0], LakeFormationJobFailedError)  # the waiting loop saw STOPPED
    op.on_kill()  # nothing in flight any more: a no-op


def test_operators_carry_the_console_link() -> None:
    for cls in (
        LakeFormationCreateJobOperator,
        LakeFormationUpdateJobOperator,
        LakeFormationStartJobOperator,
        LakeFormationStopJobOperator,
    ):
        assert any(isinstance(link, LakeFormationJobLink) for link in cls.operator_extra_links)
    assert LakeFormationJobLink().name == "LakeFormation Job"


class _WorkerCrash(BaseException):
    """Stands for the worker process dying while the task waits."""


def _crash(*args: Any, **kwargs: Any) -> Any:
    raise _WorkerCrash


def test_link_reads_console_url_xcom(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.common.compat.sdk import XCom

    seen: dict[str, Any] = {}

    def get_value(*, ti_key: Any, key: str) -> Any:
        seen.update(ti_key=ti_key, key=key)
        return "http://console/jobs/j-1"

    monkeypatch.setattr(XCom, "get_value", staticmethod(get_value))
    # Airflow 2's webserver hands the link a serialized operator: it reads the XCom.
    op = object()
    assert LakeFormationJobLink().get_link(op, ti_key="KEY") == "http://console/jobs/j-1"  # type: ignore[arg-type]
    assert seen == {"ti_key": "KEY", "key": "console_url"}
    monkeypatch.setattr(XCom, "get_value", staticmethod(lambda **_: None))
    assert LakeFormationJobLink().get_link(op, ti_key="KEY") == ""  # type: ignore[arg-type]
    # In the task (Airflow 3 records the link when the task ends) it reads the operator.
    live = LakeFormationStartJobOperator(task_id="start", job_id="j-1")
    assert LakeFormationJobLink().get_link(live, ti_key="KEY") == ""  # type: ignore[arg-type]
    live.shown_console_url = "http://console/jobs/j-1?run=5"
    assert LakeFormationJobLink().get_link(live, ti_key="KEY") == "http://console/jobs/j-1?run=5"  # type: ignore[arg-type]
