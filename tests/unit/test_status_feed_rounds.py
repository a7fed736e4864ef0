"""The status feed's round logic with an in-process client (what a list cannot reach, what it never
claims): the HTTP side is covered against the emulator in tests/integration/test_status_feed.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationRetryableError
from airflow_provider_lakeformation.models import JobState, JobStatus
from airflow_provider_lakeformation.triggers.status_feed import StatusFeed


class FakeClient:
    """Jobs by id; the lists reach only ``reach`` jobs per (type, status), as the API's offset limit."""

    def __init__(self, jobs: dict[str, str], reach: int) -> None:
        self.jobs = jobs
        self.reach = reach
        self.starts: dict[str, int] = dict.fromkeys(jobs, 1000)
        self.ends: dict[str, int] = {}
        self.lists: list[tuple[str, str]] = []
        self.reads: list[str] = []
        self.list_error: Exception | None = None

    async def reachable_job_states(self, job_type: str, status: JobStatus) -> tuple[list[JobState], int]:
        self.lists.append((job_type, status.value))
        if self.list_error is not None:
            raise self.list_error
        matching = [j for j, s in sorted(self.jobs.items()) if s == status.value][: self.reach]
        return [self._state(j) for j in matching], 1

    def _state(self, job_id: str) -> JobState:
        return JobState(
            id=job_id,
            type="METADATA_MIGRATION",
            status=self.jobs[job_id],
            start_time=self.starts[job_id],
            end_time=self.ends.get(job_id),
        )

    async def get_job_state(self, job_id: str) -> JobState:
        self.reads.append(job_id)
        return self._state(job_id)

    async def aclose(self) -> None:
        pass


async def _round(feed: StatusFeed) -> None:
    feed._next_at = 0.0  # due now
    feed.pause()
    feed._next_at = 1.0  # in the past for time.monotonic()
    await feed.serve()


def _feed(client: FakeClient) -> StatusFeed:
    """A feed whose rounds the test runs itself (no background task)."""
    feed = StatusFeed("key", client)  # type: ignore[arg-type]
    feed._task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    return feed


async def _first_reads(feed: StatusFeed, ids: list[str], interval: float = 0.0) -> list[Any]:
    subs = [feed.join(job_id, interval) for job_id in ids]
    for sub in subs:
        await sub.next_status(sub.job_id)
    return subs


async def test_jobs_beyond_the_lists_reach_are_read_alone() -> None:
    client = FakeClient({f"j{i}": "RUNNING" for i in range(5)}, reach=2)
    feed = _feed(client)
    subs = await _first_reads(feed, list(client.jobs))
    client.reads.clear()
    waits = [asyncio.ensure_future(sub.next_status(sub.job_id)) for sub in subs]
    await asyncio.sleep(0)
    await _round(feed)
    assert [w.result() for w in waits] == [JobStatus.RUNNING] * 5
    assert client.lists == [("METADATA_MIGRATION", "RUNNING")]
    assert sorted(client.reads) == ["j2", "j3", "j4"]  # the two in the list were not read
    for sub in subs:
        feed.leave(sub)


async def test_a_terminal_status_comes_only_from_a_read_of_the_job() -> None:
    client = FakeClient({"a": "SUBMITTED", "b": "RUNNING"}, reach=1000)
    feed = _feed(client)
    subs = await _first_reads(feed, ["a", "b"])
    client.jobs.update(a="RUNNING", b="SUCCESS")
    client.reads.clear()
    waits = [asyncio.ensure_future(sub.next_status(sub.job_id)) for sub in subs]
    await asyncio.sleep(0)
    await _round(feed)
    assert [w.result() for w in waits] == [JobStatus.RUNNING, JobStatus.SUCCESS]
    # a (SUBMITTED) was found in the RUNNING list; b left the RUNNING list and was read
    assert set(client.lists) == {("METADATA_MIGRATION", "SUBMITTED"), ("METADATA_MIGRATION", "RUNNING")}
    assert client.reads == ["b"]
    for sub in subs:
        feed.leave(sub)


