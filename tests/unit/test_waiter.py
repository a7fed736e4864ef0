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
