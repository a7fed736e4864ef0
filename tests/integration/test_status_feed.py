"""The job triggers' shared status feed against the emulator over real HTTP (issue #27): one feed per
identity in a loop, the same events as polling alone, the list/single-read split, failure isolation
between identities and lists, subscribers that leave, the switch that turns it off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.hooks._sessions import open_sessions
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from airflow_provider_lakeformation.triggers.status_feed import feed_stats
from tests.integration.test_job_run_trigger import until
from tests.integration.test_operators_support import CONN_ID, first_event, lf_conn, outcome, roundtrip_trigger
from tests.reliability.specs import SPEC_BUILDERS, with_outcome

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn"]

TYPES = ("METADATA_MIGRATION", "PERMISSION_MIGRATION", "METADATA_DISCOVERY")
POLL = 0.1


def _jobs(
    prefix: str, markers: Iterable[str], conn_id: str = CONN_ID, types: tuple[str, ...] = TYPES
) -> list[str]:
    """Create and start one job per marker, the types in turn; return their ids."""
    hook = LakeFormationHook(conn_id)
    ids = []
    for i, marker in enumerate(markers):
        job_type = types[i % len(types)]
        spec = with_outcome(SPEC_BUILDERS[job_type](f"{prefix}_{i}"), marker)
        job_id = hook.create_job(spec).id
        hook.start_job(job_id)
        ids.append(job_id)
    return ids


def _trigger(job_id: str, **kwargs: Any) -> LakeFormationJobTrigger:
    kwargs.setdefault("poll_interval", POLL)
    trigger = roundtrip_trigger(LakeFormationJobTrigger(job_id=job_id, **kwargs))
    assert isinstance(trigger, LakeFormationJobTrigger)
    return trigger


async def _events(triggers: list[LakeFormationJobTrigger], timeout: float = 60.0) -> list[dict[str, Any]]:
    events = await asyncio.gather(*(first_event(t, timeout) for t in triggers))
    return [e.payload for e in events]


def _routes(emulator: EmulatorServer) -> dict[str, int]:
    return {k: int(v) for k, v in emulator.stats()["by_route"].items()}


def _shape(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "job_id": "-", "message": payload["message"].replace(payload["job_id"], "-")}


OUTCOMES = ["SUCCESS", "FAILED", "PARTIAL_SUCCESS", "SUCCESS", "SUCCESS", "FAILED"]


async def test_one_feed_serves_every_trigger_of_an_instance_with_few_requests(
    emulator: EmulatorServer,
) -> None:
    ids = _jobs("feed_many", [outcome(o, duration=1.5) for o in OUTCOMES * 2])
    before, stats0 = _routes(emulator), feed_stats()
    events = await _events([_trigger(job_id) for job_id in ids])
    after, stats1 = _routes(emulator), feed_stats()
    assert [e["job_status"] for e in events] == OUTCOMES * 2
    assert [e["job_id"] for e in events] == ids
    gets = after.get("get_job", 0) - before.get("get_job", 0)
    lists = after.get("list_jobs", 0) - before.get("list_jobs", 0)
    # polling alone: about 15 reads per trigger (1.5 s at 0.1 s); the feed: a first read and the
    # read that confirms the end per job, the rest from list pages (one per type and status a round)
    assert gets <= 2 * len(ids) + 6, (gets, lists)
    assert lists >= 3
    assert stats1["list_requests"] - stats0["list_requests"] == lists
    assert stats1["single_reads"] - stats0["single_reads"] == gets
    assert stats1["served"] - stats0["served"] > len(ids) * 5  # statuses handed over from the pages
    assert stats1["feeds"] == stats1["subscribers"] == 0  # the last subscriber closed it
    assert open_sessions() == 0


async def test_same_events_as_polling_alone(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    markers = [outcome(o, duration=0.6) for o in ("SUCCESS", "FAILED", "PARTIAL_SUCCESS")]
    fed = await _events([_trigger(job_id) for job_id in _jobs("feed_same", markers)])
    monkeypatch.setenv("AIRFLOW__LAKEFORMATION__STATUS_FEED", "false")
    before, stats0 = _routes(emulator), feed_stats()
    alone = await _events([_trigger(job_id) for job_id in _jobs("alone_same", markers)])
    assert [_shape(e) for e in fed] == [_shape(e) for e in alone]
    assert feed_stats()["single_reads"] == stats0["single_reads"]  # the switch: no feed at all
    assert _routes(emulator).get("list_jobs", 0) == before.get("list_jobs", 0)


async def test_terminal_status_is_confirmed_by_a_read_of_the_job(emulator: EmulatorServer) -> None:
    """A job that leaves the RUNNING list is read alone: the event carries the job's own status."""
    (job_id,) = _jobs("feed_confirm", [outcome("FAILED", duration=0.5)])
    event = (await _events([_trigger(job_id)]))[0]
    assert event["status"] == "error"
    assert event["job_status"] == "FAILED"
    assert event["message"] == f"LakeFormation job {job_id} failed: FAILED"


