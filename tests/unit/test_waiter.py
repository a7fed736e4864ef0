"""The poll loop's pauses: the poll interval, or a server's ``Retry-After`` when a tolerated
transient error carried one, never past the wait's time left."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationRetryableError
from airflow_provider_lakeformation.models.status import TERMINAL_STATUSES, JobStatus
from airflow_provider_lakeformation.waiter import MAX_SERVER_PAUSE, JobPoll, wait


def _busy(retry_after: float | None) -> LakeFormationRetryableError:
    return LakeFormationRetryableError("busy", status_code=503, retry_after=retry_after)


def _run(replies: list[object], time_left: float | None) -> list[float]:
    """Run ``wait`` over scripted replies (a status or an error to raise); return its sleeps."""
    poll = JobPoll("job-1", logging.getLogger("test"), frozenset(TERMINAL_STATUSES), frozenset(), 10)
    sleeps: list[float] = []

    def read(job_id: str) -> JobStatus:
        assert job_id == "job-1"
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        assert isinstance(reply, JobStatus)
        return reply

    left = [time_left]

    def remaining() -> float | None:
        return left[0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if left[0] is not None:
            left[0] -= seconds

    wait(poll, read, delay=lambda: 1.0, remaining=remaining, sleep=sleep)
    return sleeps


def test_retry_after_of_a_tolerated_error_sets_the_next_pause() -> None:
    sleeps = _run([_busy(7.0), JobStatus("RUNNING"), JobStatus("SUCCESS")], None)
    assert sleeps == [7.0, 1.0]


def test_no_retry_after_keeps_the_poll_interval() -> None:
    assert _run([_busy(None), JobStatus("SUCCESS")], None) == [1.0]


def test_retry_after_is_cut_to_the_time_left() -> None:
    sleeps = _run([_busy(30.0), JobStatus("RUNNING")], 4.0)
    assert sleeps == [4.0]


@pytest.mark.parametrize("asked", [MAX_SERVER_PAUSE * 10, float("inf")])
def test_retry_after_is_capped(asked: float) -> None:
    assert _run([_busy(asked), JobStatus("SUCCESS")], None) == [MAX_SERVER_PAUSE]


class _FedWatch:
    """A watch fed by a shared stream: fails on the items named in ``fail``, returns the others."""

    handoff_seconds = 0.0

    def __init__(self, fail: set[int]) -> None:
        self.fail, self.seen, self.commits = fail, [], 0

    async def poll(self, fed: object = None) -> list[object]:
        self.seen.append(fed)
        if fed in self.fail:
            raise LakeFormationRetryableError("refused", retry_after=0.2)
        return [fed]

    async def commit(self) -> None:
        self.commits += 1


def test_async_watch_with_a_feed_polls_per_item_skips_items_while_backing_off_and_ends_with_it() -> None:
    import asyncio

    from airflow_provider_lakeformation.waiter import Backoff, async_watch

    async def feed() -> object:
        for item in range(6):
            if item == 2:
                await asyncio.sleep(0.3)  # past the failure's Retry-After (0.2 s)
            yield item
        raise RuntimeError("the shared poll ended")

    async def scenario() -> tuple[list[object], _FedWatch]:
        watch = _FedWatch(fail={0})
        backoff = Backoff("w", 0.01, logging.getLogger("test"))
        got: list[object] = []

        async def collect() -> None:
            async for item in async_watch(watch, backoff, feed=feed()):  # type: ignore[arg-type]
                got.append(item)

        with pytest.raises(RuntimeError, match="shared poll ended"):
            await collect()
        return got, watch

    got, watch = asyncio.run(scenario())
    assert watch.seen == [0, 2, 3, 4, 5]  # item 1 came within the pause after the failure: skipped
    assert got == [2, 3, 4, 5]
    assert watch.commits == 4
