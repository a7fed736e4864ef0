"""A fleet of ``LakeFormationJobTrigger``s in one asyncio loop vs a bare aiohttp polling loop.

For each N (``--n``) and auth mode (``--auth``) this runs two measurements against the same emulator
(``python -m airflow_provider_lakeformation.emulator`` in a separate process):

* ``baseline``: N tasks doing the bare GETs the trigger does (one shared ``aiohttp.ClientSession``,
  same auth headers, JSON parsed, ``sleep(interval)`` between polls) until the job is terminal;
* ``trigger``:  N ``LakeFormationJobTrigger(poll_interval=interval)`` whose ``run()`` is consumed as an
  async generator, each in its own task, as the triggerer does (``--greenback`` also opens a greenback
  portal per task first, as the triggerer does unless AIRFLOW_DISABLE_GREENBACK_PORTAL is set). The
  connection comes from ``AIRFLOW_CONN_LAKEFORMATION_DEFAULT`` (JSON) pointing at the emulator.

Each measurement runs in a fresh client subprocess (clean heap for the RSS figure; in both modes it
imports Airflow and the trigger module, so the heaps a garbage collection walks are alike). The
parent resets the emulator and creates N jobs that will run ``--job-seconds``
(``[lf-emulator:duration=...]``); the client starts its pollers on the still CREATED jobs (not
terminal, so they keep polling); once every poller has polled once (start-up: connection lookups,
sessions) the parent starts the jobs. The steady-state window opens one interval after the last start
and closes just before the first job can finish (a whole number of intervals); then the client waits
for every event (bounded by ``--duration``).

Reported per measurement (window figures): polls/s (emulator ``/_emulator/stats``, GET-job route),
event-loop lag p50/p99 (a probe sleeping 10 ms, oversleep), client CPU and emulator CPU (CPU seconds
per wall second, i.e. cores busy), RSS per poller (RSS growth from before the pollers to the end of the
window, / N), events delivered / lost. Goals: trigger polls/s >= 0.8 x baseline at N = 1,000, loop lag
p99 < 100 ms, < 50 KB RSS per trigger, zero lost events.

    python benchmarks/trigger_fleet.py                          # N = 100 1000 5000, ~3 min on 2 cores
    python benchmarks/trigger_fleet.py --n 1000 --auth token aksk --interval 1 --job-seconds 20
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

GOAL_RATIO = 0.8
GOAL_LAG_P99_MS = 100.0
GOAL_RSS_KB = 50.0
MODES = ["baseline", "baseline-sessions", "trigger"]
TERMINAL = frozenset({"SUCCESS", "FAILED", "STOPPED", "PARTIAL_SUCCESS"})
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

        await _gather_limited([functools.partial(start, j) for j in ids], 32)
    return first, time.time()


def _markers(run_seconds: float) -> str:
    return f"fleet bench [lf-emulator:submit={SUBMIT_SECONDS}] [lf-emulator:duration={run_seconds}]"


def _get_job_count(stats: dict[str, Any]) -> int:
    """Requests on the GET-job route (falls back to all requests)."""
    by_route = stats.get("by_route") or {}
    if "get_job" in by_route:
        return int(by_route["get_job"])
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


async def _bare_poller(
    session: Any,
    url: str,
    headers: Callable[[], dict[str, str]],
    interval: float,
    events: list[dict[str, Any]],
    delay: float,
) -> None:
    import aiohttp

    await asyncio.sleep(delay)
    job_id = url.rsplit("/", 1)[1]
    while True:
        try:
            async with session.get(url, headers=headers()) as resp:
                if resp.status == 200:
                    body = await resp.json()
                    status = body.get("status")
                    if isinstance(status, dict):
                        status = status.get("status")
                    if status in TERMINAL:
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
        events.append(dict(event.payload))


async def _client(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    import psutil

    # Both modes import the trigger module (and with it Airflow), so both processes carry the same
    # heap: a full garbage collection costs the same in both, and the RSS delta is only the pollers'.
    from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

    me = psutil.Process()
    emulator = psutil.Process(args.emulator_pid)
    url = args.emulator_url
    jobs = _common.jobs_url(url)
    interval = args.interval

    def server_cpu() -> float:
        total = 0.0
        for p in [emulator, *emulator.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    admin = aiohttp.ClientSession()

    async def stats() -> dict[str, Any]:
        async with admin.get(f"{url}/_emulator/stats") as resp:
            return dict(await resp.json())

    # ---- pollers and warm-up (imports, first connection lookup, first session) -------------------
    session: Any = None
    make_task: Callable[[str, list[dict[str, Any]], float], Awaitable[None]]
    if args.mode.startswith("baseline"):
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=60, connect=10),
        )
        if args.auth == "aksk":
            from airflow_provider_lakeformation.auth import sign_request

            base_headers = {"Content-Type": "application/json"}

            def make_task(job_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
                job_url = f"{jobs}/{job_id}"

                def headers() -> dict[str, str]:
                    return sign_request(
                        "GET",
                        job_url,
                        base_headers,
                        None,
                        _common.AK,
                        _common.SK,
                        project_id=_common.PROJECT_ID,
                    )

                return _bare_poller(session, job_url, headers, interval, events, delay)

        elif args.mode == "baseline-sessions":
            token = {"X-Auth-Token": _common.TOKEN}

            async def own_session(job_id: str, events: list[dict[str, Any]], delay: float) -> None:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=10)) as own:
                    await _bare_poller(own, f"{jobs}/{job_id}", lambda: token, interval, events, delay)

            make_task = own_session

        else:
            token = {"X-Auth-Token": _common.TOKEN}

            def make_task(job_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
                return _bare_poller(session, f"{jobs}/{job_id}", lambda: token, interval, events, delay)

    else:

        def make_task(job_id: str, events: list[dict[str, Any]], delay: float) -> Awaitable[None]:
            trigger = LakeFormationJobTrigger(
                job_id=job_id, lakeformation_conn_id="lakeformation_default", poll_interval=interval
            )
            return _consume_trigger(trigger, events, args.greenback, delay)

    warm_events: list[dict[str, Any]] = []
    await asyncio.wait_for(make_task(args.warmup_job, warm_events, 0.0), timeout=60)
    if not warm_events or warm_events[0].get("status") != "success":
        raise RuntimeError(f"warm-up poll failed: {warm_events}")
    del warm_events
    await stats()
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
    count0 = _get_job_count(await stats())
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
        if _get_job_count(await stats()) - count0 >= n or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    startup_s = time.perf_counter() - t_launch
    await asyncio.sleep(interval)

    # ---- the parent starts the jobs; steady state from one interval after the last start ---------
    _PROTOCOL.write("POLLING\n")
    _PROTOCOL.flush()
    plan = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    first_end = plan["first_start"] + SUBMIT_SECONDS + plan["run_seconds"]
    await asyncio.sleep(max(0.0, min(interval, first_end - END_MARGIN - time.time())))

    w0 = (time.perf_counter(), time.process_time(), server_cpu(), _get_job_count(await stats()))
    # A whole number of intervals, so the count does not depend on where the window cuts a cycle.
    available = first_end - END_MARGIN - time.time()
    await asyncio.sleep(available // interval * interval if available >= interval else max(available, 0.0))
    w1 = (time.perf_counter(), time.process_time(), server_cpu(), _get_job_count(await stats()))
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
        "server_cpu": (w1[2] - w0[2]) / window if window > 0 else float("nan"),
        "rss_before_mb": rss_before / 2**20,
        "rss_kb_per_poller": (rss_window - rss_before) / 1024 / n,
        "events": len(events),
        "successes": sum(1 for e in events if e.get("status") == "success"),
        "lost": n - len(delivered_ids & set(ids)),
        "duplicates": len(events) - len(delivered_ids),
        "crashed": crashed,
        "launch_s": launch_s,
        "startup_s": startup_s,
        "total_s": total_s,
        "greenback": bool(args.greenback and args.mode == "trigger"),
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


def measure(
    emu: _common.EmulatorProcess, mode: str, n: int, auth: str, args: argparse.Namespace, log_dir: str
) -> dict[str, Any]:
    assert emu.proc is not None
    emu.reset()
    tag = f"{mode}_{auth}_{n}".replace("-", "_")
    t0 = time.perf_counter()
    ids = asyncio.run(_create_jobs(emu.url, n, _markers(args.job_seconds), tag))
    warm = asyncio.run(
        _create_jobs(emu.url, 1, "warm-up [lf-emulator:submit=0] [lf-emulator:duration=0]", "w" + tag)
    )
    asyncio.run(_start_jobs(emu.url, warm))
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
        "--emulator-url",
        emu.url,
        "--emulator-pid",
        str(emu.proc.pid),
        "--warmup-job",
        warm[0],
    ]
    if args.greenback:
        cmd.append("--greenback")
    if args.gc_freeze:
        cmd.append("--gc-freeze")
    env = {**os.environ, _common.CONN_ENV: _common.conn_json(emu.url, auth)}
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
        first, _last = asyncio.run(_start_jobs(emu.url, ids))
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
        if key in ("lost", "duplicates", "crashed"):
            out[key] = max(r[key] for r in runs)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = _common.median([r[key] for r in runs])
    out["runs"] = len(runs)
    return out


def _print_results(results: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    all_ok = True
    for auth in args.auth:
        rows: list[list[object]] = []
        goals: list[list[object]] = []
        for n in args.n:
            by_mode = {
                mode: _combine(runs)
                for mode in args.modes
                if (runs := [r for r in results if r["auth"] == auth and r["n"] == n and r["mode"] == mode])
            }
            base = by_mode.get("baseline")
            trig = by_mode.get("trigger")
            for mode, r in by_mode.items():
                ratio = "baseline"
                if mode != "baseline":
                    ratio = f"{r['polls_per_s'] / base['polls_per_s']:.2f}x" if base else "-"
                rows.append(
                    [
                        n,
                        mode
                        + (" +greenback" if r.get("greenback") else "")
                        + (" +gc.freeze" if r["gc_freeze"] else ""),
                        n / r["interval"],
                        r["polls_per_s"],
                        ratio,
                        r["lag_p50_ms"],
                        r["lag_p99_ms"],
                        r["client_cpu"],
                        r["server_cpu"],
                        r["rss_kb_per_poller"],
                        r["gc_objects_per_poller"],
                        f"{r['gc_full']:g} / {r['gc_full_max_ms']:.0f}",
                        f"{r['gc_pause_share'] * 100:.1f}",
                        f"{n - r['lost']:g}/{n}",
                        r["lost"],
                        r["window_s"],
                        r["startup_s"],
                    ]
                )
            if trig is not None:
                ratio_v = trig["polls_per_s"] / base["polls_per_s"] if base else float("nan")
                checks = [
                    ratio_v >= GOAL_RATIO,
                    trig["lag_p99_ms"] < GOAL_LAG_P99_MS,
                    trig["rss_kb_per_poller"] < GOAL_RSS_KB,
                    trig["lost"] == 0 and trig["duplicates"] == 0 and trig["crashed"] == 0,
                ]
                all_ok &= all(checks)
                goals.append(
                    [n, f"{ratio_v:.2f}x", trig["lag_p99_ms"], trig["rss_kb_per_poller"], trig["lost"]]
                    + ["met" if c else "MISSED" for c in checks]
                )
        repeats = f", median of {args.repeat} runs" if args.repeat > 1 else ""
        _common.print_table(
            [
                "N",
                "mode",
                "demand/s",
                "polls/s",
                "ratio",
                "lag p50 ms",
                "lag p99 ms",
                "client CPU",
                "emulator CPU",
                "RSS KB/poller",
                "GC objects/poller",
                "full GCs / max ms",
                "GC % of wall",
                "events",
                "lost",
                "window s",
                "start-up s",
            ],
            rows,
            title=f"auth={auth}, poll interval {args.interval} s, jobs RUNNING {args.job_seconds} s{repeats} "
            f"(CPU = cores busy during the window; GC = all collections in the client during the window)",
        )
        if goals:
            _common.print_table(
                [
                    "N",
                    "ratio",
                    "lag p99 ms",
                    "RSS KB",
                    "lost",
                    ">= 0.8x",
                    "p99 < 100 ms",
                    "< 50 KB",
                    "0 lost",
                ],
                goals,
                title=f"goals, auth={auth} (the polls/s goal is stated for N = 1,000)",
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
        default=["baseline", "trigger"],
        help="baseline-sessions: bare pollers with one ClientSession each (isolates the per-trigger session)",
    )
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() the client's start-up heap (diagnostic)"
    )
    parser.add_argument("--greenback", action="store_true", help="open a greenback portal per trigger task")
    parser.add_argument("--emulator-workers", type=int, default=1, help="uvicorn workers (needs --state)")
    parser.add_argument("--emulator-arg", action="append", default=[], help="extra emulator CLI argument")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median reported)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the client/emulator logs")
    # client subprocess (internal)
    parser.add_argument("--client", choices=MODES, dest="mode", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-url", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup-job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        args.auth = args.auth[0]
        return client_main(args)

    _common.raise_nofile_limit(4 * max(args.n) + 1024)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _common.print_machine()
    log_dir = tempfile.mkdtemp(prefix="lf-trigger-fleet-")
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    emu_args = _emulator_args(args, log_dir)
    with _common.EmulatorProcess(extra_args=emu_args, log_path=os.path.join(log_dir, "emulator.log")) as emu:
        print(f"emulator: {' '.join(emu_args) or '(defaults)'} at {emu.url}; logs in {log_dir}\n")
        plan = [
            (auth, n, mode)
            for _ in range(args.repeat)
            for auth in args.auth
            for n in args.n
            for mode in args.modes
        ]
        for auth, n, mode in plan:
            r = measure(emu, mode, n, auth, args, log_dir)
            results.append(r)
            print(
                f"  {auth:5s} N={n:<5d} {mode:17s} polls/s={r['polls_per_s']:8.1f} "
                f"lag p99={r['lag_p99_ms']:6.1f} ms  RSS/poller={r['rss_kb_per_poller']:5.1f} KB  "
                f"lost={r['lost']}  window={r['window_s']:.1f} s  "
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
