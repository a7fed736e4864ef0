"""A fleet of ``LakeFormationJobTrigger``s in one asyncio loop vs a bare aiohttp polling loop, with the
dbt Cloud provider's ``DbtCloudRunJobTrigger`` measured side by side.

For each N (``--n``) and auth mode (``--auth``) this runs one measurement per mode (``--modes``):

* ``baseline``: N tasks doing the bare GETs the trigger does (one shared ``aiohttp.ClientSession``,
  same auth headers, JSON parsed, ``sleep(interval)`` between polls) until the job is terminal;
* ``trigger``:  N ``LakeFormationJobTrigger(poll_interval=interval)`` whose ``run()`` is consumed as an
  async generator, each in its own task, as the triggerer does (``--greenback`` also opens a greenback
  portal per task first, as the triggerer does unless AIRFLOW_DISABLE_GREENBACK_PORTAL is set). The
  connection comes from ``AIRFLOW_CONN_LAKEFORMATION_DEFAULT`` (JSON) pointing at the emulator;
* ``dbt-cloud`` (peer): N ``DbtCloudRunJobTrigger`` of the real apache-airflow-providers-dbt-cloud
  package (``pip install apache-airflow-providers-dbt-cloud`` or ``pip install -e '.[bench]'``; the
  mode is skipped with that hint when it is missing) against ``_dbt_cloud_fake.py``, a local fake of
  the dbt Cloud run endpoints over HTTPS (the hook always builds ``https://`` URLs);
* ``dbt-bare``: bare aiohttp pollers over one shared HTTPS session against the same fake (the floor of
  the peer's requests); ``baseline-sessions``: bare pollers with one ``ClientSession`` each.

Not like for like between our rows and the peer's: the peer's requests go over TLS to a different
(aiohttp.web) server, its hook opens a new ``ClientSession`` (a new TCP connection and TLS handshake)
per poll, and it logs one INFO line per poll. The ``dbt-bare`` row separates what TLS and the fake
server cost from what the dbt Cloud hook adds.

Each measurement runs in a fresh client subprocess (clean heap for the RSS figure; every mode imports
Airflow and both trigger modules, so the heaps a garbage collection walks are alike). The parent
resets the server and creates N jobs (dbt: triggers N runs) that will run ``--job-seconds``; the
client starts its pollers on the still CREATED / QUEUED jobs (not terminal, so they keep polling);
once every poller has polled once (start-up: connection lookups, sessions) the parent starts the jobs.
The steady-state window opens one interval after the last start and closes just before the first job
can finish (a whole number of intervals); then the client waits for every event (bounded by
``--duration``). With ``--window S`` the window (S seconds) runs before the start instead, while the
jobs are still CREATED / QUEUED and polled all the same: on a loaded machine, starting N jobs can
take longer than ``--job-seconds``.

Reported per measurement (window figures): the 1-minute loadavg at its start, polls/s (the server's
own counter of the polled route), event-loop lag p50/p99 (a probe sleeping 10 ms, oversleep), client
CPU and server CPU (CPU seconds per wall second, i.e. cores busy), client CPU µs per poll, RSS per
poller (RSS growth from before the pollers to the end of the window, / N), GC-tracked objects per
poller, garbage collections, events delivered / lost / errors. The goals (docs/performance.md) compare
the trigger with the baseline of the same run: polls/s >= 0.9x, loop-lag p99 <= 1.5x (or < 100 ms),
GC-tracked objects <= 1.3x, CPU µs per poll <= 1.2x, RSS <= 20 KB per trigger, zero lost events.

    python benchmarks/trigger_fleet.py                          # N = 100 1000 5000, ~6 min on 2 cores
    python benchmarks/trigger_fleet.py --n 1000 --auth token aksk --interval 1 --job-seconds 20
    python benchmarks/trigger_fleet.py --n 5000 --modes baseline trigger dbt-cloud dbt-bare
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import _common

GOAL_RATIO = 0.9
#: Loop-lag p99 at most this many times the baseline's, or below GOAL_LAG_P99_MS (at N = 100 and 1,000
#: both loops idle, and a ratio of two single-digit milliseconds is noise).
GOAL_LAG_RATIO = 1.5
GOAL_LAG_P99_MS = 100.0
GOAL_OBJECTS_RATIO = 1.3
GOAL_RSS_KB = 20.0
GOAL_CPU_RATIO = 1.2
MODES = ["baseline", "baseline-sessions", "trigger", "dbt-cloud", "dbt-bare"]
#: Modes that poll the dbt Cloud fake instead of the LakeFormation emulator.
DBT_MODES = frozenset({"dbt-cloud", "dbt-bare"})
TERMINAL = frozenset({"SUCCESS", "FAILED", "STOPPED", "PARTIAL_SUCCESS"})
#: dbt Cloud's terminal run statuses: SUCCESS, ERROR, CANCELLED.
DBT_TERMINAL = frozenset({10, 20, 30})
PROBE_SLEEP = 0.010
SUBMIT_SECONDS = 0.5
#: The window closes this long before the first job can end.
END_MARGIN = 0.5
#: The client's channel to the parent (its original stdout).
_PROTOCOL: Any = sys.stdout


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


async def _create_jobs(url: str, n: int, description: str, tag: str) -> list[str]:
    import aiohttp

    jobs = _common.jobs_url(url)
    async with aiohttp.ClientSession(headers=_token_headers()) as session:

        async def create(i: int) -> str:
            body = _common.discovery_job_body(f"bench_{tag}_{i:05d}", description)
            async with session.post(jobs, json=body) as resp:
                data = await resp.json()
                if resp.status not in (200, 201):
                    raise RuntimeError(f"create job failed: {resp.status} {data}")
                return str(data["id"])

        return await _gather_limited([functools.partial(create, i) for i in range(n)], 32)


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


def _markers(run_seconds: float) -> str:
    return f"fleet bench [lf-emulator:submit={SUBMIT_SECONDS}] [lf-emulator:duration={run_seconds}]"


def _poll_count(stats: dict[str, Any], route: str) -> int:
    """Requests on the polled route (``get_job`` of the emulator, ``get_run`` of the dbt Cloud fake;
    falls back to all requests)."""
    by_route = stats.get("by_route") or {}
    if route in by_route:
        return int(by_route[route])
    return int(stats.get("requests", 0))


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
                        events.append({"status": outcome, "job_id": job_id, "job_status": status})
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
        payload = dict(event.payload)
        if "job_id" not in payload:  # the dbt Cloud trigger's events name the run
            payload["job_id"] = str(payload.get("run_id"))
        events.append(payload)


Snapshot = tuple[float, float, float, int]


async def _window(
    available: float, interval: float, server_cpu: Callable[[], float], polls: Callable[[], Awaitable[int]]
) -> tuple[Snapshot, Snapshot]:
    """(wall, client CPU, server CPU, polls) at the start and end of a window of ``available``
    seconds, cut to a whole number of intervals (the count does not depend on where it cuts a cycle)."""
    w0 = (time.perf_counter(), time.process_time(), server_cpu(), await polls())
    await asyncio.sleep(available // interval * interval if available >= interval else max(available, 0.0))
    return w0, (time.perf_counter(), time.process_time(), server_cpu(), await polls())


TaskFactory = Callable[[str, list[dict[str, Any]], float], Awaitable[None]]


def _lf_tasks(args: argparse.Namespace, session: Any) -> TaskFactory:
    """Pollers of the LakeFormation emulator: bare aiohttp (one shared session, or one each) or triggers."""
    import aiohttp

    from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

    jobs = _common.jobs_url(args.server_url)
    interval = args.interval
    token = {"X-Auth-Token": _common.TOKEN}
    if args.mode == "trigger":

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
    """Every mode imports both trigger modules (and with them Airflow), so every client carries the
    same heap: a full garbage collection costs the same in all, and the RSS delta is only the pollers'."""
    import airflow_provider_lakeformation.triggers.lakeformation  # noqa: F401

    with contextlib.suppress(ImportError):
        import airflow.providers.dbt.cloud.triggers.dbt  # noqa: F401


