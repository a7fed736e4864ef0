"""The poll loops, and the only place of the package that sleeps between polls (besides the
hook's retries in ``hooks/_retry.py``).

* The transient-error-tolerant status wait, in a sync and an async form (like the Amazon provider's
  waiter ``wait`` / ``async_wait``): the operators' wait, the sensor and the job trigger use it. A
  :class:`JobPoll` holds the state of one wait (status transitions, consecutive transient errors,
  success/failure sets); :func:`poll_once` / :func:`apoll_once` read the status once through it (the
  sensor pokes with it), and :func:`wait` / :func:`async_wait` repeat that until the status is
  decided or the time is up; :func:`async_follow` is the same wait over a shared status feed that
  paces the reads itself (the job trigger's default).
* The never-ending watch of the asset watcher (:func:`async_watch`): poll, hand the items over,
  commit, pause by :class:`Backoff` (the poll interval with jitter; after failures longer, and never
  shorter than a server's ``Retry-After``).

Both take the status reader by name (``hook.get_job_status``, called with the job id), so the path
of a status reads straight: the hook's ``get_job_status`` -> :meth:`JobPoll.judge` -> the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

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
JITTER = 0.1
"""Each pause between polls is the interval +-10 %, so waits started together spread their polls."""
MAX_BACKOFF_FACTOR = 10
"""The longest pause of a failing watch, in multiples of its poll interval."""
QUIET_FAILURES = 3
"""Consecutive failed polls of a watch logged at WARNING; from the next one on, at ERROR."""

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


def jittered(seconds: float) -> float:
    """``seconds`` +-:data:`JITTER` (a fleet restarted together does not keep polling in lockstep).

    :param seconds: the poll interval.
    :return: the pause.
    """
    return seconds * (1.0 - JITTER + 2 * JITTER * random.random())


def server_pause(err: BaseException) -> float:
    """The pause a server asked for with ``Retry-After`` on ``err`` (at most
    :data:`MAX_SERVER_PAUSE`), else 0.

    :param err: the error of a failed read.
    :return: seconds.
    """
    retry_after = getattr(err, "retry_after", None)
    return min(float(retry_after), MAX_SERVER_PAUSE) if retry_after else 0.0


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
        self.server_pause = server_pause(err)
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
    poll: JobPoll, read_status: Callable[[str], JobStatus], seconds_left: float | None = None
) -> Outcome | None:
    """Read the status once; ``None`` while undecided (a tolerated transient error included).

    :param poll: the wait's state.
    :param read_status: reads the status of the job ``poll.job_id`` (``hook.get_job_status``).
    :param seconds_left: the wait's time left: the read (its retries and ``Retry-After`` waits
        included) ends by then (``None``: no limit).
    :return: ``"success"``, ``"error"`` or ``None``; the status read is ``poll.last``.
    :raises Exception: a non-transient error, or a transient one past the budget.
    """
    try:
        with call_deadline(seconds_left):
            status = read_status(poll.job_id)
    except LakeFormationDeadlineError:
        return None  # the wait's time is up: the caller reports its timeout
    except TRANSIENT_ERRORS as err:
        poll.tolerate(err)
        return None
    return poll.judge(status)


async def apoll_once(
    poll: JobPoll, read_status: Callable[[str], Awaitable[JobStatus]], seconds_left: float | None = None
) -> Outcome | None:
    """:func:`poll_once` with an async ``read_status``."""
    try:
        with call_deadline(seconds_left):
            status = await read_status(poll.job_id)
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
    read_status: Callable[[str], JobStatus],
    *,
    delay: Callable[[], float],
    remaining: Callable[[], float | None],
    read_first: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome | None:
    """Poll until the status is decided or ``remaining()`` reaches 0.

    :param poll: the wait's state (``poll.last`` is the last status read).
    :param read_status: reads the status of the job ``poll.job_id`` (``hook.get_job_status``).
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
    read_status: Callable[[str], Awaitable[JobStatus]],
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


async def async_follow(
    poll: JobPoll,
    next_status: Callable[[str], Awaitable[JobStatus]],
    *,
    remaining: Callable[[], float | None],
) -> Outcome | None:
    """:func:`async_wait` over a status feed (:mod:`~airflow_provider_lakeformation.triggers.
    status_feed`): ``next_status`` itself waits for the feed's next read of the job, so the feed paces
    the reads (its interval, its backoff, a server's ``Retry-After``) and this loop does not sleep.
    Transient errors are counted by ``poll`` exactly as :func:`async_wait` counts them.

    :param poll: the wait's state (``poll.last`` is the last status read).
    :param next_status: the job's next status from the feed (called with ``poll.job_id``).
    :param remaining: seconds left, or ``None`` for no limit.
    :return: the outcome, or ``None`` when the time ran out.
    :raises Exception: a non-transient error, or a transient one past the budget.
    """
    while True:
        left = remaining()
        if left is not None and left <= 0:
            return None
        try:
            status = await asyncio.wait_for(next_status(poll.job_id), left)
        except TRANSIENT_ERRORS as err:
            poll.tolerate(err)
            continue
        except asyncio.TimeoutError:
            return None  # the wait's time is up: the caller reports its timeout
        outcome = poll.judge(status)
        if outcome is not None:
            return outcome


async def hold_until(moment: float | None, most: float) -> float:
    """Sleep until ``moment`` (epoch seconds), for at most ``most`` seconds (a wrong clock never holds
    longer); return the seconds held (0 when ``moment`` is ``None`` or past).

    :param moment: epoch seconds, or ``None``.
    :param most: the longest hold, in seconds.
    :return: seconds held.
    """
    if moment is None:
        return 0.0
    pause = min(moment - time.time(), most)
    if pause <= 0:
        return 0.0
    await asyncio.sleep(pause)
    return pause


