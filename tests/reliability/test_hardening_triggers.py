"""Hardening of paging, argument rules and the triggers (issues #23 and #24, items 2, 4 and 7).
Every scenario talks HTTP to a real local server (a canned-reply server or the emulator) and
records what it cost: requests per poll or listing, seconds, bytes of state."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationError, LakeFormationResponseError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStopJobOperator
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.integration.test_operators_support import task_log
from tests.integration.watching import DictAssetStore, Watcher
from tests.reliability.recorder import Row
from tests.reliability.servers import CannedServer, Reply

CAT = "triggers"
__all__ = ["task_log"]  # the fixture, imported


def _job(i: int) -> dict[str, Any]:
    return {"id": f"job-{i:05d}", "name": f"n{i}", "type": "METADATA_DISCOVERY", "status": "SUCCESS"}


def _query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


Serve = Callable[..., tuple[CannedServer, str]]


def _repeating(method: str, path: str) -> Reply:
    """The same page of 10 jobs at every offset, with a ``total`` of 1,000,000."""
    return Reply(200, {"total": 1_000_000, "jobs": [_job(i) for i in range(10)]})


def _oversized(method: str, path: str) -> Reply:
    """50,000 jobs whatever ``limit`` asked for."""
    return Reply(200, {"total": 50_000, "jobs": [_job(i) for i in range(50_000)]})


async def _alist(conn_id: str, page_size: int) -> list[str]:
    async with LakeFormationHook(conn_id).async_client() as api:
        return [job.id async for job in api.iter_jobs("METADATA_DISCOVERY", page_size=page_size)]


def _list_jobs(side: str, conn_id: str, page_size: int) -> list[str]:
    """Every job id ``iter_jobs`` of the sync hook or the async client returns."""
    if side == "sync":
        return [
            job.id for job in LakeFormationHook(conn_id).iter_jobs("METADATA_DISCOVERY", page_size=page_size)
        ]
    return asyncio.run(_alist(conn_id, page_size))


@pytest.mark.parametrize("side", ["sync", "async"])
def test_iter_jobs_on_a_repeating_page(canned: Serve, record: Row, side: str) -> None:
    """#24.7: a server that repeats one page and overstates ``total`` (before: 1,001 requests and
    1,001 x 10 duplicate jobs from the sync hook)."""
    server, conn_id = canned(_repeating)
    started = time.monotonic()
    ids = _list_jobs(side, conn_id, 10)
    seconds = time.monotonic() - started
    assert ids == [f"job-{i:05d}" for i in range(10)]
    assert server.requests == 2, "the second page brought nothing new: paging stops there"
    record(
        CAT, f"#24.7 iter_jobs ({side}), server repeats one page, total 1,000,000", "10 jobs once, 2 requests"
    ).count(requests=server.requests, jobs=len(ids), seconds=round(seconds, 3))


@pytest.mark.parametrize("side", ["sync", "async"])
def test_iter_jobs_refuses_a_page_larger_than_asked(canned: Serve, record: Row, side: str) -> None:
    """#24.7: a 50,000-job page when 10 were asked for (before: accepted)."""
    server, conn_id = canned(_oversized)
    with pytest.raises(LakeFormationResponseError, match="page of 50000 jobs when 10 were asked"):
        _list_jobs(side, conn_id, 10)
    assert server.requests == 1
    assert _query(server.seen[0].path)["limit"] == "10"
    record(
        CAT, f"#24.7 iter_jobs ({side}), 50,000-job page when 10 asked", "LakeFormationResponseError"
    ).count(requests=server.requests)