async def _client(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    import psutil

    _import_triggers()
    me = psutil.Process()
    server = psutil.Process(args.server_pid)
    url = args.server_url
    interval = args.interval
    dbt = args.mode in DBT_MODES
    stats_path, poll_route = ("/_fake/stats", "get_run") if dbt else ("/_emulator/stats", "get_job")

    def server_cpu() -> float:
        total = 0.0
        for p in [server, *server.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    admin = aiohttp.ClientSession()

    async def polls() -> int:
        async with admin.get(f"{url}{stats_path}") as resp:
            return _poll_count(await resp.json(), poll_route)

    # ---- pollers and warm-up (imports, first connection lookup, first session) -------------------
    session: Any = None
    if args.mode in ("baseline", "dbt-bare"):
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=60, connect=10),
        )
    make_task = _dbt_tasks(args, session) if dbt else _lf_tasks(args, session)

    warm_events: list[dict[str, Any]] = []
    await asyncio.wait_for(make_task(args.warmup_job, warm_events, 0.0), timeout=60)
    if not warm_events or warm_events[0].get("status") != "success":
        raise RuntimeError(f"warm-up poll failed: {warm_events}")
    del warm_events
    await polls()
    gc.collect()
    if args.gc_freeze:  # what a triggerer that froze its start-up heap would see
        gc.freeze()
    rss_before = me.memory_info().rss
    objects_before = len(gc.get_objects())

    # ---- the pollers start on the created (not yet started) jobs --------------------------------
    loop = asyncio.get_running_loop()
    _PROTOCOL.write("READY\n")
    _PROTOCOL.flush()
    ids: list[str] = json.loads(await loop.run_in_executor(None, sys.stdin.readline))["ids"]
    n = len(ids)
    deadline = time.monotonic() + args.duration

    probe = LagProbe()
    probe.start()
    gc_monitor = GcMonitor()
    gc.callbacks.append(gc_monitor)
    count0 = await polls()
    events: list[dict[str, Any]] = []
    t_launch = time.perf_counter()
    # Pollers start spread evenly over one interval, as triggers arriving over time would (a fleet
    # started in the same instant would poll in synchronised bursts).
    tasks = [
        asyncio.ensure_future(make_task(job_id, events, i * interval / n)) for i, job_id in enumerate(ids)
    ]
    launch_s = time.perf_counter() - t_launch

    # Start-up (connection lookups, sessions, first requests) is over once every poller has polled
    # once (the emulator's counter, not an event: poll it); CREATED is not terminal, so they go on.
    while True:
        if await polls() - count0 >= n or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    startup_s = time.perf_counter() - t_launch
    await asyncio.sleep(interval)

    if args.window > 0:  # steady state while the jobs are still CREATED / QUEUED (polled all the same)
        w0, w1 = await _window(args.window, interval, server_cpu, polls)
    # ---- the parent starts the jobs; steady state from one interval after the last start ---------
    _PROTOCOL.write("POLLING\n")
    _PROTOCOL.flush()
    plan = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    if args.window <= 0:
        first_end = plan["first_start"] + SUBMIT_SECONDS + plan["run_seconds"]
        await asyncio.sleep(max(0.0, min(interval, first_end - END_MARGIN - time.time())))
        w0, w1 = await _window(first_end - END_MARGIN - time.time(), interval, server_cpu, polls)
    rss_window = me.memory_info().rss
    objects_window = len(gc.get_objects())
    window = w1[0] - w0[0]

    # ---- every event, bounded by --duration -------------------------------------------------------
    pending: set[asyncio.Future[None]] = set(tasks)
    with contextlib.suppress(asyncio.TimeoutError):
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    crashed = sum(1 for t in tasks if not t.cancelled() and t.exception() is not None)
    total_s = time.perf_counter() - t_launch
    await probe.stop()
    gc.callbacks.remove(gc_monitor)
    if session is not None:
        await session.close()
    await admin.close()

    lags = probe.between(w0[0], w1[0])
    full_gcs = gc_monitor.between(w0[0], w1[0], 2)
    young_gcs = gc_monitor.between(w0[0], w1[0], 0) + gc_monitor.between(w0[0], w1[0], 1)
    delivered_ids = {e.get("job_id") for e in events}
    return {
        "mode": args.mode,
        "auth": args.auth,
        "n": n,
        "interval": interval,
        "window_s": window,
        "polls": w1[3] - w0[3],
        "polls_per_s": (w1[3] - w0[3]) / window if window > 0 else float("nan"),
        "lag_p50_ms": _common.percentile(lags, 50) * 1000,
        "lag_p99_ms": _common.percentile(lags, 99) * 1000,
        "lag_max_ms": max(lags, default=float("nan")) * 1000,
        "gc_full": len(full_gcs),
        "gc_full_max_ms": max(full_gcs, default=0.0) * 1000,
        "gc_pause_share": (sum(full_gcs) + sum(young_gcs)) / window if window > 0 else float("nan"),
        "gc_objects_per_poller": (objects_window - objects_before) / n,
        "client_cpu": (w1[1] - w0[1]) / window if window > 0 else float("nan"),
        "cpu_us_per_poll": (w1[1] - w0[1]) / (w1[3] - w0[3]) * 1e6 if w1[3] > w0[3] else float("nan"),
        "server_cpu": (w1[2] - w0[2]) / window if window > 0 else float("nan"),
        "rss_before_mb": rss_before / 2**20,
        "rss_kb_per_poller": (rss_window - rss_before) / 1024 / n,
        "events": len(events),
        "successes": sum(1 for e in events if e.get("status") == "success"),
        "errors": sum(1 for e in events if e.get("status") != "success"),
        "lost": n - len(delivered_ids & set(ids)),
        "duplicates": len(events) - len(delivered_ids),
        "crashed": crashed,
        "launch_s": launch_s,
        "startup_s": startup_s,
        "total_s": total_s,
        "greenback": bool(args.greenback and args.mode in ("trigger", "dbt-cloud")),
        "gc_freeze": bool(args.gc_freeze),
    }


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
# parent: emulator, jobs, one client subprocess per measurement, tables
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