async def test_identities_are_isolated(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, emulator_connection: Any
) -> None:
    """Credentials the service refuses fail only the triggers of that connection."""
    conn = emulator.connection("aksk")
    conn["password"] = "not-the-secret-key"
    conn["extra"].update(max_retries=0)
    monkeypatch.setenv("AIRFLOW_CONN_LF_REFUSED", json.dumps(conn))
    good = _jobs("feed_iso_good", [outcome("SUCCESS", duration=0.8)] * 3)
    triggers = [_trigger(job_id) for job_id in good]
    triggers += [_trigger(job_id, lakeformation_conn_id="lf_refused") for job_id in good]
    events = await _events(triggers)
    assert [e["status"] for e in events[:3]] == ["success"] * 3
    assert [e["status"] for e in events[3:]] == ["error"] * 3
    assert all("status: 401" in e["message"] or "status: 403" in e["message"] for e in events[3:])


async def test_a_broken_list_falls_back_to_single_reads(emulator: EmulatorServer) -> None:
    """A list the service refuses (400: not transient) never fails a trigger: its jobs are read alone."""
    ids = _jobs("feed_broken_list", [outcome("SUCCESS", duration=1.0)] * 3)
    emulator.inject_fault(400, count=1000, route="list_jobs")
    try:
        events = await _events([_trigger(job_id) for job_id in ids])
    finally:
        emulator.clear_faults()
    assert [e["status"] for e in events] == ["success"] * 3


async def test_transient_list_failures_count_against_each_trigger(emulator: EmulatorServer) -> None:
    """5xx on every list: each trigger counts a transient error per round, as if its own read failed."""
    ids = _jobs("feed_5xx_list", [outcome("SUCCESS", duration=20)] * 2)
    emulator.inject_fault(503, count=1000, route="list_jobs")
    try:
        events = await _events([_trigger(job_id, max_transient_errors=2) for job_id in ids])
    finally:
        emulator.clear_faults()
    for event in events:
        assert event["status"] == "error"
        assert "gave up after 3 consecutive transient errors" in event["message"]
        assert "status: 503" in event["message"]
    for job_id in ids:
        LakeFormationHook(CONN_ID).stop_job(job_id)


async def test_a_subscriber_that_leaves_does_not_disturb_the_others(emulator: EmulatorServer) -> None:
    stay, leave = _jobs("feed_leave", [outcome("SUCCESS", duration=1.0), outcome("SUCCESS", duration=30)])
    staying = asyncio.ensure_future(first_event(_trigger(stay)))
    leaving = asyncio.ensure_future(first_event(_trigger(leave)))
    await asyncio.sleep(0.4)
    assert feed_stats()["subscribers"] == 2
    leaving.cancel()
    await asyncio.gather(leaving, return_exceptions=True)
    assert feed_stats()["subscribers"] == 1
    assert (await staying).payload["status"] == "success"
    assert feed_stats()["feeds"] == 0
    LakeFormationHook(CONN_ID).stop_job(leave)


async def test_longer_intervals_are_served_less_often(emulator: EmulatorServer) -> None:
    fast, slow = _jobs("feed_buckets", [outcome("SUCCESS", duration=2.0)] * 2)
    stats0 = feed_stats()
    events = await _events([_trigger(fast, poll_interval=0.1), _trigger(slow, poll_interval=1.0)])
    assert [e["status"] for e in events] == ["success", "success"]
    rounds = feed_stats()["rounds"] - stats0["rounds"]
    assert rounds >= 15  # the 0.1 s subscriber set the pace; the 1 s one was served about every 10th


async def test_jobs_ending_together_are_ended_from_the_terminal_lists(emulator: EmulatorServer) -> None:
    """40 jobs stopped at once: their ends come from the terminal lists (the same run, an end time),
    not from 40 reads of single jobs; every event is the one polling alone would give."""
    hook = LakeFormationHook(CONN_ID)
    ids = _jobs("feed_together", [outcome("SUCCESS", duration=60)] * 40, types=TYPES[:1])
    triggers = [_trigger(job_id, poll_interval=1.0) for job_id in ids]
    waiting = asyncio.ensure_future(_events(triggers))
    await until(lambda: feed_stats()["subscribers"] == len(ids))
    await asyncio.sleep(1.5)  # every trigger has its first read and one round behind it
    before = _routes(emulator)
    await asyncio.gather(*(asyncio.to_thread(hook.stop_job, job_id) for job_id in ids))
    events = await waiting
    gets = _routes(emulator).get("get_job", 0) - before.get("get_job", 0)
    assert {(e["status"], e["job_status"]) for e in events} == {("error", "STOPPED")}
    assert gets < len(ids) / 2, gets  # most of the 40 ends came from the lists
