"""The vendor pages' examples through the provider's client: every example request goes through the
hook (and the operators) to the emulator over HTTP and the JSON on the wire equals the example;
every example response parses; a status value the client has never seen (the emulator's status
injection) is kept as its raw text in pages and reads, and every wait keeps polling through it."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationApiError
from airflow_provider_lakeformation.hooks._replies import read_json
from airflow_provider_lakeformation.hooks._wire import RawResponse
from airflow_provider_lakeformation.hooks.lakeformation import GET_JOB, LakeFormationHook
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationUpdateJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    first_event,
    lf_conn,
    make_context,
    new_job,
    outcome,
    roundtrip_trigger,
    task_log,
    wait_status,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "vendor_examples"
UNKNOWN_WARNING = "which this client does not know"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


@pytest.fixture
def wire() -> Iterator[tuple[LakeFormationHook, list[requests.PreparedRequest]]]:
    """A hook whose session records every request it puts on the wire."""
    hook = LakeFormationHook(CONN_ID)
    sent: list[requests.PreparedRequest] = []
    hook.get_conn().hooks["response"].append(lambda r, *a, **k: sent.append(r.request))
    yield hook, sent
    hook.close()


def bodies(sent: list[requests.PreparedRequest], method: str) -> list[Any]:
    return [json.loads(r.body or b"") for r in sent if r.method == method and r.body]


def unknown_warnings(log: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in log.records if UNKNOWN_WARNING in r.getMessage()]


# ------------------------------------------------------------------------------- requests on the wire


def test_every_example_request_reaches_the_emulator_unchanged(
    emulator: EmulatorServer,
    wire: tuple[LakeFormationHook, list[requests.PreparedRequest]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook, sent = wire
    emulator.configure(run_seconds=30)  # still RUNNING when the stop example arrives
    caplog.set_level(logging.WARNING)
    created = hook.create_job(example("create-job.request.json"))
    assert bodies(sent, "POST") == [example("create-job.request.json")]
    extra = [r.getMessage() for r in caplog.records if "beside its own block" in r.getMessage()]
    assert len(extra) == 1
    assert "parameter.permission_migration_parameter, parameter.metadata_discovery_parameter" in extra[0]

    modified = hook.update_job(created.id, example("modify-job.request.json"))
    assert bodies(sent, "PUT") == [example("modify-job.request.json")]
    assert modified.parameter is not None
    assert hook.get_job(created.id).name == "testjob"

    hook.start_job(created.id)  # the start and stop pages' requests have no body
    hook.stop_job(created.id)
    routes = [(r.method, r.path_url.split("?")[0].rsplit("/", 1)[-1]) for r in sent]
    assert ("POST", "start") in routes
    assert ("POST", "stop") in routes
    assert hook.get_job_status(created.id) == JobStatus.STOPPED


def test_operators_send_the_examples_unchanged(
    emulator: EmulatorServer, wire: tuple[LakeFormationHook, list[requests.PreparedRequest]]
) -> None:
    hook, sent = wire
    create = LakeFormationCreateJobOperator(task_id="create", job=example("create-job.request.json"))
    create.__dict__["hook"] = hook  # the operator's own hook, with the recording session
    context = make_context()
    job_id = create.execute(context)
    assert xcoms(context)["job_id"] == job_id
    update = LakeFormationUpdateJobOperator(
        task_id="update", job_id=job_id, job=json.dumps(example("modify-job.request.json"))
    )
    update.__dict__["hook"] = hook
    update.execute(make_context())
    assert bodies(sent, "POST") == [example("create-job.request.json")]
    assert bodies(sent, "PUT") == [example("modify-job.request.json")]


# ------------------------------------------------------------------------------- responses


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.response-*.json")))
def test_every_example_response_parses(emulator: EmulatorServer, name: str) -> None:
    status = int(name.rsplit("-", 1)[1].split(".")[0])
    hook = LakeFormationHook(CONN_ID)
    call = GET_JOB.call(hook.settings, job_id="03141229-84cd-4b1b-9733-dd124320c125")
    body = (EXAMPLES / name).read_bytes()
    resp = RawResponse(status, "", CaseInsensitiveDict({"X-Request-Id": "rq-1"}), body)
    data = example(name)
    if status < 300:
        job = GET_JOB.parse(call, resp)
        assert job.id == data["id"]
        assert job.status is JobStatus.SUCCESS
        assert job.parameter is not None
        return
    with pytest.raises(LakeFormationApiError) as info:
        read_json(call, resp)
    assert info.value.status_code == status
    assert info.value.error_code == str(data["error_code"])
    assert info.value.error_msg == data["error_msg"]
    assert info.value.request_id == "rq-1"


# ------------------------------------------------------------------------------- unknown status


def test_unknown_status_in_a_list_page_keeps_the_other_jobs(emulator: EmulatorServer) -> None:
    hook = LakeFormationHook(CONN_ID)
    ids = [new_job(f"listed_job_{n}") for n in range(3)]
    emulator.report_status(ids[1], "QUEUED")
    page = hook.list_jobs("METADATA_MIGRATION", limit=10)
    statuses = {job.id: job.status for job in page.jobs}
    assert set(statuses) == set(ids)
    queued = statuses[ids[1]]
    assert queued is not None
    assert (queued.value, queued.is_known, queued.is_terminal) == ("QUEUED", False, False)
    assert statuses[ids[0]] is JobStatus.CREATED
    assert hook.get_job(ids[1]).status == "QUEUED"
    assert hook.get_job_status(ids[1]) == "QUEUED"
    emulator.configure(status_shape="object")
    assert hook.get_job_status(ids[1]) == "QUEUED"


def test_sync_wait_keeps_polling_through_an_unknown_status(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("unknown_sync", markers=outcome(duration=30))
    LakeFormationHook(CONN_ID).start_job(job_id)
    wait_status(job_id, {JobStatus.RUNNING})
    emulator.report_status(job_id, "QUEUED")  # the stop goes through; the job keeps reporting QUEUED
    op = LakeFormationStopJobOperator(task_id="stop", job_id=job_id, wait_for_stop=True, poll_interval=POLL)
    release = threading.Timer(1.0, emulator.report_status, (job_id, None))
    release.start()
    context = make_context()
    try:
        op.execute(context)
    finally:
        release.join()
    assert xcoms(context)["job_status"] == "STOPPED"  # waited through QUEUED to the real status
    assert len(unknown_warnings(task_log)) == 1  # once per job, not once per poll


def test_sensor_keeps_poking_on_an_unknown_status(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("unknown_sensor", markers=outcome(duration=0.2))
    LakeFormationHook(CONN_ID).start_job(job_id)
    wait_status(job_id, {JobStatus.SUCCESS})
    emulator.report_status(job_id, "PENDING_APPROVAL")
    sensor = LakeFormationJobSensor(task_id="s", job_id=job_id, poke_interval=POLL, deferrable=False)
    context = make_context()
    assert sensor.poke(context) is False
    assert sensor.poke(context) is False
    assert len(unknown_warnings(task_log)) == 1  # once per job, not per poke
    emulator.report_status(job_id, None)
    result = sensor.poke(context)
    assert result
    assert xcoms(context)["job_status"] == "SUCCESS"


async def test_trigger_keeps_waiting_on_an_unknown_status(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("unknown_trigger", markers=outcome(duration=0.2))
    LakeFormationHook(CONN_ID).start_job(job_id)
    wait_status(job_id, {JobStatus.SUCCESS})
    emulator.report_status(job_id, "QUEUED")
    trigger = roundtrip_trigger(LakeFormationJobTrigger(job_id=job_id, poll_interval=POLL))
    waiting = asyncio.ensure_future(first_event(trigger))
    await asyncio.sleep(1.0)
    assert not waiting.done()  # QUEUED is not terminal: still polling
    await asyncio.to_thread(emulator.report_status, job_id, None)
    event = await asyncio.wait_for(waiting, 30)
    assert event.payload["status"] == "success"
    assert event.payload["job_status"] == "SUCCESS"
    assert len(unknown_warnings(task_log)) == 1