def _prepare_lf(emu: _common.EmulatorProcess, n: int, auth: str, args: argparse.Namespace, tag: str) -> Any:
    """N created LakeFormation jobs, a finished warm-up job, the client env and a start function."""
    emu.reset()
    ids = asyncio.run(_create_jobs(emu.url, n, _markers(args.job_seconds), tag))
    warm = asyncio.run(
        _create_jobs(emu.url, 1, "warm-up [lf-emulator:submit=0] [lf-emulator:duration=0]", "w" + tag)
    )
    asyncio.run(_start_jobs(emu.url, warm))

    def start() -> float:
        return asyncio.run(_start_jobs(emu.url, ids))[0]

    env = {_common.CONN_ENV: _common.conn_json(emu.url, auth)}
    assert emu.proc is not None
    return ids, warm[0], env, start, emu.url, emu.proc.pid


def _prepare_dbt(fake: Any, n: int, args: argparse.Namespace) -> Any:
    """N triggered (QUEUED) dbt Cloud runs, a finished warm-up run, the client env and a start function."""
    fake.admin("POST", "/_fake/reset")
    ids = fake.create_runs(n)
    warm = fake.create_runs(1)
    fake.start(warm, 0.0, 0.0)

    def start() -> float:
        return float(fake.start(ids, args.job_seconds, SUBMIT_SECONDS))

    return ids, warm[0], fake.conn_env(), start, fake.url, fake.proc.pid


