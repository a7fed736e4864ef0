"""LakeFormationJobTrigger against the emulator over real HTTP: events, transient faults, end_time,
non-transient errors and on_kill."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    first_event,
    lf_conn,
    new_job,
    outcome,
    roundtrip_trigger,
    task_log,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]


def _trigger(job_id: str, **kwargs: object) -> LakeFormationJobTrigger:
    kwargs.setdefault("poll_interval", POLL)
    trigger = roundtrip_trigger(LakeFormationJobTrigger(job_id=job_id, **kwargs))  # type: ignore[arg-type]
    assert isinstance(trigger, LakeFormationJobTrigger)
    return trigger


def _start(job_id: str) -> None:
    LakeFormationHook(CONN_ID).start_job(job_id)


async def test_success_event(emulator: EmulatorServer, task_log: pytest.LogCaptureFixture) -> None:
    async with LakeFormationHook(CONN_ID).async_client():  # first-use costs (TLS context...) paid here
        pass
    job_id = new_job("trig_ok", markers=outcome(duration=0.4))
    _start(job_id)
    event = await first_event(_trigger(job_id))
    assert event.payload == {
        "status": "success",
        "job_id": job_id,
        "job_status": "SUCCESS",
        "message": f"LakeFormation job {job_id} succeeded: SUCCESS",
    }
    # transitions logged once each, nothing per poll
    lines = [r.getMessage() for r in task_log.records if r.name.endswith("LakeFormationJobTrigger")]
    assert len(lines) == len(set(lines)) <= 3
    assert any("RUNNING -> SUCCESS after" in line for line in lines)


@pytest.mark.parametrize(
    ("result", "fail_on_partial_success", "status"),
    [
        ("FAILED", True, "error"),
        ("PARTIAL_SUCCESS", True, "error"),
        ("PARTIAL_SUCCESS", False, "success"),
    ],
)
async def test_terminal_outcomes(
    emulator: EmulatorServer, result: str, fail_on_partial_success: bool, status: str
) -> None:
    job_id = new_job(f"trig_{result.lower()}_{int(fail_on_partial_success)}", markers=outcome(result))
    _start(job_id)
    event = await first_event(_trigger(job_id, fail_on_partial_success=fail_on_partial_success))
    assert event.payload["status"] == status
    assert event.payload["job_status"] == result


async def test_stopped_run_is_an_error(emulator: EmulatorServer) -> None:
    job_id = new_job("trig_stopped", markers=outcome(duration=30))
    _start(job_id)
    LakeFormationHook(CONN_ID).stop_job(job_id)
    event = await first_event(_trigger(job_id))
    assert (event.payload["status"], event.payload["job_status"]) == ("error", "STOPPED")


async def test_end_time_gives_timeout_event(emulator: EmulatorServer) -> None:
    job_id = new_job("trig_slow", markers=outcome(duration=30))
    _start(job_id)
    started = time.monotonic()
    event = await first_event(_trigger(job_id, end_time=time.time() + 0.5))
    assert time.monotonic() - started < 3
    assert event.payload["status"] == "timeout"
    assert event.payload["job_status"] in ("SUBMITTED", "RUNNING")
    assert "still" in event.payload["message"]
    LakeFormationHook(CONN_ID).stop_job(job_id)


@pytest.mark.parametrize("fault", [{"status": 503, "retry_after": 0.05}, {"status": 502}, {"drop": True}])
async def test_transient_faults_are_absorbed(emulator: EmulatorServer, fault: dict[str, object]) -> None:
    job_id = new_job("trig_flaky", markers=outcome(duration=0.5))
    _start(job_id)
    # 6 faulty GETs: with one hook retry per poll that is 3 failed polls in a row
    emulator.inject_fault(count=6, path_contains=job_id, method="GET", **fault)  # type: ignore[arg-type]
    event = await first_event(_trigger(job_id, max_transient_errors=5))
    assert event.payload["status"] == "success"
    assert emulator.faults() == []  # all were hit


async def test_too_many_transient_errors(emulator: EmulatorServer) -> None:
    job_id = new_job("trig_down", markers=outcome(duration=30))
    _start(job_id)
    emulator.inject_fault(503, count=50, path_contains=job_id, method="GET")
    event = await first_event(_trigger(job_id, max_transient_errors=2))
    assert event.payload["status"] == "error"
    assert "gave up after 3 consecutive transient errors" in event.payload["message"]
    emulator.clear_faults()
    LakeFormationHook(CONN_ID).stop_job(job_id)


async def test_missing_job_is_an_error_at_once(emulator: EmulatorServer) -> None:
    event = await first_event(_trigger("no-such-job"))
    assert event.payload["status"] == "error"
    assert event.payload["job_status"] is None
    assert "404" in event.payload["message"]
    assert emulator.stats()["by_status"].get("404") == 1  # not retried


async def test_auth_error_event_has_no_secret(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = emulator.connection("aksk")
    bad["password"] = "Wrong-SK-SECRET-0042"
    monkeypatch.setenv("AIRFLOW_CONN_LF_BAD", json.dumps(bad))
    event = await first_event(_trigger("any-job", lakeformation_conn_id="lf_bad"))
    assert event.payload["status"] == "error"
    assert "403" in event.payload["message"]  # signature mismatch, as the real service answers
    assert "Wrong-SK-SECRET-0042" not in json.dumps(event.payload)


async def test_custom_state_sets(emulator: EmulatorServer) -> None:
    """Sensor-style decision: RUNNING is the target, other statuses keep polling."""
    job_id = new_job("trig_running", markers=outcome(duration=30))
    _start(job_id)
    event = await first_event(_trigger(job_id, target_states=["RUNNING"], failure_states=["FAILED"]))
    assert (event.payload["status"], event.payload["job_status"]) == ("success", "RUNNING")
    LakeFormationHook(CONN_ID).stop_job(job_id)


async def _kill_while_running(trigger: LakeFormationJobTrigger) -> None:
    """What the triggerer does on a user action: cancel run(), then call on_kill()."""
    task = asyncio.create_task(first_event(trigger))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await trigger.on_kill()


async def test_on_kill_stops_the_job(emulator: EmulatorServer) -> None:
    job_id = new_job("trig_kill", markers=outcome(duration=30))
    _start(job_id)
    trigger = _trigger(job_id)
    await _kill_while_running(trigger)
    await trigger.on_kill()  # idempotent: no second stop
    await asyncio.gather(trigger.on_kill(), trigger.on_kill())
    assert emulator.stats()["stops"] == {job_id: 1}
    assert await _status_soon(job_id, JobStatus.STOPPED)
    await trigger.cleanup()


async def test_on_kill_leaves_job_when_cancel_on_kill_is_off(emulator: EmulatorServer) -> None:
    job_id = new_job("trig_keep", markers=outcome(duration=30))
    _start(job_id)
    trigger = _trigger(job_id, cancel_on_kill=False)
    await _kill_while_running(trigger)
    assert emulator.stats()["stops"] == {}
    assert LakeFormationHook(CONN_ID).get_job_status(job_id) is JobStatus.RUNNING
    LakeFormationHook(CONN_ID).stop_job(job_id)


async def test_on_kill_after_the_run_ended_does_nothing(emulator: EmulatorServer) -> None:
    job_id = new_job("trig_done")
    _start(job_id)
    trigger = _trigger(job_id)
    assert (await first_event(trigger)).payload["status"] == "success"
    await trigger.on_kill()
    assert emulator.stats()["stops"] == {}


async def test_many_triggers_share_nothing_per_poll(emulator: EmulatorServer) -> None:
    """50 triggers in one loop: each reads the connection once and keeps one session."""
    job_ids = [new_job(f"trig_many_{i:02d}", markers=outcome(duration=0.5)) for i in range(50)]
    for job_id in job_ids:
        _start(job_id)
    events = await asyncio.gather(*(first_event(_trigger(j)) for j in job_ids))
    assert {e.payload["status"] for e in events} == {"success"}


async def _status_soon(job_id: str, wanted: JobStatus, timeout: float = 5.0) -> bool:
    hook = LakeFormationHook(CONN_ID)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(hook.get_job_status, job_id) is wanted:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_event_held_until_hold_until(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    """Airflow's deferral race: a job that ends right after the deferral does not resume the task
    before ``hold_until``; the wait is not longer than that."""
    job_id = new_job("trig_hold", markers=outcome(duration=0.2))
    _start(job_id)
    deferred_at = time.time()
    event = await first_event(_trigger(job_id, hold_until=deferred_at + 1.5))
    fired_after = time.time() - deferred_at
    assert event.payload["status"] == "success"
    assert 1.5 <= fired_after < 4.0, fired_after
    assert any("event held" in r.getMessage() for r in task_log.records)


async def test_past_hold_until_holds_nothing(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("trig_nohold", markers=outcome(duration=0.2))
    _start(job_id)
    event = await first_event(_trigger(job_id, hold_until=time.time() - 60))
    assert event.payload["status"] == "success"
    assert not any("event held" in r.getMessage() for r in task_log.records)
