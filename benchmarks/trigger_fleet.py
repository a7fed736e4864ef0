"""A fleet of ``LakeFormationJobTrigger``s in one asyncio loop, with and without the shared status
feed (#27), vs bare aiohttp per-job pollers, with the dbt Cloud provider's ``DbtCloudRunJobTrigger``
measured side by side.

For each N (``--n``) and auth mode (``--auth``) this runs one measurement per mode (``--modes``):

* ``baseline``: N tasks doing the bare GET of one job the trigger does without the feed (one shared
  ``aiohttp.ClientSession``, same auth headers, JSON parsed, ``sleep(interval)`` between polls) until
  the job is terminal; ``baseline-sessions``: the same with one ``ClientSession`` each;
* ``trigger``: N ``LakeFormationJobTrigger(poll_interval=interval)`` whose ``run()`` is consumed as an
  async generator, each in its own task, as the triggerer does, with the default environment: the
  status feed on (the triggers of one connection/project/instance share one poller that lists the
  non-terminal jobs per type and status once per interval and reads single jobs only for the jobs
  not in the lists). ``--greenback`` also opens a greenback portal per task first, as the triggerer
  does unless AIRFLOW_DISABLE_GREENBACK_PORTAL is set. The connection comes from
  ``AIRFLOW_CONN_LAKEFORMATION_DEFAULT`` (JSON) pointing at the emulator;
* ``trigger-solo``: the same triggers with ``AIRFLOW__LAKEFORMATION__STATUS_FEED=false`` in the
  client's environment: each trigger polls its own job;
* ``dbt-cloud`` (peer): N ``DbtCloudRunJobTrigger`` of the real apache-airflow-providers-dbt-cloud
  package (``pip install apache-airflow-providers-dbt-cloud`` or ``pip install -e '.[bench]'``; the
  mode is skipped with that hint when it is missing) against ``_dbt_cloud_fake.py``, a local fake of
  the dbt Cloud run endpoints over HTTPS (the hook always builds ``https://`` URLs);
* ``dbt-bare``: bare aiohttp pollers over one shared HTTPS session against the same fake (the floor of
  the peer's requests).

Not like for like between our rows and the peer's: the peer's requests go over TLS to a different
(aiohttp.web) server, its hook opens a new ``ClientSession`` (a new TCP connection and TLS handshake)
per poll, and it logs one INFO line per poll. The ``dbt-bare`` row separates what TLS and the fake
server cost from what the dbt Cloud hook adds.

Jobs (``--types``): ``spread`` puts the N jobs round-robin over the three job types
(METADATA_MIGRATION, PERMISSION_MIGRATION, METADATA_DISCOVERY); ``one`` makes them all
METADATA_DISCOVERY. A list reaches 2,000 jobs per type and status (offset <= 1,000, limit 1,000): at
N = 5,000, ``spread`` has 1,667 per type, ``one`` leaves 3,000 to the feed's single reads.

Each measurement runs in a fresh client subprocess (clean heap for the RSS figure; every mode imports
Airflow and both trigger modules, so the heaps a garbage collection walks are alike):

1. the parent resets the server and creates N jobs (dbt: triggers N runs);
2. the client starts its pollers, spread over one interval, on the still CREATED / QUEUED jobs (not
   terminal, so they keep polling) and waits until every one has observed a status once;
3. the parent starts the jobs; each run lasts ``--job-seconds`` (default: sized from the time the N
   creates took, or from N with several emulator workers, so that the window fits between the last
   start and the first end);
4. the window opens one interval after the last start (``--finish random``: at the first job's
   earliest end) and lasts ``--window`` seconds (rounded up to whole intervals); with
   ``--finish fixed`` it must close before the first job can end: when the runs are too short for
   that, the window is cut, and the report prints no ratio from it ("n/a (window X s < asked Y s)");
5. the client waits for every event (bounded by ``--duration`` after the last job's end); the parent
   reads every job's end time from the emulator (``GET`` job, ``end_time``, epoch ms).

``--finish fixed`` (default): every run lasts the same (they end in the order they started);
``--finish random``: each job also waits a random 0..window seconds (seeded by N, the same in every
mode) in SUBMITTED, so the ends are spread over the window.

Reported per measurement (window figures): the 1-minute loadavg at its start; API requests/s (the
server's own counter of every non-admin request: the list route ``GET .../lf-jobs``, the job route
``GET .../lf-jobs/{id}`` and any other) and its ratio to the baseline's; observed statuses/s (a poll
for the per-job modes; for ``trigger`` the statuses the feed delivered, ``feed_stats()["served"]``,
or polls while that module does not exist); event-loop lag p50/p99 (a probe sleeping 10 ms,
oversleep); client and server CPU (cores busy); client CPU µs per observed status; RSS and GC-tracked
objects per poller (growth from before the pollers to the end of the window, / N); garbage
collections; events delivered / lost / duplicated (counted per job id) / errors; time-to-event (the
event's arrival in the client minus the job's ``end_time``) p50/p99/max; the feed's own counters.

The goals (#27, docs/performance.md) compare ``trigger`` (and, for comparison, ``trigger-solo``) with
the ``baseline`` of the same run: requests/s <= 5 % of the baseline's (<= 1.0x when a type holds more
jobs than a list reaches), CPU per observed status <= 0.3x, loop-lag p99 <= the baseline's, RSS <=
15 KB per trigger, 0 lost or duplicated events, every terminal event within one interval (+10 %
jitter) of the job's end.

    python benchmarks/trigger_fleet.py                          # N = 100 1000 5000 (long: ~20 min on 2 cores)
    python benchmarks/trigger_fleet.py --n 1000 --modes baseline trigger trigger-solo --finish random
    python benchmarks/trigger_fleet.py --n 5000 --types one --modes baseline trigger --window 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import _common

# -- goals (#27): the feed against the per-job baseline of the same run ------------------------------
#: API requests/s at most this share of the baseline's...
GOAL_REQUESTS_SHARE = 0.05
#: ...or at most this ratio when a job type holds more jobs than a list reaches (single reads).
GOAL_REQUESTS_BEYOND_REACH = 1.0
#: Client CPU per observed status at most this many times the baseline's (a poll each).
GOAL_CPU_RATIO = 0.3
#: Loop-lag p99 at most this many times the baseline's.
GOAL_LAG_RATIO = 1.0
GOAL_RSS_KB = 15.0
#: The triggers' poll jitter (+-10 %): a terminal event is due within (1 + JITTER) intervals of the end.
JITTER = 0.1

MODES = ["baseline", "baseline-sessions", "trigger", "trigger-solo", "dbt-cloud", "dbt-bare"]
#: Modes that poll the dbt Cloud fake instead of the LakeFormation emulator.
DBT_MODES = frozenset({"dbt-cloud", "dbt-bare"})
TRIGGER_MODES = frozenset({"trigger", "trigger-solo"})
#: The mode that runs with the status feed on (its observed statuses are the feed's ``served``).
FEED_MODE = "trigger"
FEED_ENV = "AIRFLOW__LAKEFORMATION__STATUS_FEED"
#: ``--types one`` makes every job of this type.
ONE_TYPE = "METADATA_DISCOVERY"
#: Jobs of one type and status a list reaches: offset at most 1,000, limit 1,000.
LIST_REACH = 2000
LIST_ROUTE = "list_jobs"
TERMINAL = frozenset({"SUCCESS", "FAILED", "STOPPED", "PARTIAL_SUCCESS"})
#: dbt Cloud's terminal run statuses: SUCCESS, ERROR, CANCELLED.
DBT_TERMINAL = frozenset({10, 20, 30})
PROBE_SLEEP = 0.010
SUBMIT_SECONDS = 0.5
#: The window closes this long before the first job can end (``--finish fixed``).
END_MARGIN = 0.5
#: Automatic run length: starting N jobs is budgeted START_FACTOR x the time their creates took
#: (+ START_SLACK s); starts are as heavy as creates, and race the pollers' requests.
START_FACTOR = 2.5
START_SLACK = 1.0
#: With several emulator workers (a setting each) the run length is sized before the creates, from N
#: and this many starts per second.
MIN_START_RATE = 100.0
#: The client's channel to the parent (its original stdout).
_PROTOCOL: Any = sys.stdout
NAN = float("nan")


# ==================================================================================================
# shared: emulator admin + job setup over aiohttp
# ==================================================================================================
def _token_headers() -> dict[str, str]:
    return {"X-Auth-Token": _common.TOKEN, "Content-Type": "application/json"}


async def _gather_limited(coros: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(make: Callable[[], Awaitable[Any]]) -> Any:
        async with sem:
            return await make()

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def _create_jobs(url: str, specs: Sequence[tuple[str, str]], tag: str) -> list[str]:
    """Create one job per (type, description); return their ids in that order."""
    import aiohttp

    jobs = _common.jobs_url(url)
    async with aiohttp.ClientSession(headers=_token_headers()) as session:

        async def create(i: int) -> str:
            job_type, description = specs[i]
            body = _common.job_body(job_type, f"bench_{tag}_{i:05d}", description)
            async with session.post(jobs, json=body) as resp:
                data = await resp.json()
                if resp.status not in (200, 201):
                    raise RuntimeError(f"create job failed: {resp.status} {data}")
                return str(data["id"])

        return await _gather_limited([functools.partial(create, i) for i in range(len(specs))], 32)


async def _start_jobs(url: str, ids: Sequence[str]) -> tuple[float, float]:
    """Start every job; return the wall-clock time of the first and last start request."""
    import aiohttp

    jobs = _common.jobs_url(url)
    first = time.time()
    async with aiohttp.ClientSession(headers=_token_headers()) as session:

        async def start(job_id: str) -> None:
            async with session.post(f"{jobs}/{job_id}/start") as resp:
                if resp.status not in (200, 202):
                    raise RuntimeError(f"start job failed: {resp.status} {await resp.text()}")

        await _gather_limited([functools.partial(start, j) for j in ids], 128)
    return first, time.time()


async def _end_times(url: str, ids: Sequence[str]) -> dict[str, float | None]:
    """Each job's ``end_time`` (epoch seconds; None while it has none), read after the run."""
    import aiohttp

    jobs = _common.jobs_url(url)
    async with aiohttp.ClientSession(headers=_token_headers()) as session:

        async def end(job_id: str) -> float | None:
            async with session.get(f"{jobs}/{job_id}") as resp:
                body = await resp.json()
            raw = body.get("end_time") if resp.status == 200 and isinstance(body, dict) else None
            return int(raw) / 1000 if raw is not None else None

        ends = await _gather_limited([functools.partial(end, j) for j in ids], 32)
    return dict(zip(ids, ends, strict=True))


