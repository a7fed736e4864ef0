"""Jobs given by name (start, stop, delete, sensor) and ``do_xcom_push=False``, against the emulator
over real HTTP (issue #26 items 1-2)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationJobNameError, LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.links.lakeformation import LakeFormationJobLink
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    execute_deferrable,
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
__all__ = ["lf_conn", "task_log"]

BY_NAME = {"job_type": "METADATA_MIGRATION"}


def _start(**kwargs: Any) -> LakeFormationStartJobOperator:
    kwargs.setdefault("poll_interval", POLL)
    kwargs.setdefault("deferrable", False)
    return LakeFormationStartJobOperator(task_id="start", **kwargs)


def test_start_by_exact_name_ignores_names_that_contain_it(emulator: EmulatorServer) -> None:
    longer = new_job("nightly_sales_copy", markers=outcome("SUCCESS", duration=0.2))
    wanted = new_job("nightly_sales", markers=outcome("SUCCESS", duration=0.2))
    context = make_context()
    op = _start(job_name="nightly_sales", **BY_NAME)
    assert op.execute(context) == wanted
    assert xcoms(context)["job_id"] == wanted
    assert xcoms(context)["console_url"].startswith(emulator.console_url(wanted))
    assert op.shown_console_url == xcoms(context)["console_url"]  # what the extra link shows
    assert starts(emulator, wanted) == 1
    assert starts(emulator, longer) == 0


def test_start_by_name_deferred_resumes_on_the_id_found(emulator: EmulatorServer) -> None:
    job_id = new_job("deferred_by_name", markers=outcome("SUCCESS", duration=0.3))
    context = make_context()
    op = _start(job_name="{{ params.name }}", job_type="{{ params.kind }}", deferrable=True)
    op.render_template_fields({"params": {"name": "deferred_by_name", "kind": "metadata_migration"}})
    assert execute_deferrable(op, context) == job_id
    assert xcoms(context)["job_status"] == "SUCCESS"
    assert op.shown_console_url is not None  # passed through the deferral to the resumed task
    assert job_id in op.shown_console_url


def test_no_job_of_that_name_fails_naming_type_and_name(emulator: EmulatorServer) -> None:
    new_job("other_name")
    context = make_context()
    with pytest.raises(LakeFormationJobNameError) as info:
        _start(job_name="no_such_job", **BY_NAME).execute(context)
    assert "METADATA_MIGRATION" in str(info.value)
    assert "'no_such_job'" in str(info.value)
    assert info.value.job_ids == []
    assert xcoms(context) == {}
    assert emulator.stats().get("starts", {}) == {}


def test_name_of_another_type_is_not_found(emulator: EmulatorServer) -> None:
    new_job("typed_job")
    with pytest.raises(
        LakeFormationJobNameError, match="METADATA_DISCOVERY LakeFormation job named 'typed_job'"
    ):
        _start(job_name="typed_job", job_type="METADATA_DISCOVERY").execute(make_context())


def test_rendered_name_is_checked_before_any_http(emulator: EmulatorServer) -> None:
    op = _start(job_name="{{ params.name }}", **BY_NAME)
    op.render_template_fields({"params": {"name": "bad name!"}})
    before = emulator.stats()["requests"]
    with pytest.raises(LakeFormationSpecError, match="job_name: must be a job name"):
        op.execute(make_context())
    assert emulator.stats()["requests"] == before


def test_stop_by_name(emulator: EmulatorServer) -> None:
    job_id = new_job("stop_by_name", markers=outcome("SUCCESS", duration=30))
    LakeFormationHook(CONN_ID).start_job(job_id)
    context = make_context()
    op = LakeFormationStopJobOperator(
        task_id="stop", job_name="stop_by_name", poll_interval=POLL, wait_for_stop=True, **BY_NAME
    )
    assert op.execute(context) == job_id
    assert xcoms(context)["job_id"] == job_id
    assert xcoms(context)["job_status"] == "STOPPED"


def test_delete_by_name_and_ignore_missing(emulator: EmulatorServer) -> None:
    job_id = new_job("delete_by_name")
    op = LakeFormationDeleteJobOperator(task_id="delete", job_name="delete_by_name", **BY_NAME)
    assert op.execute(make_context()) == job_id
    again = LakeFormationDeleteJobOperator(task_id="delete", job_name="delete_by_name", **BY_NAME)
    with pytest.raises(LakeFormationJobNameError, match="no METADATA_MIGRATION"):
        again.execute(make_context())
    tolerant = LakeFormationDeleteJobOperator(
        task_id="delete", job_name="delete_by_name", ignore_missing=True, **BY_NAME
    )
    assert tolerant.execute(make_context()) is None


def test_sensor_by_name_deferred(emulator: EmulatorServer) -> None:
    job_id = new_job("sensed_by_name", markers=outcome("SUCCESS", duration=0.5))
    LakeFormationHook(CONN_ID).start_job(job_id)
    context = make_context()
    sensor = LakeFormationJobSensor(
        task_id="wait", job_name="sensed_by_name", poke_interval=POLL, timeout=30, deferrable=True, **BY_NAME
    )
    assert execute_deferrable(sensor, context) == "SUCCESS"
    assert xcoms(context)["job_id"] == job_id


# ------------------------------------------------------------------------------ do_xcom_push=False


def test_do_xcom_push_false_pushes_nothing(emulator: EmulatorServer) -> None:
    context = make_context()
    spec = migration_spec("quiet_job", markers=outcome("SUCCESS", duration=0.2))
    create = LakeFormationCreateJobOperator(task_id="c", job=spec, do_xcom_push=False)
    job_id = create.execute(context)
    stop = LakeFormationStopJobOperator(task_id="s", job_id=job_id, do_xcom_push=False)
    stop.execute(context)
    start = _start(job_id=job_id, do_xcom_push=False)
    assert start.execute(context) == job_id
    assert wait_status(job_id, {JobStatus.SUCCESS}) == JobStatus.SUCCESS
    assert xcoms(context) == {}
    # the extra link still shows the job: the task reads it from the operator, not from XCom
    assert start.shown_console_url is not None
    assert job_id in start.shown_console_url


def test_link_of_a_task_that_failed_before_it_knew_its_job_is_empty(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.common.compat.sdk import XCom

    def no_lookup(**_: Any) -> None:
        raise AssertionError("the link asked XCom")

    monkeypatch.setattr(XCom, "get_value", staticmethod(no_lookup))
    op = _start(job_name="never_created", **BY_NAME)
    with pytest.raises(LakeFormationJobNameError):
        op.execute(make_context())
    assert LakeFormationJobLink().get_link(op, ti_key="KEY") == ""  # type: ignore[arg-type]
