"""The one transient-error-tolerant poll loop, in a sync and an async form (like the Amazon
provider's waiter ``wait`` / ``async_wait``): the operators' wait, the sensor and the trigger use it.

A :class:`JobPoll` holds the state of one wait (status transitions, consecutive transient errors,
success/failure sets); :func:`poll_once` / :func:`apoll_once` read the status once through it (the
sensor pokes with it), and :func:`wait` / :func:`async_wait` repeat that until the status is decided
or the time is up. No I/O of its own: the caller passes how to read the status and how to sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from airflow_provider_lakeformation.exceptions import LakeFormationDeadlineError
from airflow_provider_lakeformation.hooks.base import call_deadline
from airflow_provider_lakeformation.models.status import (
    TRANSIENT_ERRORS,
    JobStatus,
    Outcome,
    StatusLog,
    StatusTransitionLogger,
    job_outcome,
)

MAX_SERVER_PAUSE = 600.0
"""The longest pause between two polls that a server's ``Retry-After`` can ask for."""


class JobPoll:
    """The state of one wait on a job.

    :param job_id: the job being watched (for log lines).
    :param log: where status changes and tolerated transient errors are logged.
    :param success_states: statuses that end the wait with success.
    :param failure_states: statuses that end the wait with failure.
    :param max_transient_errors: consecutive transient errors tolerated; one more is raised.
    :param initial: a status the caller has just read (not logged again).
    """

    def __init__(
        self,
        job_id: str,
        log: StatusLog,
        success_states: frozenset[JobStatus],
        failure_states: frozenset[JobStatus],
        max_transient_errors: int,
        *,
        initial: JobStatus | None = None,
    ) -> None:
        self.job_id = job_id
        self.log = log
        self.success_states = success_states
        self.failure_states = failure_states
        self.max_transient_errors = max_transient_errors
        self.transient = 0
        self.tracker = StatusTransitionLogger(job_id, log, initial=initial)
        self.unknown_seen: set[str] = set()
        self.server_pause = 0.0

    @property
    def last(self) -> JobStatus | None:
        """The last status read (or the initial one)."""
        return self.tracker.last

    @property
    def gave_up(self) -> bool:
        """True once more than ``max_transient_errors`` transient errors came in a row."""
        return self.transient > self.max_transient_errors

    def judge(self, status: JobStatus) -> Outcome | None:
        """Record a status read: reset the transient count, log a change, return its outcome.

        A status value the client does not know (kept as its raw text) is not terminal: the wait goes
        on, and a warning names it once per job and value.
        """
        self.transient = 0
        self.server_pause = 0.0
        self.tracker.observe(status)
        if not status.is_known and status.value not in self.unknown_seen:
            self.unknown_seen.add(status.value)
            self.log.warning(
                "LakeFormation job %s reports status %r, which this client does not know: "
                "treating it as not finished and waiting on",
                self.job_id,
                status.value,
            )
        return job_outcome(status, self.success_states, self.failure_states)

    def tolerate(self, err: Exception) -> None:
        """Count a transient error and log it; raise it once the budget is spent. A ``Retry-After``
        the error carried sets the least pause before the next read (``server_pause``, at most
        :data:`MAX_SERVER_PAUSE`): the hook may have given up on it to keep the wait's deadline,
        but the next poll still honours it instead of coming back at the poll interval.

        :raises Exception: ``err`` itself, after ``max_transient_errors`` in a row.
        """
        self.transient += 1
        retry_after = getattr(err, "retry_after", None)
        self.server_pause = min(float(retry_after), MAX_SERVER_PAUSE) if retry_after else 0.0
        if self.gave_up:
            raise err
        self.log.warning(
            "LakeFormation job %s: transient error %d/%d while polling, will retry: %s",
            self.job_id,
            self.transient,
            self.max_transient_errors,
            err,
        )


def poll_once(
    poll: JobPoll, read_status: Callable[[], JobStatus], seconds_left: float | None = None
) -> Outcome | None:
    """Read the status once; ``None`` while undecided (a tolerated transient error included).

    :param poll: the wait's state.
    :param read_status: reads the job's status (e.g. ``hook.get_job_status``).
    :param seconds_left: the wait's time left: the read (its retries and ``Retry-After`` waits
        included) ends by then (``None``: no limit).
    :return: ``"success"``, ``"error"`` or ``None``; the status read is ``poll.last``.
    :raises Exception: a non-transient error, or a transient one past the budget.
    """
    try:
        with call_deadline(seconds_left):
            status = read_status()
    except LakeFormationDeadlineError:
        return None  # the wait's time is up: the caller reports its timeout
    except TRANSIENT_ERRORS as err:
        poll.tolerate(err)
        return None
    return poll.judge(status)


async def apoll_once(
    poll: JobPoll, read_status: Callable[[], Awaitable[JobStatus]], seconds_left: float | None = None
) -> Outcome | None:
    """:func:`poll_once` with an async ``read_status``."""
    try:
        with call_deadline(seconds_left):
            status = await read_status()
    except LakeFormationDeadlineError:
        return None
    except TRANSIENT_ERRORS as err:
        poll.tolerate(err)
        return None
    return poll.judge(status)


def _pause(poll: JobPoll, delay: Callable[[], float], remaining: Callable[[], float | None]) -> float | None:
    """Seconds to sleep before the next read (the poll interval, or longer when the server asked
    for it), or ``None`` when the time is up."""
    left = remaining()
    if left is not None and left <= 0:
        return None
    want = max(delay(), poll.server_pause)
    return max(0.0, want if left is None else min(want, left))


def wait(
    poll: JobPoll,
    read_status: Callable[[], JobStatus],
    *,
    delay: Callable[[], float],
    remaining: Callable[[], float | None],
    read_first: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome | None:
    """Poll until the status is decided or ``remaining()`` reaches 0.

    :param poll: the wait's state (``poll.last`` is the last status read).
    :param read_status: reads the job's status.
    :param delay: seconds between reads (called before each sleep, so it may add jitter).
    :param remaining: seconds left, or ``None`` for no limit.
    :param read_first: ``False`` when the caller has just read the status: sleep first.
    :param sleep: how to sleep.
    :return: the outcome, or ``None`` when the time ran out.
    :raises Exception: a non-transient error, or a transient one past the budget.
    """
    if not read_first:
        pause = _pause(poll, delay, remaining)
        sleep(pause or 0.0)
    while True:
        outcome = poll_once(poll, read_status, remaining())
        if outcome is not None:
            return outcome
        pause = _pause(poll, delay, remaining)
        if pause is None:
            return None
        sleep(pause)


async def async_wait(
    poll: JobPoll,
    read_status: Callable[[], Awaitable[JobStatus]],
    *,
    delay: Callable[[], float],
    remaining: Callable[[], float | None],
) -> Outcome | None:
    """:func:`wait` with an async ``read_status``, sleeping with ``asyncio.sleep``."""
    while True:
        outcome = await apoll_once(poll, read_status, remaining())
        if outcome is not None:
            return outcome
        pause = _pause(poll, delay, remaining)
        if pause is None:
            return None
        await asyncio.sleep(pause)