class Backoff:
    """The pause before a watch's next poll: the poll interval +-10 % after a good poll; after ``n``
    failed polls in a row ``2**n`` times that (at most :data:`MAX_BACKOFF_FACTOR` times), and never
    shorter than the last failure's ``Retry-After``. Failures are logged at WARNING, and at ERROR
    once more than :data:`QUIET_FAILURES` came in a row (the watch is failing, not flickering).

    :param what: what is watched (for log lines).
    :param interval: the poll interval in seconds (checked by the caller).
    :param log: where failures and the recovery are logged.
    """

    def __init__(self, what: str, interval: float, log: StatusLog) -> None:
        self.what = what
        self.interval = interval
        self.log = log
        self.failures = 0
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self.server_pause = 0.0

    def succeeded(self) -> None:
        """A poll went through: log the recovery (if it was failing) and reset."""
        if self.failures:
            self.log.info(
                "LakeFormation watcher %s: polling recovered after %d failed poll(s)",
                self.what,
                self.failures,
            )
        self.failures, self.failing_since, self.last_error, self.server_pause = 0, None, None, 0.0

    def failed(self, err: Exception) -> None:
        """A poll failed: count it, keep ``Retry-After``, log it with the pause before the next poll.

        :param err: the error.
        """
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_error = f"{type(err).__name__}: {err}"
        self.server_pause = server_pause(err)
        level = self.log.warning if self.failures <= QUIET_FAILURES else self.log.error
        level(
            "LakeFormation watcher %s: poll failed (%d in a row, failing for %.0f s), next poll in "
            "about %.1f s: %s",
            self.what,
            self.failures,
            time.monotonic() - self.failing_since,
            self.base_pause(),
            self.last_error,
        )

    def base_pause(self) -> float:
        """The pause before jitter: the interval times the backoff factor, or the server's pause."""
        factor = min(2**self.failures, MAX_BACKOFF_FACTOR) if self.failures else 1
        return max(self.interval * factor, self.server_pause)

    def pause(self) -> float:
        """Seconds before the next poll (jittered, never below the server's ``Retry-After``).

        :return: seconds.
        """
        return max(jittered(self.base_pause()), self.server_pause)


class Watch(Protocol[T_co]):
    """One never-ending watch (the asset watcher): :meth:`poll` reads what is new, the loop hands
    it over, waits ``handoff_seconds`` when there was something, then :meth:`commit` records it."""

    handoff_seconds: float

    async def poll(self, fed: Any = None) -> Sequence[T_co]:
        """What is new since the last commit (nothing recorded yet); ``fed``: the item of the shared
        feed this poll works on (``None`` when the watch polls alone)."""
        ...

    async def commit(self) -> None:
        """Record what the last polls handed over (e.g. in the asset state store)."""
        ...


async def async_watch(
    watch: Watch[T], backoff: Backoff, feed: AsyncIterator[Any] | None = None
) -> AsyncIterator[T]:
    """Poll forever: yield each new item, then (after the hand-off) commit; pause by ``backoff``.

    No error ends it: a failed poll or commit is counted and logged by ``backoff`` and the next poll
    waits longer (see :class:`Backoff`). Only cancellation ends it (or, with a ``feed``, the feed's
    own end or error: the shared poll is gone).

    With a ``feed`` (the raw items of a poll shared by several watches: Airflow 3.3's shared
    streams), each poll works on the feed's next item, so the feed paces the polls instead of the
    pause; after a failed poll the items that arrive within the backoff's pause are skipped (the
    watch catches up on its own at the next poll it makes).

    :param watch: what to poll and how to commit.
    :param backoff: the pauses and the failure log.
    :param feed: the shared poll's raw items, or ``None`` to poll alone.
    :return: the items, as they come.
    """
    resume_at = 0.0
    while True:
        fed = None if feed is None else await anext(feed)
        if feed is not None and time.monotonic() < resume_at:
            continue  # backing off: this item is skipped
        try:
            items = await watch.poll(fed)
            for item in items:
                yield item
            if items and watch.handoff_seconds:
                await asyncio.sleep(watch.handoff_seconds)  # let Airflow store the events first
            await watch.commit()
        except Exception as err:  # never end the watch: log, back off, poll again
            backoff.failed(err)
        else:
            backoff.succeeded()
        if feed is None:
            await asyncio.sleep(backoff.pause())
        elif backoff.failures:
            resume_at = time.monotonic() + backoff.pause()


async def yield_to_loop() -> None:
    """Let the event loop run what is ready (e.g. the triggers a status feed just handed a status)
    before the caller goes on."""
    await asyncio.sleep(0)


class Rounds(Protocol):
    """A shared poller that reads in rounds (the job trigger's status feed): :meth:`pause` says how
    long to wait before the next round, :meth:`serve` runs it (or only re-plans when it was woken
    early); setting :attr:`woken` cuts the pause short; :attr:`active` is False once nobody needs
    it any more."""

    woken: asyncio.Event

    @property
    def active(self) -> bool:
        """Whether anyone still waits on the rounds."""
        ...

    def pause(self) -> float:
        """Seconds until the next round is due (its interval with jitter, a server's ``Retry-After``)."""
        ...

    async def serve(self) -> None:
        """Run the round that is due (it handles its own errors)."""
        ...


async def async_rounds(rounds: Rounds) -> None:
    """Run ``rounds`` until it is no longer :attr:`~Rounds.active`: pause (until the next round is
    due, or until something sets :attr:`~Rounds.woken`), serve, repeat.

    :param rounds: the poller.
    """
    while rounds.active:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(rounds.woken.wait(), rounds.pause())
        rounds.woken.clear()
        if rounds.active:
            await rounds.serve()