@pytest.mark.parametrize(
    "bad",
    ["..", ".", "a\x00b", "x" * 5000, "\ud800", "a/b", " "],
    ids=["dotdot", "dot", "nul", "5000-chars", "lone-surrogate", "slash", "blank"],
)
def test_get_instance_applies_the_id_rule(canned: Serve, record: Row, bad: str) -> None:
    """#23.2: ``get_instance(id)`` sent ``..``, NUL, 5,000-char ids (and raised a raw
    UnicodeEncodeError on a lone surrogate)."""
    server, conn_id = canned(Reply(200, {"id": "i1"}))
    with pytest.raises(LakeFormationError, match="instance_id") as info:
        LakeFormationHook(conn_id).get_instance(bad)
    assert server.requests == 0
    record(
        CAT, f"#23.2 get_instance({bad[:12]!r}{'...' if len(bad) > 12 else ''})", type(info.value).__name__
    ).count(requests=server.requests)


# ------------------------------------------------------------------ #23.2 / #24.4: argument rules

BAD_INTERVALS = [0, -1, float("nan"), 1e-9]


def _job_trigger(conn_id: str, **kw: Any) -> LakeFormationJobTrigger:
    return LakeFormationJobTrigger(kw.pop("job_id", "job-1"), conn_id, **kw)


def _watcher(conn_id: str, **kw: Any) -> LakeFormationJobRunTrigger:
    return LakeFormationJobRunTrigger(job_id=kw.pop("job_id", "job-1"), lakeformation_conn_id=conn_id, **kw)


CONSTRUCTION_CASES: list[tuple[str, Callable[[str], Any], str]] = [
    *[
        (
            f"job trigger poll_interval={v!r}",
            functools.partial(_job_trigger, poll_interval=v),
            "poll_interval",
        )
        for v in BAD_INTERVALS
    ],
    *[
        (f"watcher poll_interval={v!r}", functools.partial(_watcher, poll_interval=v), "poll_interval")
        for v in BAD_INTERVALS
    ],
    ("job trigger end_time=NaN", functools.partial(_job_trigger, end_time=float("nan")), "end_time"),
    ("job trigger end_time=inf", functools.partial(_job_trigger, end_time=float("inf")), "end_time"),
    ("job trigger job_id='..'", functools.partial(_job_trigger, job_id=".."), "job_id"),
    ("watcher job_id='..'", functools.partial(_watcher, job_id=".."), "job_id"),
    ("watcher job_id with NUL", functools.partial(_watcher, job_id="a\x00b"), "job_id"),
    (
        "job trigger fail_on_partial_success='maybe'",
        functools.partial(_job_trigger, fail_on_partial_success="maybe"),
        "fail_on_partial_success",
    ),
    (
        "job trigger max_transient_errors=-1",
        functools.partial(_job_trigger, max_transient_errors=-1),
        "max_transient_errors",
    ),
    ("watcher statuses='SUCCESS' (a string)", functools.partial(_watcher, statuses="SUCCESS"), "statuses"),
    (
        "watcher handoff_seconds=NaN",
        functools.partial(_watcher, handoff_seconds=float("nan")),
        "handoff_seconds",
    ),
    (
        "watcher history_reads_per_poll=0",
        functools.partial(_watcher, history_reads_per_poll=0),
        "history_reads_per_poll",
    ),
    (
        "sensor poke_interval=0 (deferrable)",
        lambda c: LakeFormationJobSensor(
            task_id="s", job_id="j", poke_interval=0, deferrable=True, lakeformation_conn_id=c
        ),
        "poke_interval",
    ),
    (
        "stop operator timeout=NaN",
        lambda c: LakeFormationStopJobOperator(
            task_id="s", job_id="j", timeout=float("nan"), lakeformation_conn_id=c
        ),
        "timeout",
    ),
    (
        "stop operator max_transient_errors='x'",
        lambda c: LakeFormationStopJobOperator(
            task_id="s", job_id="j", max_transient_errors="x", lakeformation_conn_id=c
        ),
        "max_transient_errors",
    ),
]