def _markers(submit_seconds: float, run_seconds: float | None = None) -> str:
    """The job description: SUBMITTED for ``submit_seconds``, then RUNNING for ``run_seconds``, or
    (None) for the emulator's ``run_seconds`` setting, set per measurement once the creates are timed."""
    duration = "" if run_seconds is None else f" [lf-emulator:duration={run_seconds:.3f}]"
    return f"fleet bench [lf-emulator:submit={submit_seconds:.3f}]{duration}"


def _job_types(n: int, layout: str) -> list[str]:
    """``spread``: round-robin over the three job types; ``one``: all :data:`ONE_TYPE`."""
    return [_common.JOB_TYPES[i % 3] if layout == "spread" else ONE_TYPE for i in range(n)]


def _beyond_reach(n: int, layout: str) -> bool:
    """A job type holds more jobs than a list reaches (the feed falls back to single reads)."""
    return max(Counter(_job_types(n, layout)).values(), default=0) > LIST_REACH


def _window_target(args: argparse.Namespace) -> float:
    """``--window`` rounded up to whole intervals (the count then does not depend on where it cuts
    a poll cycle)."""
    interval = float(args.interval)
    return max(1, math.ceil(float(args.window) / interval - 1e-9)) * interval


def _request_counts(stats: dict[str, Any], poll_route: str) -> dict[str, int]:
    """All API requests (the server's ``requests``: admin routes not counted), those on the polled
    route (``get_job`` / ``get_run``) and those on the list route."""
    by_route = stats.get("by_route") or {}
    total = int(stats.get("requests", 0))
    return {
        "requests": total,
        "polls": int(by_route.get(poll_route, 0)) if by_route else total,
        "lists": int(by_route.get(LIST_ROUTE, 0)),
    }


@functools.lru_cache(maxsize=1)
def _feed_stats_function() -> Callable[[], dict[str, int]] | None:
    """``triggers.status_feed.feed_stats``; None where the provider has no feed (before #27)."""
    try:
        from airflow_provider_lakeformation.triggers.status_feed import (  # type: ignore[import-not-found]
            feed_stats,
        )
    except ImportError:
        return None
    return feed_stats  # type: ignore[no-any-return]


def _feed_stats() -> dict[str, int] | None:
    """The status feed's counters (feeds, subscribers, rounds, served, list_requests, single_reads,
    list_failures); None where the provider has no feed."""
    function = _feed_stats_function()
    return None if function is None else {str(k): int(v) for k, v in function().items()}


# ==================================================================================================
# client subprocess: the pollers
# ==================================================================================================
class LagProbe:
    """Sleeps 10 ms in a loop and records the oversleep (event-loop lag) with its time."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        perf = time.perf_counter
        while True:
            t0 = perf()
            await asyncio.sleep(PROBE_SLEEP)
            t1 = perf()
            self.samples.append((t1, t1 - t0 - PROBE_SLEEP))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def between(self, t0: float, t1: float) -> list[float]:
        return [lag for t, lag in self.samples if t0 <= t <= t1]


class GcMonitor:
    """Records every garbage collection (generation, pause) with its end time (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int, float]] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._start = now
        else:
            self.pauses.append((now, int(info["generation"]), now - self._start))

    def between(self, t0: float, t1: float, generation: int) -> list[float]:
        return [p for t, g, p in self.pauses if t0 <= t <= t1 and g == generation]


