"""LakeFormationJobSensor against the emulator over real HTTP: poke, reschedule and deferrable."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationJobFailedError, LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.links.lakeformation import LakeFormationJobLink
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.compat import AIRFLOW_V_3, AirflowRescheduleException
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    execute_deferrable,
    lf_conn,
    make_context,
    new_job,
    outcome,
    run_deferred,
    task_log,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]


def _sensor(job_id: str, **kwargs: Any) -> LakeFormationJobSensor:
    kwargs.setdefault("poke_interval", POLL)
    kwargs.setdefault("timeout", 15)
    kwargs.setdefault("deferrable", False)
    return LakeFormationJobSensor(task_id="wait", job_id=job_id, **kwargs)


def _started(name: str, markers: str = "") -> str:
    job_id = new_job(name, markers=markers)
    LakeFormationHook(CONN_ID).start_job(job_id)
    return job_id


def _stop(job_id: str) -> None:
    LakeFormationHook(CONN_ID).stop_job(job_id)


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_success(
    emulator: EmulatorServer, deferrable: bool, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = _started(f"sense_ok_{int(deferrable)}", outcome(duration=0.5))
    context = make_context()
    sensor = _sensor(job_id, deferrable=deferrable)
    assert execute_deferrable(sensor, context) == "SUCCESS"
    assert xcoms(context) == {
        "job_id": job_id,
        "console_url": emulator.console_url(job_id),
        "job_status": "SUCCESS",
    }
    assert "-> SUCCESS after" in task_log.text


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_failure_shows_log_tail(
    emulator: EmulatorServer, deferrable: bool, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = _started(f"sense_fail_{int(deferrable)}", outcome("FAILED", duration=0.3))
    context = make_context()
    with pytest.raises(LakeFormationJobFailedError) as info:
        execute_deferrable(_sensor(job_id, deferrable=deferrable, log_tail_lines=4), context)
    assert info.value.status == "FAILED"
    assert info.value.log_tail
    assert info.value.log_tail.splitlines()[-1] in task_log.text
    assert xcoms(context)["job_status"] == "FAILED"


@pytest.mark.parametrize("deferrable", [False, True])
@pytest.mark.parametrize(("fail_on_partial_success", "fails"), [(True, True), (False, False)])
def test_sensor_partial_success(
    emulator: EmulatorServer, deferrable: bool, fail_on_partial_success: bool, fails: bool
) -> None:
    job_id = _started(
        f"sense_partial_{int(deferrable)}{int(fails)}", outcome("PARTIAL_SUCCESS", duration=0.3)
    )
    sensor = _sensor(job_id, deferrable=deferrable, fail_on_partial_success=fail_on_partial_success)
    if fails:
        with pytest.raises(LakeFormationJobFailedError, match="PARTIAL_SUCCESS"):
            execute_deferrable(sensor, make_context())
    else:
        assert execute_deferrable(sensor, make_context()) == "PARTIAL_SUCCESS"


def test_deferrable_sensor_pokes_once_then_defers(emulator: EmulatorServer) -> None:
    job_id = _started("sense_defer", outcome(duration=0.5))
    sensor = _sensor(job_id, deferrable=True, timeout=60)
    context = make_context()
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(context)
    trigger = info.value.trigger
    assert isinstance(trigger, LakeFormationJobTrigger)
    _, kwargs = trigger.serialize()
    assert kwargs["cancel_on_kill"] is False  # a sensor never stops the job it watches
    assert kwargs["target_states"] == ["SUCCESS"]
    assert kwargs["poll_interval"] == POLL
    assert run_deferred(info.value, sensor, context) == "SUCCESS"


def test_deferrable_sensor_done_without_deferring(emulator: EmulatorServer) -> None:
    emulator.configure(submit_seconds=0.0, run_seconds=0.0)
    job_id = _started("sense_instant")
    assert _sensor(job_id, deferrable=True).execute(make_context()) == "SUCCESS"


@pytest.mark.parametrize("deferrable", [False, True])
def test_custom_target_state(emulator: EmulatorServer, deferrable: bool) -> None:
    job_id = _started(f"sense_running_{int(deferrable)}", outcome(duration=30))
    sensor = _sensor(job_id, deferrable=deferrable, target_states=["RUNNING"], failure_states=["FAILED"])
    assert execute_deferrable(sensor, make_context()) == "RUNNING"
    _stop(job_id)


def test_status_outside_both_sets_keeps_waiting(emulator: EmulatorServer) -> None:
    """STOPPED is neither target nor failure here: the sensor waits (until it times out)."""
    job_id = _started("sense_stopped", outcome(duration=30))
    _stop(job_id)
    sensor = _sensor(job_id, target_states=["SUCCESS"], failure_states=["FAILED"], timeout=0.4)
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(make_context())


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_timeout(emulator: EmulatorServer, deferrable: bool) -> None:
    job_id = _started(f"sense_slow_{int(deferrable)}", outcome(duration=30))
    with pytest.raises(AirflowSensorTimeout):
        execute_deferrable(_sensor(job_id, deferrable=deferrable, timeout=0.5), make_context())
    assert LakeFormationHook(CONN_ID).get_job_status(job_id) is JobStatus.RUNNING  # not stopped
    _stop(job_id)


@pytest.mark.skipif(
    not AIRFLOW_V_3,
    reason="Airflow 2.11's reschedule mode reads the first try's start from TaskReschedule rows in the "
    "metadata DB; this test runs the sensor without a task instance in a DB",
)
def test_reschedule_mode(emulator: EmulatorServer) -> None:
    job_id = _started("sense_resched", outcome(duration=30))
    sensor = _sensor(job_id, mode="reschedule")
    with pytest.raises(AirflowRescheduleException):
        sensor.execute(make_context())
    _stop(job_id)
    with pytest.raises(LakeFormationJobFailedError, match="STOPPED"):
        _sensor(job_id, mode="reschedule").execute(make_context())


def test_transient_errors_while_poking(emulator: EmulatorServer) -> None:
    job_id = _started("sense_flaky", outcome(duration=0.5))
    emulator.inject_fault(503, count=4, path_contains=job_id, method="GET")
    assert _sensor(job_id, max_transient_errors=3).execute(make_context()) == "SUCCESS"


def test_bad_state_names_fail_at_parse_time() -> None:
    with pytest.raises(LakeFormationSpecError, match="target_states"):
        LakeFormationJobSensor(task_id="w", job_id="j", target_states=["DONE"])
    with pytest.raises(LakeFormationSpecError, match="overlaps"):
        LakeFormationJobSensor(task_id="w", job_id="j", target_states=["FAILED"], failure_states=["FAILED"])


def test_sensor_has_the_console_link() -> None:
    assert any(isinstance(link, LakeFormationJobLink) for link in LakeFormationJobSensor.operator_extra_links)