@pytest.mark.parametrize(
    ("scenario", "build", "name"), CONSTRUCTION_CASES, ids=[c[0] for c in CONSTRUCTION_CASES]
)
def test_bad_arguments_fail_at_construction(
    canned: Serve, record: Row, scenario: str, build: Callable[[str], Any], name: str
) -> None:
    """#23.2 / #24.4: each bad argument raises a LakeFormationError naming it when the trigger,
    sensor or operator is built (DAG parse), before any request (before: poll_interval 0 / -1 / NaN
    and a deferrable sensor's poke_interval=0 made 3,700-5,400 requests in 3 s; end_time=NaN never
    ended; a watcher's bad job_id was retried forever inside the run loop)."""
    server, conn_id = canned(Reply(200, {"id": "job-1", "status": "RUNNING"}))
    with pytest.raises(LakeFormationError, match=name) as info:
        build(conn_id)
    assert server.requests == 0
    record(CAT, f"#23.2 {scenario}", f"{type(info.value).__name__} naming {name}, at construction").count(
        requests=server.requests
    )


def test_the_default_poll_interval_floor_is_one_second(monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    """#24.4: without the test suite's lowered floor, anything under 1 s is refused everywhere."""
    monkeypatch.delenv("AIRFLOW__LAKEFORMATION__MIN_POLL_INTERVAL", raising=False)
    for build in (_job_trigger, _watcher):
        with pytest.raises(LakeFormationError, match="at least 1 seconds"):
            build("lf", poll_interval=0.5)
        assert build("lf", poll_interval=1).poll_interval == 1.0
    with pytest.raises(LakeFormationError, match="poke_interval"):
        LakeFormationJobSensor(task_id="s", job_id="j", poke_interval=0.5)
    record(CAT, "#24.4 default poll-interval floor", "0.5 s refused, 1 s accepted (triggers, sensor)")


@pytest.mark.parametrize(
    ("word", "expected"), [("false", False), ("FALSE", False), ("no", False), ("true", True), ("", True)]
)
def test_trigger_booleans_have_one_reading(word: str, expected: bool) -> None:
    """#23.2: ``bool("false")`` was True; ``""`` means "not given" (the default) as in connection extras."""
    trigger = _job_trigger("lf", poll_interval=1, cancel_on_kill=word, fail_on_partial_success=word)
    assert trigger.cancel_on_kill is expected
    assert trigger.fail_on_partial_success is expected


# ------------------------------------------------------------------------- #24.2 / #23.1: watcher


class Fleet:
    """A service with ``size`` jobs of one type, every one of which starts (and finishes) a new run
    between two polls; counts the requests of each poll (a poll starts with the list at offset 0)."""

    def __init__(self, size: int, page_cap: int | None = None) -> None:
        self.size = size
        self.page_cap = page_cap  # answer pages of this many jobs whatever was asked
        self.per_poll: list[dict[str, int]] = []

    def _job(self, job_id: str) -> dict[str, Any]:
        run = 1_700_000_000_000 + len(self.per_poll)
        return {
            "id": job_id,
            "name": job_id,
            "type": "METADATA_DISCOVERY",
            "status": "SUCCESS",
            "start_time": run,
        }

    def __call__(self, method: str, path: str) -> Reply:
        route, query = urlsplit(path).path, _query(path)
        if route.endswith("/history"):
            self.per_poll[-1]["history"] += 1
            return Reply(200, {"total": 1, "jobs": [self._job(route.split("/")[-2])]})
        offset, limit = int(query["offset"]), int(query["limit"])
        if offset == 0:
            self.per_poll.append({"list": 0, "history": 0})
        self.per_poll[-1]["list"] += 1
        end = min(offset + (self.page_cap or limit), self.size)
        return Reply(
            200, {"total": self.size, "jobs": [self._job(f"job-{i:05d}") for i in range(offset, end)]}
        )


async def _watch(
    trigger: LakeFormationJobRunTrigger, store: DictAssetStore, until: Callable[[], bool]
) -> float:
    """Run the watcher until ``until()`` holds (at most 60 s); return the seconds it ran."""
    started = time.monotonic()
    async with Watcher(trigger, store):
        while not until():
            assert time.monotonic() - started < 60, "the watcher did not get there in 60 s"
            await asyncio.sleep(0.05)
    return time.monotonic() - started


def test_watcher_poll_cost_is_bounded(canned: Serve, record: Row) -> None:
    """#24.2: a poll costs at most 11 list requests (the API pages to offset 1000, 100 a page) and
    ``history_reads_per_poll`` (10) history reads, whatever changed; its state stays one mark per job
    (before: one history read per changed job: 1,100 here, 20,000 over a 20,000-job page)."""
    fleet = Fleet(20_000)
    _server, conn_id = canned(fleet)
    store = DictAssetStore()
    trigger = LakeFormationJobRunTrigger(
        job_type="METADATA_DISCOVERY",
        name_pattern="job-*",
        lakeformation_conn_id=conn_id,
        poll_interval=0.1,
        handoff_seconds=0,
    )
    seconds = asyncio.run(_watch(trigger, store, lambda: len(fleet.per_poll) >= 5))
    polls = fleet.per_poll[:4]
    assert polls[0] == {"list": 11, "history": 0}, "the baseline reads no history"
    assert all(p["list"] == 11 and p["history"] == 10 for p in polls[1:]), polls
    state = json.dumps(store.data[trigger.state_key])
    assert len(state) < 100_000
    record(
        CAT, "#24.2 watcher, 20,000 jobs listed, every job changed every poll", "<= 11 + 10 requests a poll"
    ).count(
        requests_per_poll=max(p["list"] + p["history"] for p in polls),
        state_bytes=len(state),
        seconds=round(seconds, 2),
    )


def test_watcher_refuses_an_oversized_page_and_backs_off(
    canned: Serve, record: Row, task_log: pytest.LogCaptureFixture
) -> None:
    """#24.2 / #23.1: the 20,000-job page when 100 were asked is refused; the failing poll is logged
    (WARNING, then ERROR after 3 in a row) and backed off (2x per failure, up to 10x the interval);
    no state is written and no event is fired."""
    fleet = Fleet(20_000, page_cap=20_000)
    server, conn_id = canned(fleet)
    store = DictAssetStore()
    trigger = LakeFormationJobRunTrigger(
        job_type="METADATA_DISCOVERY", name_pattern="job-*", lakeformation_conn_id=conn_id, poll_interval=0.1
    )
    seconds = asyncio.run(_watch(trigger, store, lambda: trigger.backoff.failures >= 5))
    assert fleet.per_poll[0] == {"list": 1, "history": 0}
    assert store.data == {}
    failed = [r for r in task_log.records if "poll failed" in r.getMessage()]
    assert [r.levelname for r in failed[:5]] == ["WARNING"] * 3 + ["ERROR"] * 2
    assert "page of 20000 jobs when 100 were asked" in failed[0].getMessage()
    assert trigger.backoff.last_error is not None
    assert "LakeFormationResponseError" in trigger.backoff.last_error
    assert seconds > 0.2 + 0.4 + 0.8 + 1.0 * 0.9, "backed off, not polled at the interval"
    record(
        CAT, "#24.2 watcher, a 20,000-job page when 100 asked", "refused; WARNING x3 then ERROR; backed off"
    ).count(requests=server.requests, seconds=round(seconds, 2), state_bytes=0)


def test_watcher_honours_retry_after(canned: Serve, record: Row) -> None:
    """#23.1: a 429 with ``Retry-After: 1.5`` (the hook's own retries off) spaces the polls 1.5 s apart
    although the interval is 0.1 s (before: ignored, polled after 0.2, 0.4, 0.8, 1 s...)."""
    server, conn_id = canned(
        Reply(429, {"error_code": "APIG.0308"}, headers={"Retry-After": "1.5"}), max_retries=0
    )
    trigger = LakeFormationJobRunTrigger(job_id="job-1", lakeformation_conn_id=conn_id, poll_interval=0.1)
    started = time.monotonic()
    asyncio.run(_watch(trigger, DictAssetStore(), lambda: time.monotonic() - started > 3.2))
    assert 2 <= server.requests <= 3
    record(
        CAT, "#23.1 watcher, every reply 429 with Retry-After 1.5 s, interval 0.1 s", "polls 1.5 s apart"
    ).count(requests=server.requests, seconds=3.2)