def _lf_status(body: Any) -> str | None:
    """The terminal status of a LakeFormation get-job body, else None."""
    status = body.get("status")
    if isinstance(status, dict):
        status = status.get("status")
    return status if status in TERMINAL else None


def _dbt_status(body: Any) -> str | None:
    """The terminal status of a dbt Cloud get-run body, else None (10 = SUCCESS)."""
    status = body["data"]["status"]
    return None if status not in DBT_TERMINAL else ("SUCCESS" if status == 10 else str(status))


async def _bare_poller(
    session: Any,
    url: str,
    headers: Callable[[], dict[str, str]],
    interval: float,
    events: list[dict[str, Any]],
    delay: float,
    terminal: Callable[[Any], str | None] = _lf_status,
) -> None:
    import aiohttp

    await asyncio.sleep(delay)
    job_id = url.rstrip("/").rsplit("/", 1)[1]
    while True:
        try:
            async with session.get(url, headers=headers()) as resp:
                if resp.status == 200:
                    status = terminal(await resp.json())
                    if status is not None:
                        outcome = "success" if status == "SUCCESS" else "error"
                        events.append(
                            {"status": outcome, "job_id": job_id, "job_status": status, "t": time.time()}
                        )
                        return
                else:
                    await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(interval)


async def _consume_trigger(trigger: Any, events: list[dict[str, Any]], greenback: bool, delay: float) -> None:
    await asyncio.sleep(delay)
    if greenback:
        import greenback as gb

        await gb.ensure_portal()
    async for event in trigger.run():
        arrived = time.time()
        payload = dict(event.payload)
        if "job_id" not in payload:  # the dbt Cloud trigger's events name the run
            payload["job_id"] = str(payload.get("run_id"))
        payload["t"] = arrived
        events.append(payload)


TaskFactory = Callable[[str, list[dict[str, Any]], float], Awaitable[None]]