def measure(
    servers: dict[str, Any], mode: str, n: int, auth: str, args: argparse.Namespace, log_dir: str
) -> dict[str, Any]:
    tag = f"{mode}_{auth}_{n}".replace("-", "_")
    t0 = time.perf_counter()
    if mode in DBT_MODES:
        ids, warm, conn_env, start, url, pid = _prepare_dbt(servers["dbt"], n, args)
    else:
        ids, warm, conn_env, start, url, pid = _prepare_lf(servers["lf"], n, auth, args, tag)
    create_s = time.perf_counter() - t0

    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--client",
        mode,
        "--auth",
        auth,
        "--interval",
        str(args.interval),
        "--duration",
        str(args.duration),
        "--server-url",
        url,
        "--server-pid",
        str(pid),
        "--warmup-job",
        warm,
        "--window",
        str(args.window),
    ]
    if args.greenback:
        cmd.append("--greenback")
    if args.gc_freeze:
        cmd.append("--gc-freeze")
    env = {**os.environ, **conn_env}
    log_path = os.path.join(log_dir, f"client_{tag}.log")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env
        )
    try:
        _read_line(proc, "READY", 120)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"ids": ids}) + "\n")
        proc.stdin.flush()
        _read_line(proc, "POLLING", args.duration + 60)
        t_start = time.perf_counter()
        first = start()
        start_s = time.perf_counter() - t_start
        proc.stdin.write(json.dumps({"first_start": first, "run_seconds": args.job_seconds}) + "\n")
        proc.stdin.flush()
        result: dict[str, Any] = json.loads(_read_line(proc, "RESULT", args.duration + 60))
    except Exception as err:
        raise RuntimeError(f"{tag}: {err} (client log: {log_path})") from err
    finally:
        _stop(proc)
    result.update(create_s=create_s, start_s=start_s)
    return result


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


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from repeated runs: the median of each figure; the worst of the loss counters."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if key in ("lost", "duplicates", "crashed", "errors"):
            out[key] = max(r[key] for r in runs)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = _common.median([r[key] for r in runs])
    out["runs"] = len(runs)
    return out


