"""LakeFormationJobRunTrigger (the AssetWatcher trigger) against the emulator over real HTTP.

The asset state store is Airflow's (``AssetStateStoreAccessors``) in the real-scheduler e2e test;
here a dict-backed store with the same async ``aget``/``aset`` stands in, shared between trigger
instances the way one asset's store is shared by every trigger the watcher ever gets.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

# Airflow 2.11 has no airflow.sdk: the provider offers this on Airflow 3 only.
pytest.importorskip("airflow.sdk", reason="an AssetWatcher event trigger (BaseEventTrigger) needs Airflow 3")

from airflow.triggers.base import BaseEventTrigger

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models.status import JobStatus
from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    lf_conn,
    migration_spec,
    new_job,
    outcome,
    roundtrip_trigger,
    task_log,
    wait_status,
)
from tests.integration.watching import DictAssetStore, Watcher

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]

DONE = {JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.PARTIAL_SUCCESS, JobStatus.STOPPED}


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def run_to_end(job_id: str) -> dict[str, Any]:
    """Start ``job_id`` outside any trigger (as the console would) and wait until it ended."""
    hook = LakeFormationHook(CONN_ID)
    await asyncio.to_thread(hook.start_job, job_id)
    await asyncio.to_thread(wait_status, job_id, DONE)
    job = await asyncio.to_thread(hook.get_job, job_id)
    return {"start_time": str(job.start_time), "status": job.status}


async def polls(emulator: EmulatorServer, route: str, n: int) -> None:
    """Wait until ``n`` more requests of ``route`` reached the emulator (the trigger polled)."""
    start = int(emulator.stats()["by_route"].get(route, 0))
    await until(lambda: int(emulator.stats()["by_route"].get(route, 0)) >= start + n)


def _trigger(**kwargs: Any) -> LakeFormationJobRunTrigger:
    kwargs.setdefault("poll_interval", POLL)
    kwargs.setdefault("handoff_seconds", 0.05)
    trigger = roundtrip_trigger(LakeFormationJobRunTrigger(**kwargs))
    assert isinstance(trigger, LakeFormationJobRunTrigger)
    assert isinstance(trigger, BaseEventTrigger)
    return trigger


async def test_no_event_for_runs_before_deployment_then_one_per_new_run(emulator: EmulatorServer) -> None:
    job_id = new_job("watch_one")
    before = await run_to_end(job_id)  # finished before the watcher exists
    store = DictAssetStore()
    async with Watcher(_trigger(job_id=job_id), store) as w:
        await until(lambda: store.writes == 1)  # baseline recorded
        await polls(emulator, "get_job", 3)
        assert w.events == []
        first = await run_to_end(job_id)
        await until(lambda: len(w.events) == 1)
        second = await run_to_end(job_id)
        await until(lambda: len(w.events) == 2)
        await polls(emulator, "get_job", 5)
    assert [e["start_time"] for e in w.events] == [first["start_time"], second["start_time"]]
    assert before["start_time"] not in {e["start_time"] for e in w.events}
    event = w.events[0]
    assert event["job_id"] == job_id
    assert event["job_status"] == "SUCCESS"
    assert event["job_type"] == "METADATA_MIGRATION"
    assert event["job_name"] == "watch_one"
    assert event["console_url"] == f"{emulator.url}/console/jobs/{job_id}"
    assert event["watch"] == job_id
    assert int(event["end_time"]) >= int(event["start_time"])
    assert "run_id" in event  # the emulator's history entries carry one
    json.dumps(event)


async def test_recreated_trigger_neither_repeats_nor_misses_runs(emulator: EmulatorServer) -> None:
    job_id = new_job("watch_restart")
    store = DictAssetStore()
    async with Watcher(_trigger(job_id=job_id), store) as w1:
        await until(lambda: store.writes == 1)
        first = await run_to_end(job_id)
        await until(lambda: len(w1.events) == 1)
        await until(lambda: store.writes == 2)  # recorded after the hand-off
    # Triggerer down: a run finishes meanwhile.
    missed = await run_to_end(job_id)
    async with Watcher(_trigger(job_id=job_id), store) as w2:  # a new trigger, same asset store
        await until(lambda: len(w2.events) == 1)
        await polls(emulator, "get_job", 5)
    assert w1.events[0]["start_time"] == first["start_time"]
    assert [e["start_time"] for e in w2.events] == [missed["start_time"]]


async def test_without_a_state_store_a_new_trigger_takes_a_new_baseline(emulator: EmulatorServer) -> None:
    job_id = new_job("watch_memory")
    async with Watcher(_trigger(job_id=job_id), None) as w1:
        await polls(emulator, "get_job", 2)
        await run_to_end(job_id)
        await until(lambda: len(w1.events) == 1)
    await run_to_end(job_id)  # ends while no trigger runs: not reported (documented)
    async with Watcher(_trigger(job_id=job_id), None) as w2:
        await polls(emulator, "get_job", 4)
    assert w2.events == []


async def test_name_pattern_status_filter_and_new_jobs(emulator: EmulatorServer) -> None:
    hook = LakeFormationHook(CONN_ID)
    old = new_job("nightly_old")
    await run_to_end(old)
    store = DictAssetStore()
    async with Watcher(_trigger(job_type="METADATA_MIGRATION", name_pattern="nightly_*"), store) as w:
        await until(lambda: store.writes == 1)
        ok = hook.create_job(migration_spec("nightly_ok")).id  # created after deployment
        bad = hook.create_job(migration_spec("nightly_bad", markers=outcome("FAILED"))).id
        other = hook.create_job(migration_spec("weekly_ok")).id  # does not match the pattern
        for job_id in (ok, bad, other):
            await run_to_end(job_id)
        await until(lambda: len(w.events) == 1)
        await polls(emulator, "list_jobs", 5)
    assert [(e["job_id"], e["job_status"]) for e in w.events] == [(ok, "SUCCESS")]
    assert w.events[0]["watch"] == "METADATA_MIGRATION:nightly_*"


async def test_other_statuses_can_fire(emulator: EmulatorServer) -> None:
    job_id = new_job("watch_failures", markers=outcome("FAILED"))
    async with Watcher(_trigger(job_id=job_id, statuses=["failed", "STOPPED"]), DictAssetStore()) as w:
        await polls(emulator, "get_job", 2)
        await run_to_end(job_id)
        await until(lambda: len(w.events) == 1)
    assert w.events[0]["job_status"] == "FAILED"


async def test_api_errors_never_end_the_watcher(
    emulator: EmulatorServer, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("watch_faults", markers=outcome(duration=0.5))
    store = DictAssetStore()
    async with Watcher(_trigger(job_id=job_id), store) as w:
        await until(lambda: store.writes == 1)
        await asyncio.to_thread(LakeFormationHook(CONN_ID).start_job, job_id)
        emulator.inject_fault(503, count=None, path_contains="/lf-jobs", method="GET")
        # backed-off polls fail while the run finishes (0.5 s); the 3rd failure is >= 0.6 s later
        await until(lambda: failed_polls(task_log) >= 3)
        fault_cleared_ms = int(time.time() * 1000)
        emulator.clear_faults()
        # a non-transient error (the job looks deleted for two polls) does not end it either
        emulator.inject_fault(404, count=2, path_contains=f"/lf-jobs/{job_id}", method="GET")
        await until(lambda: len(w.events) == 1)
    assert w.events[0]["job_status"] == "SUCCESS"
    assert int(w.events[0]["end_time"]) < fault_cleared_ms  # the run ended while every poll failed
    assert any("LakeFormationNotFoundError" in r.getMessage() for r in task_log.records)


def failed_polls(log: pytest.LogCaptureFixture) -> int:
    return sum("poll failed" in r.getMessage() for r in log.records)


def test_poll_cost_when_nothing_changes(emulator: EmulatorServer) -> None:
    """Idle job: one GET per poll; the history is read once (first poll) and after each change."""
    job_id = new_job("watch_cost")

    async def scenario() -> dict[str, int]:
        async with Watcher(_trigger(job_id=job_id), DictAssetStore()):
            # the second poll's GET: the first poll (GET, then its history read) is over
            await polls(emulator, "get_job", 2)
            before = emulator.stats()["by_route"]
            await polls(emulator, "get_job", 20)
            after = emulator.stats()["by_route"]
        return {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in ("get_job", "list_job_history")}

    counts = asyncio.run(scenario())
    assert counts["get_job"] >= 20
    assert counts["list_job_history"] == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "job_id"),
        ({"job_id": "j", "job_type": "METADATA_MIGRATION", "name_pattern": "x"}, "job_id"),
        ({"job_type": "NOPE", "name_pattern": "x"}, "job_type"),
        ({"job_type": "METADATA_MIGRATION"}, "name_pattern"),
        ({"job_id": "j", "statuses": ["RUNNING"]}, "statuses"),
        ({"job_id": "j", "statuses": ["DONE"]}, "statuses"),
        ({"job_id": "j", "statuses": []}, "statuses"),
        ({"job_id": "j", "poll_interval": 0}, "poll_interval"),
        ({"job_id": "j", "history_limit": 101}, "history_limit"),
        ({"job_id": "j", "handoff_seconds": -1}, "handoff_seconds"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(LakeFormationSpecError, match=field):
        LakeFormationJobRunTrigger(**kwargs)


def test_kwargs_are_plain_json_and_stable() -> None:
    trigger = LakeFormationJobRunTrigger(
        job_type="metadata_discovery", name_pattern=" ext_* ", poll_interval=30
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_lakeformation.triggers.job_runs.LakeFormationJobRunTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["job_type"] == "METADATA_DISCOVERY"
    assert kwargs["name_pattern"] == "ext_*"
    assert kwargs["statuses"] == ["SUCCESS"]
    again = roundtrip_trigger(trigger)
    assert again.serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*again.serialize())


def test_event_log_line_escapes_server_text(task_log: pytest.LogCaptureFixture) -> None:
    """The watcher's "run finished" line shows the server's id, status and start time escaped and
    capped (a forged log line or ANSI codes in them stay on one inert line)."""
    from airflow_provider_lakeformation.models.jobs import Job

    class _Api:
        def job_console_url(self, job_id: str) -> str:
            return f"https://console.example/{job_id}"

    forged = "1700000000000\r\n[2026-12-06] INFO - Marking task as SUCCESS\x1b[31m" + "x" * 5000
    job = Job.model_validate(
        {"id": "job\x1b[2Jid", "name": "n", "type": "METADATA_DISCOVERY", "status": "SUCCESS"}
    )
    run = Job.model_validate({"id": "job\x1b[2Jid", "status": "SUCCESS", "start_time": forged})
    trigger = LakeFormationJobRunTrigger(job_id="job_1")
    trigger._payload(_Api(), job, run)  # type: ignore[arg-type]
    lines = [r.getMessage() for r in task_log.records if "run of job" in r.getMessage()]
    assert len(lines) == 1, lines
    for control in ("\x1b", "\r", "\n"):
        assert control not in lines[0]
    assert len(lines[0]) < 1000
    assert "more characters not shown" in lines[0]