def _lf_tasks(args: argparse.Namespace, session: Any) -> TaskFactory:
    """Pollers of the LakeFormation emulator: bare aiohttp (one shared session, or one each) or
    triggers (the status feed on or off is the client's environment)."""
    import aiohttp

    from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

    jobs = _common.jobs_url(args.server_url)
    interval = args.interval
    token = {"X-Auth-Token": _common.TOKEN}
    if args.mode in TRIGGER_MODES:

        def trigger_task(job_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
            trigger = LakeFormationJobTrigger(
                job_id=job_id, lakeformation_conn_id="lakeformation_default", poll_interval=interval
            )
            return _consume_trigger(trigger, events, args.greenback, delay)

        return trigger_task
    if args.auth == "aksk":
        from airflow_provider_lakeformation.auth import sign_request

        base_headers = {"Content-Type": "application/json"}

        def signed_task(job_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
            job_url = f"{jobs}/{job_id}"

            def headers() -> dict[str, str]:
                return sign_request(
                    "GET", job_url, base_headers, None, _common.AK, _common.SK, project_id=_common.PROJECT_ID
                )

            return _bare_poller(session, job_url, headers, interval, events, delay)

        return signed_task
    if args.mode == "baseline-sessions":

        async def own_session(job_id: str, events: list[dict[str, Any]], delay: float) -> None:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=10)) as own:
                await _bare_poller(own, f"{jobs}/{job_id}", lambda: token, interval, events, delay)

        return own_session

    def bare_task(job_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
        return _bare_poller(session, f"{jobs}/{job_id}", lambda: token, interval, events, delay)

    return bare_task


def _dbt_tasks(args: argparse.Namespace, session: Any) -> TaskFactory:
    """Pollers of the dbt Cloud fake: the provider's real ``DbtCloudRunJobTrigger``, or bare aiohttp
    over one shared HTTPS session (``dbt-bare``: the floor of the same requests)."""
    import _dbt_cloud_fake as fake
    from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

    interval = args.interval
    if args.mode == "dbt-cloud":

        def trigger_task(run_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
            trigger = DbtCloudRunJobTrigger(
                conn_id="dbt_cloud_default",
                run_id=int(run_id),
                end_time=time.time() + 3600,
                poll_interval=interval,
                account_id=None,  # the operator's default: the hook reads it from the connection
            )
            return _consume_trigger(trigger, events, args.greenback, delay)

        return trigger_task
    runs = f"{args.server_url}/api/v2/accounts/{fake.ACCOUNT_ID}/runs"
    token = {"Authorization": f"Token {fake.TOKEN}", "Content-Type": "application/json"}

    def bare_task(run_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
        return _bare_poller(session, f"{runs}/{run_id}/", lambda: token, interval, events, delay, _dbt_status)

    return bare_task


def _import_triggers() -> None:
    """Every mode imports both trigger modules (and with them Airflow, and the status feed where it
    exists), so every client carries the same heap: a full garbage collection costs the same in all,
    and the RSS delta is only the pollers'."""
    import airflow_provider_lakeformation.triggers.lakeformation  # noqa: F401

    _feed_stats()
    with contextlib.suppress(ImportError):
        import airflow.providers.dbt.cloud.triggers.dbt  # noqa: F401


@dataclass
class Snap:
    """The client's figures at one instant: wall clock (perf_counter), its CPU seconds, the server's
    CPU seconds, the server's request counters and the status feed's counters (None: no feed)."""

    wall: float
    cpu: float
    server_cpu: float
    counts: dict[str, int]
    feed: dict[str, int] | None


#: The feed's monotonic counters, reported per second of the window (``list_failures``: a count).
FEED_RATES = ("rounds", "served", "list_requests", "single_reads")


def _served(w0: Snap, w1: Snap) -> int:
    if w0.feed is None or w1.feed is None:
        return 0
    return w1.feed.get("served", 0) - w0.feed.get("served", 0)


def _observed(w0: Snap, w1: Snap, feed_mode: bool) -> tuple[int, str]:
    """Statuses observed between two snapshots and what counted them: the feed's deliveries in the
    feed mode (when the feed delivered any), else the server's count of the polled route."""
    served = _served(w0, w1) if feed_mode else 0
    if served > 0:
        return served, "served"
    return w1.counts["polls"] - w0.counts["polls"], "polls"


class FleetClient:
    """One measurement's client: the server's process and counters, the pollers, the probes."""

    def __init__(self, args: argparse.Namespace) -> None:
        import aiohttp
        import psutil

        self.args = args
        self.me = psutil.Process()
        self.server = psutil.Process(args.server_pid)
        dbt = args.mode in DBT_MODES
        self.stats_path, self.poll_route = (
            ("/_fake/stats", "get_run") if dbt else ("/_emulator/stats", "get_job")
        )
        self.admin = aiohttp.ClientSession()
        self.session: Any = None
        if args.mode in ("baseline", "dbt-bare"):
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60, connect=10)
            )
        self.make_task = _dbt_tasks(args, self.session) if dbt else _lf_tasks(args, self.session)
        self.events: list[dict[str, Any]] = []
        self.tasks: list[asyncio.Future[None]] = []
        self.probe = LagProbe()
        self.gc_monitor = GcMonitor()
        self.t_launch = 0.0

    def server_cpu(self) -> float:
        import psutil

        total = 0.0
        for p in [self.server, *self.server.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    async def counts(self) -> dict[str, int]:
        async with self.admin.get(f"{self.args.server_url}{self.stats_path}") as resp:
            return _request_counts(await resp.json(), self.poll_route)

    async def snap(self) -> Snap:
        counts = await self.counts()
        return Snap(time.perf_counter(), time.process_time(), self.server_cpu(), counts, _feed_stats())

    async def warm_up(self) -> None:
        """One poller on the finished warm-up job: imports, first connection lookup, first session."""
        warm: list[dict[str, Any]] = []
        await asyncio.wait_for(self.make_task(self.args.warmup_job, warm, 0.0), timeout=60)
        if not warm or warm[0].get("status") != "success":
            raise RuntimeError(f"warm-up poll failed: {warm}")
        await self.counts()

    async def launch(self, ids: list[str], deadline: float) -> tuple[float, float]:
        """Start the pollers spread evenly over one interval, as triggers arriving over time would (a
        fleet started in the same instant would poll in synchronised bursts); wait until each has
        observed a status once (CREATED is not terminal, so they go on). Return (launch s, start-up s)."""
        n, interval = len(ids), self.args.interval
        feed_mode = self.args.mode == FEED_MODE
        s0 = await self.snap()
        self.t_launch = time.perf_counter()
        self.tasks = [
            asyncio.ensure_future(self.make_task(job_id, self.events, i * interval / n))
            for i, job_id in enumerate(ids)
        ]
        launch_s = time.perf_counter() - self.t_launch
        while time.monotonic() < deadline:
            s1 = await self.snap()
            if max(_served(s0, s1) if feed_mode else 0, s1.counts["polls"] - s0.counts["polls"]) >= n:
                break
            await asyncio.sleep(0.2)
        return launch_s, time.perf_counter() - self.t_launch

    async def collect(self, plan: dict[str, Any]) -> int:
        """Wait for every event, at most ``--duration`` after the last job's end; cancel the rest.
        Return how many poller tasks crashed."""
        last_end = plan["last_start"] + plan["submit_max"] + plan["run_seconds"]
        timeout = max(0.0, last_end - time.time()) + 2 * self.args.interval + self.args.duration
        pending: set[asyncio.Future[None]] = set(self.tasks)
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return sum(1 for t in self.tasks if not t.cancelled() and t.exception() is not None)

    def gc_figures(self, t0: float, t1: float) -> dict[str, float]:
        lags = self.probe.between(t0, t1)
        full = self.gc_monitor.between(t0, t1, 2)
        young = self.gc_monitor.between(t0, t1, 0) + self.gc_monitor.between(t0, t1, 1)
        window = t1 - t0
        return {
            "lag_p50_ms": _common.percentile(lags, 50) * 1000,
            "lag_p99_ms": _common.percentile(lags, 99) * 1000,
            "lag_max_ms": max(lags, default=NAN) * 1000,
            "gc_full": len(full),
            "gc_full_max_ms": max(full, default=0.0) * 1000,
            "gc_pause_share": (sum(full) + sum(young)) / window if window > 0 else NAN,
        }

    async def close(self) -> None:
        await self.probe.stop()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self.gc_monitor)
        if self.session is not None:
            await self.session.close()
        await self.admin.close()


async def _window_length(plan: dict[str, Any], interval: float) -> float:
    """Wait for the window's start; return its length.

    The window opens one interval after the last start (``random``: not before the first job can
    end, so the ends fall in it) and lasts ``plan['window']``; with ``fixed`` runs it must close
    ``END_MARGIN`` before the first job can end, and is cut (to whole intervals) when that comes sooner.
    """
    first_end = float(plan["first_start"]) + SUBMIT_SECONDS + float(plan["run_seconds"])
    begin = float(plan["last_start"]) + interval
    if plan["finish"] == "random":
        begin = max(begin, first_end)
    await asyncio.sleep(max(0.0, begin - time.time()))
    asked, interval = float(plan["window"]), float(interval)
    available = first_end - END_MARGIN - time.time()
    if plan["finish"] == "random" or available >= asked:
        return asked
    return available // interval * interval if available >= interval else max(available, 0.0)


def _window_figures(w0: Snap, w1: Snap, feed_mode: bool) -> dict[str, Any]:
    """Rates over the window: all API requests, per route, observed statuses, CPU, the feed's counters."""
    window = w1.wall - w0.wall

    def rate(count: float) -> float:
        return count / window if window > 0 else NAN

    observed, observed_by = _observed(w0, w1, feed_mode)
    cpu = w1.cpu - w0.cpu
    out: dict[str, Any] = {
        "window_s": window,
        "requests_per_s": rate(w1.counts["requests"] - w0.counts["requests"]),
        "polls_per_s": rate(w1.counts["polls"] - w0.counts["polls"]),
        "lists_per_s": rate(w1.counts["lists"] - w0.counts["lists"]),
        "observed_per_s": rate(observed),
        "observed_by": observed_by,
        "client_cpu": rate(cpu),
        "server_cpu": rate(w1.server_cpu - w0.server_cpu),
        "cpu_us_per_obs": cpu / observed * 1e6 if observed > 0 else NAN,
    }
    f0, f1 = w0.feed, w1.feed
    for key in ("feeds", "subscribers"):
        out[f"feed_{key}"] = float(f1.get(key, 0)) if f1 is not None else NAN
    for key in FEED_RATES:
        out[f"feed_{key}_per_s"] = rate(f1.get(key, 0) - f0.get(key, 0)) if f0 and f1 else NAN
    out["feed_list_failures"] = f1.get("list_failures", 0) - f0.get("list_failures", 0) if f0 and f1 else NAN
    return out


def _event_figures(events: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
    """Events counted per job id (lost: none; duplicated: every event past the first, or for an id
    not asked for) and the arrival times per job id (for the time-to-event)."""
    per_job = Counter(str(e.get("job_id")) for e in events)
    wanted = set(ids)
    times: dict[str, list[float]] = {}
    for e in events:
        times.setdefault(str(e.get("job_id")), []).append(float(e.get("t", NAN)))
    return {
        "events": len(events),
        "successes": sum(1 for e in events if e.get("status") == "success"),
        "errors": sum(1 for e in events if e.get("status") != "success"),
        "lost": sum(1 for j in wanted if per_job[j] == 0),
        "duplicates": sum(c - (1 if j in wanted else 0) for j, c in per_job.items()),
        "event_times": times,
    }


async def _exchange(line: str) -> dict[str, Any]:
    """Tell the parent ``line``; return its JSON answer (one line on stdin)."""
    _PROTOCOL.write(line + "\n")
    _PROTOCOL.flush()
    loop = asyncio.get_running_loop()
    return dict(json.loads(await loop.run_in_executor(None, sys.stdin.readline)))


async def _measure(client: FleetClient) -> dict[str, Any]:
    args = client.args
    await client.warm_up()
    gc.collect()
    if args.gc_freeze:  # what a triggerer that froze its start-up heap would see
        gc.freeze()
    rss_before = client.me.memory_info().rss
    objects_before = len(gc.get_objects())
    ids: list[str] = (await _exchange("READY"))["ids"]
    n = len(ids)
    client.probe.start()
    gc.callbacks.append(client.gc_monitor)
    launch_s, startup_s = await client.launch(ids, time.monotonic() + args.duration)
    await asyncio.sleep(args.interval)
    plan = await _exchange("POLLING")  # the parent starts the jobs, then sends the plan
    length = await _window_length(plan, args.interval)
    w0 = await client.snap()
    await asyncio.sleep(length)
    w1 = await client.snap()
    rss_window = client.me.memory_info().rss
    objects_window = len(gc.get_objects())
    crashed = await client.collect(plan)
    return {
        "mode": args.mode,
        "auth": args.auth,
        "n": n,
        "interval": args.interval,
        "finish": plan["finish"],
        **_window_figures(w0, w1, args.mode == FEED_MODE),
        **client.gc_figures(w0.wall, w1.wall),
        "gc_objects_per_poller": (objects_window - objects_before) / n,
        "rss_before_mb": rss_before / 2**20,
        "rss_kb_per_poller": (rss_window - rss_before) / 1024 / n,
        **_event_figures(client.events, ids),
        "crashed": crashed,
        "launch_s": launch_s,
        "startup_s": startup_s,
        "total_s": time.perf_counter() - client.t_launch,
        "greenback": bool(args.greenback and args.mode in (*TRIGGER_MODES, "dbt-cloud")),
        "gc_freeze": bool(args.gc_freeze),
    }


async def _client(args: argparse.Namespace) -> dict[str, Any]:
    _import_triggers()
    client = FleetClient(args)
    try:
        return await _measure(client)
    finally:
        await client.close()


def client_main(args: argparse.Namespace) -> int:
    global _PROTOCOL
    # Keep the real stdout for READY/RESULT; everything else printed to stdout (Airflow's structlog
    # console output of the trigger's log lines) goes to stderr, i.e. the client log file.
    _PROTOCOL = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    result = asyncio.run(_client(args))
    _PROTOCOL.write("RESULT " + json.dumps(result) + "\n")
    _PROTOCOL.flush()
    return 0


# ==================================================================================================
# parent: emulator, jobs, one client subprocess per measurement
# ==================================================================================================
def _read_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    """Next stdout line of ``proc`` starting with ``prefix`` (others are echoed)."""
    import selectors

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {prefix!r} line from the client within {timeout:.0f} s")
            if not sel.select(remaining):
                continue
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"client exited ({proc.wait()}) before printing {prefix!r}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
            print("  client: " + line.rstrip())


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Prepared:
    """A measurement's jobs (created, not started), the client's environment and how to start them."""

    ids: list[str]
    warm: str
    env: dict[str, str]
    start: Callable[[], tuple[float, float]]
    url: str
    pid: int
    run_seconds: float
    submit_max: float
    finish: str


def _run_seconds(args: argparse.Namespace, start_budget: float) -> float:
    """``--job-seconds``, or long enough for the window to fit between the last start and the first
    end when starting the N jobs takes ``start_budget`` seconds at most."""
    if args.job_seconds is not None:
        return float(args.job_seconds)
    if args.finish == "random":  # the window follows the first end; the runs need only outlast the starts
        return start_budget + float(args.interval)
    return start_budget + 2 * float(args.interval) + _window_target(args) + END_MARGIN


def _prepare_lf(
    emu: _common.EmulatorProcess, n: int, auth: str, args: argparse.Namespace, tag: str
) -> Prepared:
    """N created LakeFormation jobs (``--types`` layout; ``--finish random``: a random SUBMITTED time
    each, seeded by N), a finished warm-up job, the run length set in the emulator."""
    emu.reset()
    rng = random.Random(n)
    extra = _window_target(args) if args.finish == "random" else 0.0
    submits = [SUBMIT_SECONDS + rng.uniform(0.0, extra) for _ in range(n)]
    # Several emulator workers keep a setting each: the run length then goes in every description,
    # sized before the creates (at least MIN_START_RATE starts/s assumed).
    fixed_run = _run_seconds(args, START_SLACK + n / MIN_START_RATE) if args.emulator_workers > 1 else None
    descriptions = [_markers(submit, fixed_run) for submit in submits]
    t0 = time.perf_counter()
    specs = list(zip(_job_types(n, args.types), descriptions, strict=True))
    ids = asyncio.run(_create_jobs(emu.url, specs, tag))
    create_s = time.perf_counter() - t0
    warm = asyncio.run(
        _create_jobs(
            emu.url, [(ONE_TYPE, "warm-up [lf-emulator:submit=0] [lf-emulator:duration=0]")], "w" + tag
        )
    )
    asyncio.run(_start_jobs(emu.url, warm))
    run_seconds = fixed_run or _run_seconds(args, START_FACTOR * create_s + START_SLACK)
    if fixed_run is None:
        emu.configure(run_seconds=run_seconds)

    def start() -> tuple[float, float]:
        return asyncio.run(_start_jobs(emu.url, ids))

    env = {_common.CONN_ENV: _common.conn_json(emu.url, auth)}
    assert emu.proc is not None
    return Prepared(ids, warm[0], env, start, emu.url, emu.proc.pid, run_seconds, max(submits), args.finish)


def _prepare_dbt(fake: Any, n: int, args: argparse.Namespace) -> Prepared:
    """N triggered (QUEUED) dbt Cloud runs and a finished warm-up run. The fake starts every run in
    one call with one length: ``--finish random`` does not apply (the runs end together)."""
    fake.admin("POST", "/_fake/reset")
    ids = fake.create_runs(n)
    warm = fake.create_runs(1)
    fake.start(warm, 0.0, 0.0)
    run_seconds = _run_seconds(argparse.Namespace(**{**vars(args), "finish": "fixed"}), START_SLACK)

    def start() -> tuple[float, float]:
        first = float(fake.start(ids, run_seconds, SUBMIT_SECONDS))
        return first, first

    return Prepared(
        ids, warm[0], fake.conn_env(), start, fake.url, fake.proc.pid, run_seconds, SUBMIT_SECONDS, "fixed"
    )


def _client_command(mode: str, auth: str, prep: Prepared, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--client", mode, "--auth", auth]
    cmd += ["--interval", str(args.interval), "--duration", str(args.duration), "--server-url", prep.url]
    cmd += ["--server-pid", str(prep.pid), "--warmup-job", prep.warm]
    if args.greenback:
        cmd.append("--greenback")
    if args.gc_freeze:
        cmd.append("--gc-freeze")
    return cmd


def _client_env(mode: str, prep: Prepared) -> dict[str, str]:
    """The parent's environment, the connection, and the feed switch: off for ``trigger-solo``, the
    default (on) for every other mode."""
    env = {**os.environ, **prep.env}
    env.pop(FEED_ENV, None)
    if mode == "trigger-solo":
        env[FEED_ENV] = "false"
    return env


def _send(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


def _drive(proc: subprocess.Popen[str], prep: Prepared, args: argparse.Namespace) -> dict[str, Any]:
    """The protocol with one client: ids, start the jobs once it polls, the plan, its result."""
    _read_line(proc, "READY", 120)
    _send(proc, {"ids": prep.ids})
    _read_line(proc, "POLLING", args.duration + 60)
    t0 = time.perf_counter()
    first, last = prep.start()
    start_s = time.perf_counter() - t0
    window = _window_target(args)
    plan: dict[str, Any] = {"first_start": first, "last_start": last, "run_seconds": prep.run_seconds}
    plan.update(submit_max=prep.submit_max, window=window, finish=prep.finish)
    _send(proc, plan)
    bound = prep.run_seconds + prep.submit_max + window + 2 * args.interval + args.duration + 120
    result: dict[str, Any] = json.loads(_read_line(proc, "RESULT", bound))
    result.update(start_s=start_s, run_seconds=prep.run_seconds)
    return result


def _lag_figures(
    times: dict[str, list[float]], ends: dict[str, float | None], interval: float
) -> dict[str, Any]:
    """Time-to-event: each event's arrival minus its job's end time; how many arrived later than
    one interval + jitter; how many events name a job without an end time."""
    lags = [t - end for job_id, ts in times.items() if (end := ends.get(job_id)) is not None for t in ts]
    bound = interval * (1 + JITTER)
    return {
        "event_lag_p50_ms": _common.percentile(lags, 50) * 1000,
        "event_lag_p99_ms": _common.percentile(lags, 99) * 1000,
        "event_lag_max_ms": max(lags, default=NAN) * 1000,
        "late_events": sum(1 for lag in lags if lag > bound),
        "events_without_end": sum(len(ts) for job_id, ts in times.items() if ends.get(job_id) is None),
    }


def measure(
    servers: dict[str, Any], mode: str, n: int, auth: str, args: argparse.Namespace, log_dir: str
) -> dict[str, Any]:
    tag = f"{mode}_{auth}_{n}".replace("-", "_")
    t0 = time.perf_counter()
    if mode in DBT_MODES:
        prep = _prepare_dbt(servers["dbt"], n, args)
    else:
        prep = _prepare_lf(servers["lf"], n, auth, args, tag)
    create_s = time.perf_counter() - t0
    log_path = os.path.join(log_dir, f"client_{tag}.log")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            _client_command(mode, auth, prep, args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=_client_env(mode, prep),
        )
    try:
        result = _drive(proc, prep, args)
    except Exception as err:
        raise RuntimeError(f"{tag}: {err} (client log: {log_path})") from err
    finally:
        _stop(proc)
    times = result.pop("event_times")
    if mode in DBT_MODES:  # the fake keeps no end times: no time-to-event for the peer rows
        result.update(_lag_figures({}, {}, args.interval), late_events=NAN)
    else:
        result.update(_lag_figures(times, asyncio.run(_end_times(prep.url, prep.ids)), args.interval))
    result.update(create_s=create_s)
    return result


# ==================================================================================================
# parent: report
# ==================================================================================================
def _available_modes(modes: list[str]) -> list[str]:
    """``modes`` without the dbt Cloud ones when that provider is not installed (says how to get it)."""
    if not any(m in DBT_MODES for m in modes):
        return modes
    try:
        import airflow.providers.dbt.cloud.triggers.dbt  # noqa: F401
    except ImportError:
        print(
            "the dbt Cloud peer rows need the real dbt Cloud provider: "
            "pip install apache-airflow-providers-dbt-cloud  (or: pip install -e '.[bench]'); "
            "skipping " + ", ".join(m for m in modes if m in DBT_MODES) + "\n"
        )
        return [m for m in modes if m not in DBT_MODES]
    return modes


def _emulator_args(args: argparse.Namespace, state_dir: str) -> list[str]:
    extra = list(args.emulator_arg)
    if args.emulator_workers > 1:
        help_text = _common.emulator_help()
        if "--workers" not in help_text:
            print("the emulator has no --workers option: running one emulator process\n")
        else:
            extra += ["--workers", str(args.emulator_workers)]
            if "--state" in help_text and "--state" not in extra:
                extra += ["--state", os.path.join(state_dir, "lf-bench.db")]
    return extra


#: Figures whose worst run, not the median, is reported for repeated runs.
WORST = frozenset({"lost", "duplicates", "crashed", "errors", "late_events", "event_lag_max_ms"})


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from repeated runs: the median of each figure; the worst of the loss counters."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if key in WORST:
            out[key] = max(r[key] for r in runs)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = _common.median([r[key] for r in runs])
    out["runs"] = len(runs)
    return out


def _ratio(
    r: dict[str, Any], base: dict[str, Any] | None, key: str, asked: float
) -> tuple[float | None, str]:
    """``r[key]`` over the baseline's, and its text; no ratio from a window shorter than asked."""
    if base is None:
        return None, "-"
    short = min(r["window_s"], base["window_s"])
    if short + 1e-3 < asked:
        return None, f"n/a (window {short:.1f} s < asked {asked:g} s)"
    ratio = r[key] / base[key] if base[key] else NAN
    return ratio, f"{ratio:.2f}x"


def _label(mode: str, r: dict[str, Any]) -> str:
    return mode + (" +greenback" if r.get("greenback") else "") + (" +gc.freeze" if r["gc_freeze"] else "")


def _cost_row(
    n: int, mode: str, r: dict[str, Any], base: dict[str, Any] | None, asked: float
) -> list[object]:
    is_base = mode == "baseline"
    requests = "baseline" if is_base else _ratio(r, base, "requests_per_s", asked)[1]
    cpu = "baseline" if is_base else _ratio(r, base, "cpu_us_per_obs", asked)[1]
    return [
        n,
        _label(mode, r),
        r.get("loadavg", NAN),
        r["requests_per_s"],
        requests,
        r["lists_per_s"],
        r["polls_per_s"],
        f"{_common._fmt(r['observed_per_s'])} ({r['observed_by']})",
        r["lag_p50_ms"],
        r["lag_p99_ms"],
        r["client_cpu"],
        r["cpu_us_per_obs"],
        cpu,
        r["server_cpu"],
        r["rss_kb_per_poller"],
        r["gc_objects_per_poller"],
        f"{r['gc_full']:g} / {r['gc_full_max_ms']:.0f}",
        f"{r['gc_pause_share'] * 100:.1f}",
        r["window_s"],
        r["start_s"],
        r["startup_s"],
    ]


COST_HEADERS = [
    "N",
    "mode",
    "load",
    "requests/s",
    "ratio",
    "lists/s",
    "job GETs/s",
    "observed/s (by)",
    "lag p50 ms",
    "lag p99 ms",
    "client CPU",
    "CPU µs/status",
    "CPU/status ratio",
    "server CPU",
    "RSS KB/poller",
    "GC objects/poller",
    "full GCs / max ms",
    "GC % of wall",
    "window s",
    "start s",
    "start-up s",
]
EVENT_HEADERS = [
    "N",
    "mode",
    "finish",
    "run s",
    "events",
    "lost",
    "duplicated",
    "errors",
    "crashed",
    "time-to-event p50 ms",
    "p99 ms",
    "max ms",
    "late",
    "no end time",
]
FEED_HEADERS = [
    "N",
    "mode",
    "feeds",
    "subscribers",
    "rounds/s",
    "served/s",
    "list requests/s",
    "single reads/s",
    "list failures",
]


def _event_row(n: int, mode: str, r: dict[str, Any]) -> list[object]:
    return [
        n,
        _label(mode, r),
        r["finish"],
        r["run_seconds"],
        f"{n - r['lost']:g}/{n}",
        r["lost"],
        r["duplicates"],
        r["errors"],
        r["crashed"],
        r["event_lag_p50_ms"],
        r["event_lag_p99_ms"],
        r["event_lag_max_ms"],
        r["late_events"],
        r["events_without_end"],
    ]


def _feed_row(n: int, mode: str, r: dict[str, Any]) -> list[object]:
    keys = ["feed_feeds", "feed_subscribers", "feed_rounds_per_s", "feed_served_per_s"]
    keys += ["feed_list_requests_per_s", "feed_single_reads_per_s", "feed_list_failures"]
    return [n, _label(mode, r), *(r[k] for k in keys)]


def _check(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def _goal_row(
    n: int, mode: str, r: dict[str, Any], base: dict[str, Any], args: argparse.Namespace
) -> list[object]:
    """The #27 goals of one trigger row against the baseline of the same run."""
    asked = args.window
    requests, requests_text = _ratio(r, base, "requests_per_s", asked)
    cpu, cpu_text = _ratio(r, base, "cpu_us_per_obs", asked)
    lag, lag_text = _ratio(r, base, "lag_p99_ms", asked)
    limit = GOAL_REQUESTS_BEYOND_REACH if _beyond_reach(n, args.types) else GOAL_REQUESTS_SHARE
    bound_ms = args.interval * (1 + JITTER) * 1000
    event_max = r["event_lag_max_ms"]
    bad = r["lost"] + r["duplicates"] + r["crashed"] + r["errors"]
    checks = [
        None if requests is None else requests <= limit,
        None if cpu is None else cpu <= GOAL_CPU_RATIO,
        None if lag is None else lag <= GOAL_LAG_RATIO,
        r["rss_kb_per_poller"] <= GOAL_RSS_KB,
        bad == 0,
        None if event_max != event_max else event_max <= bound_ms,
    ]
    figures: list[object] = [
        n,
        _label(mode, r),
        f"{_common._fmt(r['requests_per_s'])} ({requests_text}; goal <= {limit:g}x)",
        f"{r['cpu_us_per_obs']:.0f} ({cpu_text})",
        f"{r['lag_p99_ms']:.1f} ({lag_text})",
        r["rss_kb_per_poller"],
        bad,
        event_max,
    ]
    return figures + [_check(c) for c in checks]


def _goal_headers(args: argparse.Namespace) -> list[str]:
    bound = args.interval * (1 + JITTER)
    return [
        "N",
        "mode",
        "requests/s (x baseline)",
        "CPU µs/status (x baseline)",
        "lag p99 ms (x baseline)",
        "RSS KB",
        "lost+dup+errors",
        "time-to-event max ms",
        f"req/s <= {GOAL_REQUESTS_SHARE:g}x ({GOAL_REQUESTS_BEYOND_REACH:g}x past a list's reach)",
        f"CPU/status <= {GOAL_CPU_RATIO}x",
        f"lag p99 <= {GOAL_LAG_RATIO:.1f}x",
        f"RSS <= {GOAL_RSS_KB:.0f} KB",
        "0 lost/dup",
        f"events <= {bound:g} s after the end",
    ]


def _by_mode(results: list[dict[str, Any]], n: int, auth: str, modes: list[str]) -> dict[str, dict[str, Any]]:
    """The (combined) row of each mode for one N and auth mode (the peer has only one auth mode)."""
    out: dict[str, dict[str, Any]] = {}
    for mode in modes:
        runs = [
            r
            for r in results
            if r["n"] == n and r["mode"] == mode and (r["auth"] == auth or mode in DBT_MODES)
        ]
        if runs:
            out[mode] = _combine(runs)
    return out


def _print_auth(results: list[dict[str, Any]], auth: str, args: argparse.Namespace) -> bool:
    tables: dict[str, list[list[object]]] = {"cost": [], "events": [], "feed": [], "goals": []}
    for n in args.n:
        by_mode = _by_mode(results, n, auth, args.modes)
        base = by_mode.get("baseline")
        for mode, r in by_mode.items():
            tables["cost"].append(_cost_row(n, mode, r, base, args.window))
            tables["events"].append(_event_row(n, mode, r))
            if mode in TRIGGER_MODES and r["feed_feeds"] == r["feed_feeds"]:
                tables["feed"].append(_feed_row(n, mode, r))
            if mode in TRIGGER_MODES and base is not None:
                tables["goals"].append(_goal_row(n, mode, r, base, args))
    repeats = f", median of {args.repeat} runs" if args.repeat > 1 else ""
    where = (
        f"auth={auth}, poll interval {args.interval} s, --types {args.types}, --finish {args.finish}{repeats}"
    )
    _common.print_table(COST_HEADERS, tables["cost"], title=f"{where}. {COST_NOTE}")
    _common.print_table(EVENT_HEADERS, tables["events"], title=f"events, {where}. {EVENT_NOTE}")
    if tables["feed"]:
        _common.print_table(FEED_HEADERS, tables["feed"], title=f"the status feed's own counters, {where}")
    if any(r[1] == FEED_MODE for r in tables["goals"]) and not tables["feed"]:
        print(
            "no status feed in the provider measured (triggers/status_feed.py): trigger ran as trigger-solo\n"
        )
    if tables["goals"]:
        title = f"goals (#27) against the baseline of the same run, {where} (trigger-solo: for comparison)"
        _common.print_table(_goal_headers(args), tables["goals"], title=title)
    return not any("MISSED" in row for row in tables["goals"] if row[1] == FEED_MODE)


COST_NOTE = (
    "load = 1-min loadavg at the start of each measurement; requests/s = every API request the server "
    "counted in the window (lists/s: GET .../lf-jobs, job GETs/s: GET .../lf-jobs/{id} or the dbt run); "
    "observed = statuses the pollers saw (polls, or the feed's served); CPU = cores busy during the "
    "window; CPU µs/status = client CPU / observed; GC = all collections in the client during the "
    "window; dbt-* rows poll the dbt Cloud fake over HTTPS"
)
EVENT_NOTE = (
    "time-to-event = the event's arrival in the client minus the job's end_time (all events, the "
    "whole run); late = events later than one interval + 10 % jitter; dbt-* rows: no end times"
)


def _print_results(results: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    all_ok = True
    for auth in args.auth:
        all_ok &= _print_auth(results, auth, args)
    return all_ok


# ==================================================================================================
# parent: command line
# ==================================================================================================
MODES_HELP = (
    "trigger: the status feed on (default environment); trigger-solo: "
    f"{FEED_ENV}=false (each trigger polls its job); baseline-sessions: bare pollers with one "
    "ClientSession each; dbt-cloud: the dbt Cloud provider's DbtCloudRunJobTrigger against a local "
    "fake of its endpoints (needs apache-airflow-providers-dbt-cloud); dbt-bare: bare aiohttp "
    "pollers over one shared HTTPS session against the same fake"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--n", type=int, nargs="+", default=[100, 1000, 5000], help="fleet sizes")
    add("--auth", nargs="+", choices=["token", "aksk"], default=["token"], help="auth modes")
    add("--interval", type=float, default=1.0, help="poll interval, seconds")
    add(
        "--job-seconds",
        type=float,
        default=None,
        help="how long each run lasts after SUBMITTED (default: sized from the creates' time so that the "
        "window fits between the last start and the first end)",
    )
    add(
        "--window",
        type=float,
        default=10.0,
        help="measurement window, seconds (rounded up to whole intervals)",
    )
    add(
        "--types",
        choices=["spread", "one"],
        default="spread",
        help="jobs over the 3 job types, or all of one",
    )
    add(
        "--finish",
        choices=["fixed", "random"],
        default="fixed",
        help="runs of one length, or ends spread over the window",
    )
    add(
        "--duration",
        type=float,
        default=60.0,
        help="upper bound of the pollers' start-up and of the wait for the events after the last end (s)",
    )
    add(
        "--modes",
        nargs="+",
        choices=MODES,
        default=["baseline", "trigger", "trigger-solo", "dbt-cloud"],
        help=MODES_HELP,
    )
    add("--gc-freeze", action="store_true", help="gc.freeze() the client's start-up heap (diagnostic)")
    add("--greenback", action="store_true", help="open a greenback portal per trigger task")
    add("--emulator-workers", type=int, default=1, help="uvicorn workers (needs --state)")
    add("--emulator-arg", action="append", default=[], help="extra emulator CLI argument")
    add("--repeat", type=int, default=1, help="runs per measurement (median reported)")
    add("--keep-logs", action="store_true", help="keep the client/emulator logs")
    # client subprocess (internal)
    add("--client", choices=MODES, dest="mode", help=argparse.SUPPRESS)
    add("--server-url", help=argparse.SUPPRESS)
    add("--server-pid", type=int, help=argparse.SUPPRESS)
    add("--warmup-job", help=argparse.SUPPRESS)
    return parser


def _progress(auth: str, n: int, mode: str, r: dict[str, Any], asked: float) -> str:
    short = "\n    window shorter than asked: no ratio from it (runs too short, see --job-seconds)"
    return (
        f"  {auth:5s} N={n:<5d} {mode:17s} load={r['loadavg']:4.1f} req/s={r['requests_per_s']:8.1f} "
        f"observed/s={r['observed_per_s']:8.1f} lag p99={r['lag_p99_ms']:6.1f} ms  "
        f"CPU/status={r['cpu_us_per_obs']:5.0f} us  RSS/poller={r['rss_kb_per_poller']:5.1f} KB  "
        f"lost={r['lost']} dup={r['duplicates']} errors={r['errors']}  "
        f"event lag max={r['event_lag_max_ms']:6.0f} ms  window={r['window_s']:.1f} s  "
        f"(create {r['create_s']:.1f} s, start {r['start_s']:.1f} s, run {r['total_s']:.1f} s)"
        + (short if r["window_s"] + 1e-3 < asked else "")
    )


def _servers(stack: contextlib.ExitStack, args: argparse.Namespace, log_dir: str) -> dict[str, Any]:
    servers: dict[str, Any] = {}
    if any(m not in DBT_MODES for m in args.modes):
        emu_args = _emulator_args(args, log_dir)
        emu = _common.EmulatorProcess(extra_args=emu_args, log_path=os.path.join(log_dir, "emulator.log"))
        servers["lf"] = stack.enter_context(emu)
        print(f"emulator: {' '.join(emu_args) or '(defaults)'} at {emu.url}; logs in {log_dir}")
    if any(m in DBT_MODES for m in args.modes):
        import _dbt_cloud_fake

        fake = _dbt_cloud_fake.FakeProcess(log_dir, os.path.join(log_dir, "dbt_cloud_fake.log"))
        servers["dbt"] = stack.enter_context(fake)
        print(f"dbt Cloud fake (HTTPS) at {fake.url}")
    print()
    return servers


def _run_all(args: argparse.Namespace, log_dir: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        servers = _servers(stack, args, log_dir)
        plan = [
            (auth, n, mode)
            for _ in range(args.repeat)
            for auth in args.auth
            for n in args.n
            for mode in args.modes
            if mode not in DBT_MODES or auth == args.auth[0]  # the peer has one auth mode
        ]
        for auth, n, mode in plan:
            load = _common.loadavg_1m()
            r = measure(servers, mode, n, auth, args, log_dir)
            r["loadavg"] = load
            results.append(r)
            print(_progress(auth, n, mode, r, args.window), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.mode:
        args.auth = args.auth[0]
        return client_main(args)

    _common.raise_nofile_limit(4 * max(args.n) + 1024)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.modes = _available_modes(args.modes)
    _common.print_machine()
    log_dir = tempfile.mkdtemp(prefix="lf-trigger-fleet-")
    t0 = time.perf_counter()
    results = _run_all(args, log_dir)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s\n")
    _print_results(results, args)
    if not args.keep_logs:
        import shutil

        shutil.rmtree(log_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