async def test_a_transient_list_failure_is_each_subscribers_own_error() -> None:
    client = FakeClient({"a": "RUNNING", "b": "RUNNING"}, reach=1000)
    feed = _feed(client)
    subs = await _first_reads(feed, ["a", "b"])
    client.list_error = LakeFormationRetryableError("LakeFormation", status_code=503, retry_after=3)
    waits = [asyncio.ensure_future(sub.next_status(sub.job_id)) for sub in subs]
    await asyncio.sleep(0)
    await _round(feed)
    errors = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(e, LakeFormationRetryableError) for e in errors)
    assert errors[0] is not errors[1]  # each raises its own copy
    assert feed.pause() >= 2.5  # the server's Retry-After holds the next round
    for sub in subs:
        feed.leave(sub)


@pytest.mark.parametrize(("interval", "served"), [(0.1, 10), (0.25, 5), (1.0, 1)])
def test_a_subscriber_is_served_on_the_rounds_nearest_its_interval(interval: float, served: int) -> None:
    """A 0.1 s feed: a 0.1 s subscriber every round, 0.25 s about every 2-3rd, 1 s every 10th."""

    class Sub:
        served_at = 0.0

        def __init__(self) -> None:
            self.interval = interval

    from airflow_provider_lakeformation.triggers.status_feed import Subscription

    sub: Any = Sub()
    count = 0
    for i in range(1, 11):
        now = i * 0.1
        if Subscription.due(sub, now, 0.1):
            sub.served_at = now
            count += 1
    assert count == served


async def test_many_finished_jobs_are_ended_from_the_terminal_lists_when_the_run_matches() -> None:
    """20 jobs end in one round: the terminal lists end the waits of those that show the run each
    subscriber saw (same start_time, an end_time); a job restarted since (another start_time) and
    one without an end_time are read alone."""
    ids = [f"j{i:02d}" for i in range(20)]
    client = FakeClient(dict.fromkeys(ids, "RUNNING"), reach=1000)
    feed = _feed(client)
    subs = await _first_reads(feed, ids)
    for job_id in ids:
        client.jobs[job_id] = "SUCCESS"
        client.ends[job_id] = 2000
    client.starts["j00"] = 1500  # restarted and ended again: not the run its subscriber saw
    del client.ends["j01"]  # no end time: not the exact record of an ended run
    client.reads.clear()
    waits = [asyncio.ensure_future(sub.next_status(sub.job_id)) for sub in subs]
    await asyncio.sleep(0)
    await _round(feed)
    assert [w.result() for w in waits] == [JobStatus.SUCCESS] * 20
    assert sorted(client.reads) == ["j00", "j01"]
    terminal = {s for t, s in client.lists if s not in ("RUNNING",)}
    assert terminal == {"SUCCESS", "FAILED", "STOPPED", "PARTIAL_SUCCESS"}
    for sub in subs:
        feed.leave(sub)


async def test_a_few_finished_jobs_are_read_alone() -> None:
    ids = ["a", "b"]
    client = FakeClient(dict.fromkeys(ids, "RUNNING"), reach=1000)
    feed = _feed(client)
    subs = await _first_reads(feed, ids)
    client.jobs.update(a="FAILED", b="FAILED")
    client.ends.update(a=2000, b=2000)
    client.reads.clear()
    waits = [asyncio.ensure_future(sub.next_status(sub.job_id)) for sub in subs]
    await asyncio.sleep(0)
    await _round(feed)
    assert [w.result() for w in waits] == [JobStatus.FAILED] * 2
    assert client.lists == [("METADATA_MIGRATION", "RUNNING")]  # no terminal list for two jobs
    assert sorted(client.reads) == ids
    for sub in subs:
        feed.leave(sub)