def _row(n: int, mode: str, r: dict[str, Any], base: dict[str, Any] | None) -> list[object]:
    ratio = cpu_ratio = "baseline"
    if mode != "baseline":
        ratio = f"{r['polls_per_s'] / base['polls_per_s']:.2f}x" if base else "-"
        cpu_ratio = f"{r['cpu_us_per_poll'] / base['cpu_us_per_poll']:.2f}x" if base else "-"
    label = mode + (" +greenback" if r.get("greenback") else "") + (" +gc.freeze" if r["gc_freeze"] else "")
    return [
        n,
        label,
        r.get("loadavg", float("nan")),
        r["polls_per_s"],
        ratio,
        r["lag_p50_ms"],
        r["lag_p99_ms"],
        r["client_cpu"],
        r["cpu_us_per_poll"],
        cpu_ratio,
        r["server_cpu"],
        r["rss_kb_per_poller"],
        r["gc_objects_per_poller"],
        f"{r['gc_full']:g} / {r['gc_full_max_ms']:.0f}",
        f"{r['gc_pause_share'] * 100:.1f}",
        f"{n - r['lost']:g}/{n}",
        r["lost"],
        r["errors"],
        r["window_s"],
        r["startup_s"],
    ]


def _goal_checks(n: int, trig: dict[str, Any], base: dict[str, Any]) -> list[object]:
    """The trigger against the baseline of the same run (goals of docs/performance.md)."""
    ratio = trig["polls_per_s"] / base["polls_per_s"]
    lag = trig["lag_p99_ms"] / base["lag_p99_ms"]
    objects = trig["gc_objects_per_poller"] / base["gc_objects_per_poller"]
    cpu = trig["cpu_us_per_poll"] / base["cpu_us_per_poll"]
    checks = [
        ratio >= GOAL_RATIO,
        lag <= GOAL_LAG_RATIO or trig["lag_p99_ms"] < GOAL_LAG_P99_MS,
        objects <= GOAL_OBJECTS_RATIO,
        trig["rss_kb_per_poller"] <= GOAL_RSS_KB,
        cpu <= GOAL_CPU_RATIO,
        trig["lost"] == 0 and trig["duplicates"] == 0 and trig["crashed"] == 0 and trig["errors"] == 0,
    ]
    figures: list[object] = [
        n,
        f"{ratio:.2f}x",
        f"{trig['lag_p99_ms']:.1f} ({lag:.2f}x)",
        f"{trig['gc_objects_per_poller']:.0f} ({objects:.2f}x)",
        trig["rss_kb_per_poller"],
        f"{trig['cpu_us_per_poll']:.0f} ({cpu:.2f}x)",
        trig["lost"] + trig["duplicates"] + trig["crashed"] + trig["errors"],
    ]
    return figures + ["met" if c else "MISSED" for c in checks]


