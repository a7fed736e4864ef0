"""One status feed per connection identity, project and instance in a triggerer's event loop.

Waiting on N jobs by reading each job every interval costs N requests per interval against the
customer's API quota. The list endpoint returns up to 1,000 jobs per page with their status, so the
job triggers of one identity subscribe to one :class:`StatusFeed` instead, and each round it

1. lists, per job type and status, the jobs its due subscribers were last seen in (CREATED,
   SUBMITTED or RUNNING: ``GET /lf-jobs?type=T&status=S&limit=1000``, at offsets 0 and 1,000, the
   most the API's offset limit reaches; id, type and status are all that is read of each job);
2. gives every due subscriber found there its status (a job still in progress);
3. where many jobs of one type left those lists in the round (:data:`FINISHED_LIST_MIN`), reads that
   type's terminal lists and ends the wait of each job found there showing the very run the
   subscriber saw in progress (same ``start_time``) with an ``end_time``: the exact record of that
   run, never a status earlier than the truth;
4. reads every other due subscriber's job alone (``GET /lf-jobs/{id}``): a job that left the list
   (it finished, or moved on: the exact record decides the event), one beyond the lists' reach, one
   whose type or status is not known yet (the first read of every subscriber is such a read, made at
   once, as a trigger polling alone would).

Rounds are paced by the shortest ``poll_interval`` among the subscribers (a steady cadence whose
phase is set by +-10 % jitter on the first round; statuses are handed over in slices of
:data:`HANDOVER_SLICE`, so thousands of triggers waking together never hold the loop at once); a
subscriber with a longer interval is served on the rounds closest to its own interval. What each
trigger sees is what it saw polling alone: statuses one after another from its own waits, the same
transient errors counted against its own ``max_transient_errors``, its own ``end_time``.

Isolation: feeds are per event loop and per identity (connection id, endpoint, project, instance,
TLS settings and a digest of the credentials), so one identity's failures never reach another's
triggers. A transient list failure (5xx, 429, a dropped connection, after the hook's retries) is a
transient error of each subscriber it would have served, counted as today, and a ``Retry-After``
delays the next round; any other list failure (a page that does not follow the API, a refused
filter) makes that list's subscribers fall back to single reads, and the list is retried after
2, 4, ... 32 rounds. A subscriber that leaves (its trigger ended or was cancelled) is dropped at
once; the last one closes the feed and its share of the HTTP session.

``[lakeformation] status_feed = false`` turns the feed off (each trigger polls its job alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import hashlib
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_lakeformation.exceptions import LakeFormationError, shown
from airflow_provider_lakeformation.models.jobs import JobState
from airflow_provider_lakeformation.models.status import (
    IN_PROGRESS_STATUSES,
    TERMINAL_STATUSES,
    TRANSIENT_ERRORS,
    JobStatus,
)
from airflow_provider_lakeformation.waiter import async_rounds, jittered, server_pause, yield_to_loop

if TYPE_CHECKING:
    from airflow_provider_lakeformation.hooks._settings import ConnectionSettings
    from airflow_provider_lakeformation.hooks.lakeformation import AsyncLakeFormationClient, LakeFormationHook

__all__ = ["LISTED_STATUSES", "StatusFeed", "Subscription", "feed_stats", "subscribe"]

log = logging.getLogger(__name__)

#: The statuses a feed lists (not terminal: a job found in such a list is still in progress).
LISTED_STATUSES = frozenset({JobStatus.CREATED, JobStatus.SUBMITTED, JobStatus.RUNNING})
#: Single reads a feed has in flight at once.
MAX_PARALLEL_READS = 64
#: Statuses handed over before the feed lets the triggers run (a bounded burst per loop iteration).
HANDOVER_SLICE = 256
#: Jobs of one type that must leave the lists in one round before the feed reads that type's
#: terminal lists instead of reading each job.
FINISHED_LIST_MIN = 16
#: The longest a failing list is skipped, in rounds (its subscribers are read one by one meanwhile).
MAX_LIST_SKIP = 32

#: Each listed status and the listed statuses a job can move on to from it.
_LATER: dict[JobStatus, tuple[JobStatus, ...]] = {
    JobStatus.CREATED: (JobStatus.CREATED, JobStatus.SUBMITTED, JobStatus.RUNNING),
    JobStatus.SUBMITTED: (JobStatus.SUBMITTED, JobStatus.RUNNING),
    JobStatus.RUNNING: (JobStatus.RUNNING,),
}
#: (job type, status) of one list.
Group = tuple[str, JobStatus]

_STATS: dict[str, int] = dict.fromkeys(
    ("rounds", "served", "list_requests", "single_reads", "list_failures"), 0
)
_FEEDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, StatusFeed]] = (
    weakref.WeakKeyDictionary()
)


def feed_stats() -> dict[str, int]:
    """Counters of every feed of this process (for benchmarks and diagnostics): ``rounds``,
    ``served`` (statuses handed to triggers, first reads included), ``list_requests``,
    ``single_reads`` and ``list_failures`` since the process started; ``feeds`` and
    ``subscribers`` open now.

    :return: the counters.
    """
    feeds = [feed for loop_feeds in list(_FEEDS.values()) for feed in loop_feeds.values()]
    return {**_STATS, "feeds": len(feeds), "subscribers": sum(len(f.subscribers) for f in feeds)}


def identity(s: ConnectionSettings) -> Hashable:
    """What two triggers must share to share a feed: the connection id, where the requests go, TLS
    and timeouts, and a digest of the credentials (a connection edited while a feed runs gets a new
    feed; no secret is kept in the key).

    :param s: the settings of a trigger's hook.
    :return: the key.
    """
    secrets = (s.access_key, s.secret_key, s.password, s.token, s.security_token)
    digest = hashlib.sha256()
    for part in (s.auth_type.value, s.user_name, s.domain_name, s.project_name, s.iam_endpoint):
        digest.update(f"{part}\0".encode())
    for secret in secrets:
        digest.update(f"{secret.get_secret_value() if secret else ''}\0".encode())
    return (
        s.conn_id,
        s.endpoint,
        s.project_id,
        s.instance_id,
        s.verify,
        s.ca_bundle,
        s.connect_timeout,
        s.read_timeout,
        digest.hexdigest(),
    )


@dataclass(eq=False)
class Subscription:
    """One trigger's place in a feed: its job, interval, what the feed last saw of it.

    :param feed: the feed.
    :param job_id: the job.
    :param interval: the trigger's poll interval in seconds.
    """

    feed: StatusFeed
    job_id: str
    interval: float
    job_type: str | None = None
    last: JobStatus | None = None
    run_start: str | None = None
    served_at: float = -math.inf
    pending: asyncio.Future[JobStatus] | None = field(default=None, repr=False)

    def group(self) -> Group | None:
        """The list this subscriber is looked up in, or ``None`` (its job is read alone)."""
        if self.job_type is None or self.last not in LISTED_STATUSES:
            return None
        return (self.job_type, self.last)

    def groups(self) -> list[Group]:
        """The lists this subscriber's job can be found in: its last status's and those after it."""
        if self.job_type is None or self.last not in LISTED_STATUSES:
            return []
        return [(self.job_type, status) for status in _LATER[self.last]]

    def due(self, now: float, period: float) -> bool:
        """Whether a round at ``now`` of a feed of ``period`` seconds serves this subscriber: the
        round closest to its own interval (never more than half a period early).

        :param now: the round's time (monotonic).
        :param period: the feed's period.
        :return: True when due.
        """
        return now - self.served_at + period / 2 >= self.interval - 1e-9  # no float rounding miss

    async def next_status(self, job_id: str) -> JobStatus:
        """The job's next status: at once on the first call (one read of the job), then from the
        feed's next round that serves this subscriber (also after a failed first read: a failing
        server is never read again before the next round).

        :param job_id: the job (the subscription's own; the waiter passes it).
        :return: the status.
        :raises LakeFormationError: the read failed (transient errors included, for the waiter to count).
        """
        if self.served_at == -math.inf:  # the first read: at once, in the trigger's own task
            self.served_at = time.monotonic()
            return await self.feed.read_alone(self)
        future: asyncio.Future[JobStatus] = asyncio.get_running_loop().create_future()
        self.pending = future
        try:
            return await future
        finally:
            self.pending = None


class StatusFeed:
    """The shared poller of one (event loop, :func:`identity`): see the module docstring.

    :param key: the identity.
    :param client: an opened async client of that identity (the feed closes it when it ends).
    """

    def __init__(self, key: Hashable, client: AsyncLakeFormationClient) -> None:
        self.key = key
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.stopped: str | None = None
        self.subscribers: set[Subscription] = set()
        self.woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_at = 0.0
        self._server_pause_until = 0.0
        self._list_failures: dict[Group, int] = {}
        self._skip_until: dict[Group, int] = {}
        self._round = 0
        self._round_at = 0.0
        self._reads = asyncio.Semaphore(MAX_PARALLEL_READS)

    # ------------------------------------------------------------------ membership
    @property
    def active(self) -> bool:
        """True while a trigger is subscribed."""
        return bool(self.subscribers)

    def join(self, job_id: str, interval: float) -> Subscription:
        """Add a subscriber; start the rounds if they are not running.

        :param job_id: the job.
        :param interval: the subscriber's poll interval in seconds.
        :return: its subscription.
        """
        sub = Subscription(self, job_id, interval)
        shortest = self._period()
        self.subscribers.add(sub)
        if self._task is None:
            # A fresh context: the rounds belong to no trigger (its log context, its deadline).
            self._task = contextvars.Context().run(asyncio.ensure_future, self._run())
        elif interval < shortest:
            self.woken.set()  # re-plan the next round for the shorter interval
        return sub

    def leave(self, sub: Subscription) -> None:
        """Drop a subscriber (its trigger ended or was cancelled); the last one ends the rounds.

        :param sub: the subscription.
        """
        self.subscribers.discard(sub)
        if not self.subscribers:
            self._forget()
            self.woken.set()

    def _forget(self) -> None:
        loop_feeds = _FEEDS.get(self.loop)
        if loop_feeds is not None and loop_feeds.get(self.key) is self:
            del loop_feeds[self.key]

    async def _run(self) -> None:
        try:
            await async_rounds(self)
        except BaseException as err:  # cancelled with the loop, or a bug: no subscriber may hang
            self._stop(f"{type(err).__name__}: {err}")
            raise
        finally:
            self._forget()
            await self.client.aclose()

    def _stop(self, why: str) -> None:
        self.stopped = why
        for sub in list(self.subscribers):
            self._fail(sub, LakeFormationError(f"the LakeFormation status feed stopped: {why}"))

    # ------------------------------------------------------------------ pacing
    def _period(self) -> float:
        return min((s.interval for s in self.subscribers), default=math.inf)

    def pause(self) -> float:
        """Seconds until the next round (see :class:`~airflow_provider_lakeformation.waiter.Rounds`).

        :return: seconds.
        """
        now = time.monotonic()
        if not self._next_at:
            self._next_at = now + jittered(self._period())
        return max(0.0, self._next_at - now, self._server_pause_until - now)

    async def serve(self) -> None:
        """Run the round that is due; when woken early, only re-plan the next round. Never raises:
        an unexpected error is handed to the round's subscribers as theirs."""
        now = time.monotonic()
        if not self.subscribers or now < self._server_pause_until:
            return
        period = self._period()
        if now < self._next_at:  # woken early (a shorter interval joined): re-plan
            self._next_at = min(self._next_at, now + jittered(period))
            return
        # a steady cadence (the first round's jitter sets the phase): a job that ends is seen within
        # one period, plus the round's own requests
        self._next_at = max(self._next_at + period, now)
        self._round += 1
        self._round_at = now  # what the round serves counts as served now, however long it takes
        _STATS["rounds"] += 1
        due = [sub for sub in self.subscribers if sub.pending is not None and sub.due(now, period)]
        try:
            await self._serve(due)
        except Exception as err:
            log.exception("LakeFormation status feed: a round failed; its triggers get the error")
            for sub in due:
                self._fail(sub, err)

    # ------------------------------------------------------------------ one round
    async def _serve(self, due: list[Subscription]) -> None:
        """Serve ``due`` from the lists their jobs can be in (the status each was last seen in and
        the ones after it: a SUBMITTED job that began to run is found in the RUNNING list); read
        every other one alone."""
        wanted: set[Group] = set()
        listed: list[Subscription] = []
        alone: list[Subscription] = []
        for sub in due:
            groups = [g for g in sub.groups() if self._skip_until.get(g, 0) <= self._round]
            if sub.group() in groups:
                wanted.update(groups)
                listed.append(sub)
            else:
                alone.append(sub)
        found, failed = await self._list_all(wanted)
        for i, sub in enumerate(listed, 1):
            if i % HANDOVER_SLICE == 0:
                await yield_to_loop()  # the triggers just handed a status run before the next slice
            state = found.get(sub.job_id)
            error = failed.get(sub.group())  # type: ignore[arg-type]  # listed subs have a group
            if state is not None and state.status is not None:
                self._give(sub, state)
            elif error is not None:
                self._fail(sub, error)  # a transient list failure: counted by each trigger
            else:
                alone.append(sub)  # left the lists (finished?), beyond their reach, or a list failed
        alone = await self._serve_finished(alone)
        await asyncio.gather(*(self._read_for(sub) for sub in alone))

    async def _serve_finished(self, alone: list[Subscription]) -> list[Subscription]:
        """Where at least :data:`FINISHED_LIST_MIN` jobs of one type left the lists, read that type's
        terminal lists (at most 8 requests) instead of each job: a job found there ends its wait
        only when it shows the run the subscriber saw in progress (same ``start_time``) with an
        ``end_time``, i.e. the exact record of that run. Return the subscribers still to be read."""
        by_type: dict[str, int] = {}
        for sub in alone:
            if sub.run_start is not None and sub.job_type is not None:
                by_type[sub.job_type] = by_type.get(sub.job_type, 0) + 1
        types = [t for t, n in by_type.items() if n >= FINISHED_LIST_MIN]
        if not types:
            return alone
        groups = {
            (t, s) for t in types for s in TERMINAL_STATUSES if self._skip_until.get((t, s), 0) <= self._round
        }
        found, _ = await self._list_all(groups)
        rest = []
        for sub in alone:
            state = found.get(sub.job_id)
            if state is not None and same_run_ended(sub, state):
                self._give(sub, state)
            else:
                rest.append(sub)
        return rest

    async def _list_all(self, groups: set[Group]) -> tuple[dict[str, JobState], dict[Group, Exception]]:
        """Read the lists of ``groups`` at once: every job found, and the transient error of each
        list that failed so (a list that failed otherwise is skipped for some rounds, see
        :meth:`_list_failed`, and its jobs are read alone)."""
        ordered = sorted(groups)
        results = await asyncio.gather(*(self._list_states(g) for g in ordered), return_exceptions=True)
        found: dict[str, JobState] = {}
        failed: dict[Group, Exception] = {}
        for group, result in zip(ordered, results, strict=True):
            if isinstance(result, TRANSIENT_ERRORS):
                self._list_failed(group, result, transient=True)
                failed[group] = result
            elif isinstance(result, BaseException):
                if not isinstance(result, Exception):  # cancelled: pass it on
                    raise result
                self._list_failed(group, result, transient=False)
            else:
                self._list_failures.pop(group, None)
                found.update(result)
        return found, failed

    async def _list_states(self, group: Group) -> dict[str, JobState]:
        states, requests = await self.client.reachable_job_states(*group)
        _STATS["list_requests"] += requests
        return {state.id: state for state in states}

    def _list_failed(self, group: Group, err: Exception, *, transient: bool) -> None:
        _STATS["list_failures"] += 1
        failures = self._list_failures[group] = self._list_failures.get(group, 0) + 1
        if transient:
            pause = server_pause(err)
            if pause:
                self._server_pause_until = max(self._server_pause_until, time.monotonic() + pause)
            what = "each waiting trigger counts it as a transient error"
        else:
            skip = min(2**failures, MAX_LIST_SKIP)
            self._skip_until[group] = self._round + skip
            what = f"reading those jobs one by one for {skip} rounds"
        log.warning(
            "LakeFormation status feed: listing %s jobs in %s failed (%d in a row): %s; %s",
            shown(group[0]),
            group[1].value,
            failures,
            err,
            what,
        )

    async def _read_for(self, sub: Subscription) -> None:
        if sub.pending is None or sub.pending.done():
            return  # left, or already answered
        try:
            state = await self._read_state(sub.job_id)
        except Exception as err:
            self._fail(sub, err)
        else:
            self._give(sub, state)

    async def read_alone(self, sub: Subscription) -> JobStatus:
        """Read ``sub``'s job alone (its first read, made at once in the trigger's own task).

        :param sub: the subscription.
        :return: the status.
        """
        if self.stopped is not None:
            raise LakeFormationError(f"the LakeFormation status feed stopped: {self.stopped}")
        state = await self._read_state(sub.job_id)
        self._note(sub, state, time.monotonic())
        return state.status  # type: ignore[return-value]  # the reply parser refuses a reply without one

    async def _read_state(self, job_id: str) -> JobState:
        async with self._reads:
            _STATS["single_reads"] += 1
            return await self.client.get_job_state(job_id)

    # ------------------------------------------------------------------ hand-over
    def _note(self, sub: Subscription, state: JobState, at: float) -> None:
        sub.last = state.status
        if state.status in IN_PROGRESS_STATUSES and state.start_time is not None:
            sub.run_start = str(state.start_time)
        if state.type is not None:
            sub.job_type = str(getattr(state.type, "value", state.type))
        sub.served_at = at
        _STATS["served"] += 1

    def _give(self, sub: Subscription, state: JobState) -> None:
        future = sub.pending
        if future is None or future.done():
            return
        self._note(sub, state, self._round_at)
        future.set_result(state.status)  # type: ignore[arg-type]

    def _fail(self, sub: Subscription, err: Exception) -> None:
        future = sub.pending
        if future is None or future.done():
            return
        sub.served_at = self._round_at
        future.set_exception(_own_copy(err))


def same_run_ended(sub: Subscription, state: JobState) -> bool:
    """Whether ``state`` (from a terminal list) is the end of the run ``sub`` saw in progress: the
    same ``start_time``, an ``end_time``, a terminal status.

    :param sub: the subscriber.
    :param state: the job as a list shows it.
    :return: True when the list page is the exact record of that run.
    """
    return (
        state.status is not None
        and state.status in TERMINAL_STATUSES
        and state.end_time is not None
        and sub.run_start is not None
        and str(state.start_time) == sub.run_start
    )


def _own_copy(err: Exception) -> Exception:
    """A copy of ``err`` for one subscriber (one list failure reaches many triggers: each raises its
    own exception object, so no traceback grows across them)."""
    try:
        return copy.copy(err)
    except Exception:
        return err


@contextlib.asynccontextmanager
async def subscribe(hook: LakeFormationHook, job_id: str, interval: float) -> AsyncIterator[Subscription]:
    """``async with subscribe(hook, job_id, interval) as sub:`` a place in the feed of ``hook``'s
    identity in the running loop (made on first use), left when the block ends, also on cancellation.

    :param hook: the trigger's hook (its connection and overrides decide the feed).
    :param job_id: the job.
    :param interval: the trigger's poll interval in seconds.
    :return: the subscription (``await sub.next_status(job_id)``).
    """
    settings = await hook.aget_settings()
    key = identity(settings)
    loop_feeds = _FEEDS.setdefault(asyncio.get_running_loop(), {})
    feed = loop_feeds.get(key)
    if feed is None or feed.stopped is not None:
        feed = loop_feeds[key] = StatusFeed(key, hook.async_client().opened(settings))
    sub = feed.join(job_id, interval)
    try:
        yield sub
    finally:
        feed.leave(sub)