def _print_results(results: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    all_ok = True
    for auth in args.auth:
        rows: list[list[object]] = []
        goals: list[list[object]] = []
        for n in args.n:
            by_mode = {
                mode: _combine(runs)
                for mode in args.modes
                if (
                    runs := [
                        r
                        for r in results
                        if r["n"] == n and r["mode"] == mode and (r["auth"] == auth or mode in DBT_MODES)
                    ]
                )
            }
            base = by_mode.get("baseline")
            rows += [_row(n, mode, r, base) for mode, r in by_mode.items()]
            trig = by_mode.get("trigger")
            if trig is not None and base is not None:
                goals.append(_goal_checks(n, trig, base))
                all_ok &= "MISSED" not in goals[-1]
        repeats = f", median of {args.repeat} runs" if args.repeat > 1 else ""
        _common.print_table(
            [
                "N",
                "mode",
                "load",
                "polls/s",
                "ratio",
                "lag p50 ms",
                "lag p99 ms",
                "client CPU",
                "CPU µs/poll",
                "CPU/poll ratio",
                "server CPU",
                "RSS KB/poller",
                "GC objects/poller",
                "full GCs / max ms",
                "GC % of wall",
                "events",
                "lost",
                "errors",
                "window s",
                "start-up s",
            ],
            rows,
            title=f"auth={auth}, poll interval {args.interval} s, jobs RUNNING {args.job_seconds} s{repeats} "
            "(load = 1-min loadavg at the start of each measurement; CPU = cores busy during the window; "
            "CPU µs/poll = client CPU / polls in the window; GC = all collections in the client during "
            "the window; dbt-* rows poll the dbt Cloud fake over HTTPS)",
        )
        if goals:
            _common.print_table(
                [
                    "N",
                    "polls/s ratio",
                    "lag p99 ms (x baseline)",
                    "GC objects (x baseline)",
                    "RSS KB",
                    "CPU µs/poll (x baseline)",
                    "lost+dup+errors",
                    f">= {GOAL_RATIO}x",
                    f"p99 <= {GOAL_LAG_RATIO}x or < {GOAL_LAG_P99_MS:.0f} ms",
                    f"objects <= {GOAL_OBJECTS_RATIO}x",
                    f"<= {GOAL_RSS_KB:.0f} KB",
                    f"CPU <= {GOAL_CPU_RATIO}x",
                    "0 lost",
                ],
                goals,
                title=f"goals of the trigger against the baseline of the same run, auth={auth}",
            )
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000, 5000], help="fleet sizes")
    parser.add_argument("--auth", nargs="+", choices=["token", "aksk"], default=["token"], help="auth modes")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, seconds")
    parser.add_argument("--job-seconds", type=float, default=15.0, help="how long each job stays RUNNING")
    parser.add_argument(
        "--duration", type=float, default=90.0, help="upper bound per measurement (client side), seconds"
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=["baseline", "trigger", "dbt-cloud"],
        help="baseline-sessions: bare pollers with one ClientSession each (isolates the per-trigger "
        "session); dbt-cloud: the dbt Cloud provider's DbtCloudRunJobTrigger against a local fake of "
        "its endpoints (needs apache-airflow-providers-dbt-cloud); dbt-bare: bare aiohttp pollers over "
        "one shared HTTPS session against the same fake",
    )
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() the client's start-up heap (diagnostic)"
    )
    parser.add_argument("--greenback", action="store_true", help="open a greenback portal per trigger task")
    parser.add_argument("--emulator-workers", type=int, default=1, help="uvicorn workers (needs --state)")
    parser.add_argument("--emulator-arg", action="append", default=[], help="extra emulator CLI argument")
    parser.add_argument(
        "--window",
        type=float,
        default=0.0,
        help="measure this many seconds while the jobs are still CREATED / QUEUED (polled all the same), "
        "before starting them; for a loaded machine, where starting N jobs can outlast --job-seconds "
        "(default 0: the window runs after the start, while the jobs are RUNNING)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median reported)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the client/emulator logs")
    # client subprocess (internal)
    parser.add_argument("--client", choices=MODES, dest="mode", help=argparse.SUPPRESS)
    parser.add_argument("--server-url", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup-job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        args.auth = args.auth[0]
        return client_main(args)

    _common.raise_nofile_limit(4 * max(args.n) + 1024)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.modes = _available_modes(args.modes)
    _common.print_machine()
    log_dir = tempfile.mkdtemp(prefix="lf-trigger-fleet-")
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    emu_args = _emulator_args(args, log_dir)
    with contextlib.ExitStack() as stack:
        servers: dict[str, Any] = {}
        if any(m not in DBT_MODES for m in args.modes):
            emu = _common.EmulatorProcess(extra_args=emu_args, log_path=os.path.join(log_dir, "emulator.log"))
            servers["lf"] = stack.enter_context(emu)
            print(f"emulator: {' '.join(emu_args) or '(defaults)'} at {emu.url}; logs in {log_dir}")
        if any(m in DBT_MODES for m in args.modes):
            import _dbt_cloud_fake

            fake = _dbt_cloud_fake.FakeProcess(log_dir, os.path.join(log_dir, "dbt_cloud_fake.log"))
            servers["dbt"] = stack.enter_context(fake)
            print(f"dbt Cloud fake (HTTPS) at {fake.url}")
        print()
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
            print(
                f"  {auth:5s} N={n:<5d} {mode:17s} load={load:4.1f} polls/s={r['polls_per_s']:8.1f} "
                f"lag p99={r['lag_p99_ms']:6.1f} ms  CPU/poll={r['cpu_us_per_poll']:5.0f} us  "
                f"RSS/poller={r['rss_kb_per_poller']:5.1f} KB  lost={r['lost']} errors={r['errors']}  "
                f"window={r['window_s']:.1f} s  "
                f"(create {r['create_s']:.1f} s, start {r['start_s']:.1f} s, run {r['total_s']:.1f} s)",
                flush=True,
            )
    print(f"\ntotal {time.perf_counter() - t0:.0f} s\n")
    _print_results(results, args)
    if not args.keep_logs:
        import shutil

        shutil.rmtree(log_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
