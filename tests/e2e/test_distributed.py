"""The provider on a distributed Airflow, all on one machine, every part real:

PostgreSQL (metadata DB) and Redis (Celery broker) from ``scripts/services.sh``; ``airflow
scheduler``, ``dag-processor``, ``api-server``, two ``airflow celery worker`` processes (CeleryExecutor)
and two ``airflow triggerer`` processes; the emulator CLI as the LakeFormation service. The DAGs are
in ``tests/e2e/dags_distributed``. Every scenario is checked through the REST API, the emulator's
counters (``/_emulator/stats``: starts and stops per job) and the metadata DB (which triggerer holds
which trigger).

1. Fan-out and triggerer failover: ``n`` deferrable start tasks and ``n`` deferrable sensors (dynamic
   task mapping) wait on ``n`` jobs; once every trigger is held, the triggerer holding most is
   SIGKILLed and the other must take them all over. Every task succeeds on its first try (no event
   lost), every job is started exactly once and never stopped.
2. Worker loss mid-start: the Celery worker running a synchronous start task is SIGKILLed while the
   task waits; the retry (on the other worker) reconnects to its run through the task state store
   (``ResumableJobMixin``) instead of starting the job again.
3. A deferred start task marked failed through the REST API: the trigger's ``on_kill`` stops the
   job, once.
4. Asset watchers, exactly once with two triggerers: two assets watched by
   ``LakeFormationJobRunTrigger`` (same jobs, one shared-stream key), one consumer DAG per asset; a
   watched job is run ``WATCH_RUNS`` times outside Airflow (each run ended before the next starts)
   and each consumer must run exactly that many times, each asset get exactly that many events:
   once with the shared stream (``[lakeformation] status_feed`` on, Airflow 3.3+) and once with
   every watcher polling alone (``AIRFLOW__LAKEFORMATION__STATUS_FEED=false`` for both triggerers).

Figures (takeover seconds, triggers per triggerer, throughput) are printed; docs/scaling.md quotes
them. Run alone: ``bash scripts/test.sh tests/e2e/test_distributed.py -s``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.e2e.conftest import (
    REPO,
    ProcessGroup,
    airflow_cli,
    airflow_env,
    free_port,
    job_status,
    lakeformation_conn,
    start_emulator_process,
    wait_http,
)
from tests.e2e.test_asset_watcher import run_outside_airflow
from tests.e2e.test_real_scheduler import AirflowStack, _wait_for_dag

psycopg2 = pytest.importorskip("psycopg2", reason="install the 'distributed' extra")

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.distributed, pytest.mark.timeout(900)]

DAGS = Path(__file__).with_name("dags_distributed")
SERVICES = REPO / "scripts" / "services.sh"
FANOUT, SYNC_START, DEFERRED_START = "lf_dist_fanout", "lf_dist_sync_start", "lf_dist_deferred_start"
#: The consumer DAGs of dags_distributed/lf_dist_watch.py, each scheduled on its watched asset.
WATCH_CONSUMERS = ("lf_dist_watch_a", "lf_dist_watch_b")
WATCH_RUNS = 3
TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKERS = ("worker-1", "worker-2")
CORE = ("api-server", "scheduler", "dag-processor")
FANOUT_N = 50
FANOUT_JOB_SECONDS = 60
#: Seconds without a heartbeat after which a triggerer counts as dead and loses its triggers. Airflow's
#: default (30 s): with 10 s, a heavily loaded machine (load average ~20 on 2 cores) once moved a live
#: trigger between the two triggerers and Airflow cancelled it on the first one "by user action", so
#: the trigger's on_kill stopped a running job (see docs/scaling.md, "A finding").
TRIGGERER_HEALTH_THRESHOLD = 30
WAIT = 420.0  # generous: the machine may be slow and shared

T = TypeVar("T")


def poll(what: str, check: Callable[[], T | None], timeout: float = WAIT, every: float = 0.5) -> T:
    """Call ``check`` until it returns something other than ``None``/``False``. An HTTP call that
    times out (a loaded machine) is tried again at the next round."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except requests.RequestException as exc:
            last, result = exc, None
        if result is not None and result is not False:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last})")


# ------------------------------------------------------------------------------------ services


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, str]]:
    """PostgreSQL and Redis on free ports (installed from Debian's packages if missing)."""
    # Not under pytest's tmp dir (mode 700): as root, PostgreSQL runs as the `postgres` user.
    base = tempfile.mkdtemp(prefix="lf-dist-services-")
    os.chmod(base, 0o755)
    try:
        proc = subprocess.run(
            ["bash", str(SERVICES), "start", base], capture_output=True, text=True, timeout=900, check=False
        )
        assert proc.returncode == 0, f"scripts/services.sh start failed:\n{proc.stdout}\n{proc.stderr}"
        found = dict(
            line.split("=", 1) for line in Path(base, "services.env").read_text().splitlines() if "=" in line
        )
        yield found
    finally:
        subprocess.run(["bash", str(SERVICES), "stop", base], timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------------ the stack


@dataclass
class DistStack(AirflowStack):
    pg_url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg2.connect(self.pg_url) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            rows: list[tuple[Any, ...]] = cur.fetchall()
        conn.close()
        return rows

    def triggers(self) -> list[tuple[str, str, int, str | None]]:
        """``(dag_id, task_id, map_index, triggerer host)`` of every trigger a task waits on."""
        rows = self.sql(
            "SELECT ti.dag_id, ti.task_id, ti.map_index, j.hostname FROM trigger t "
            "JOIN task_instance ti ON ti.trigger_id = t.id "
            "LEFT JOIN job j ON j.id = t.triggerer_id"
        )
        return [(str(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones included), page by page."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances"
        found: list[dict[str, Any]] = []
        while True:
            body = self.call("GET", path, params={"limit": 100, "offset": len(found)}).json()
            found.extend(body["task_instances"])
            if not body["task_instances"] or len(found) >= int(body["total_entries"]):
                return found

    def still_running(self, dag_id: str, run_id: str) -> None:
        """Fail at once (with the task states and the logs) if the run has already failed."""
        if self.run_state(dag_id, run_id) == "failed":
            states = Counter((ti["task_id"], ti["state"]) for ti in self.task_instances(dag_id, run_id))
            raise AssertionError(f"run {run_id} of {dag_id} failed: {dict(states)}\n{self.diagnostics()}")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = WAIT) -> str:
        def ended() -> str | None:
            state = self.run_state(dag_id, run_id)
            return state if state in ("success", "failed") else None

        return poll(f"run {run_id} of {dag_id} to end", ended, timeout=timeout, every=1.0)

    def diagnostics(self) -> str:
        names = (*CORE, *TRIGGERERS, *WORKERS, "emulator")
        return "\n".join(f"--- {name}\n{self.group.log(name)[-2500:]}" for name in names)


def _cluster_env(home: Path, services: dict[str, str], api_port: int) -> dict[str, str]:
    pg = services["PG_URL"].replace("postgresql://", "postgresql+psycopg2://", 1)
    return airflow_env(
        home,
        None,  # the LakeFormation connection lives in the metadata DB
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg,
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CELERY__BROKER_URL=services["REDIS_URL"],
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + pg,
        AIRFLOW__CELERY__WORKER_CONCURRENCY="4",
        # A loaded machine answers slowly: tasks wait longer for the execution API instead of failing.
        AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
        AIRFLOW__WORKERS__EXECUTION_API_RETRIES="10",
        AIRFLOW__CORE__PARALLELISM="64",
        AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="64",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.e2e.dist_hostname.hostname",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        # A task whose worker died is failed (and retried) after 20 s without a heartbeat.
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="3",
        # Triggerer HA: heartbeat every 2 s, dead after TRIGGERER_HEALTH_THRESHOLD s; claim at most
        # 10 triggers per loop so both triggerers get a share.
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="2",
        AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=str(TRIGGERER_HEALTH_THRESHOLD),
        AIRFLOW__TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP="10",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
        PYTHONPATH=str(REPO),
    )


def _airflow(env: dict[str, str], *args: str, timeout: float = 600) -> None:
    proc = subprocess.run(
        airflow_cli(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"airflow {' '.join(args[:2])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def _start_components(group: ProcessGroup, env: dict[str, str]) -> None:
    for name in CORE:
        group.start(name, airflow_cli(name), env)
    for name in TRIGGERERS:
        own = {**env, "LF_E2E_HOSTNAME": name, "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
        group.start(name, airflow_cli("triggerer"), own)
    for name in WORKERS:
        own = {**env, "LF_E2E_HOSTNAME": name, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
        group.start(name, airflow_cli("celery", "worker", "--celery-hostname", f"{name}@%h"), own)


@pytest.fixture(scope="module")
def dist(services: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistStack]:
    base = tmp_path_factory.mktemp("distributed")
    home = base / "airflow_home"
    home.mkdir()
    (home / "airflow.cfg").write_text("[core]\nload_examples = False\n")
    group = ProcessGroup(base)
    started = time.monotonic()
    try:
        # Jobs run as long as their description says ([lf-emulator:duration=N]).
        emulator = start_emulator_process(group, run_seconds=5.0, submit_seconds=0.5)
        api_port = free_port()
        env = _cluster_env(home, services, api_port)
        _airflow(env, "db", "migrate")
        _start_components(group, env)
        stack = DistStack(
            api=f"http://127.0.0.1:{api_port}",
            home=home,
            emulator=emulator,
            group=group,
            pg_url=services["PG_URL"],
            env=env,
        )
        try:
            wait_http(f"{stack.api}/api/v2/version", timeout=180, proc=group.procs["api-server"])
            token = stack.call("GET", "/auth/token").json()["access_token"]
            stack.http.headers["Authorization"] = f"Bearer {token}"
            # The LakeFormation connection lives in the metadata DB, as in production.
            conn = {"connection_id": "lakeformation_default", **json.loads(lakeformation_conn(emulator.url))}
            conn["extra"] = json.dumps(conn["extra"])
            stack.call("POST", "/api/v2/connections", json=conn)
            for dag_id in (FANOUT, SYNC_START, DEFERRED_START, *WATCH_CONSUMERS):
                _wait_for_dag(stack, dag_id, timeout=180)
            poll("two triggerers and two workers", lambda: _components_up(stack), timeout=180)
        except Exception as exc:
            raise AssertionError(
                f"the distributed Airflow did not come up: {exc}\n{stack.diagnostics()}"
            ) from exc
        print(f"\ndistributed stack up in {time.monotonic() - started:.1f}s")
        yield stack
    finally:
        group.close()


def _components_up(stack: DistStack) -> bool:
    rows = stack.sql(
        "SELECT hostname FROM job WHERE job_type = 'TriggererJob' AND end_date IS NULL "
        "AND latest_heartbeat > now() - interval '10 seconds'"
    )
    workers = [name for name in WORKERS if "ready." in stack.group.log(name)]
    return {r[0] for r in rows} >= set(TRIGGERERS) and len(workers) == len(WORKERS)


def _job_ids(stack: DistStack, dag_id: str, run_id: str, task_id: str = "create_jobs") -> list[str]:
    ids = stack.xcom(dag_id, run_id, task_id)
    assert isinstance(ids, list), ids
    return [str(i) for i in ids]


# ------------------------------------------------------------------------------------ scenarios


@dataclass
class TriggerWatch:
    """What the trigger table showed while a run waited."""

    deferred: set[tuple[str, int]] = field(default_factory=set)  # (task_id, map_index) seen deferred
    peak_by_host: Counter[str] = field(default_factory=Counter)  # most triggers a triggerer held at once

    def observe(self, rows: list[tuple[str, str, int, str | None]], dag_id: str) -> Counter[str]:
        mine = [r for r in rows if r[0] == dag_id]
        self.deferred.update((task_id, map_index) for _, task_id, map_index, _ in mine)
        held = Counter(host or "unassigned" for *_, host in mine)
        for host, count in held.items():
            self.peak_by_host[host] = max(self.peak_by_host[host], count)
        return held


def _until_sensors_held(stack: DistStack, run_id: str, watch: TriggerWatch) -> Counter[str]:
    """Wait until every sensor waits on a triggerer; the triggerers' shares at that moment."""

    def all_held() -> Counter[str] | None:
        stack.still_running(FANOUT, run_id)
        rows = stack.triggers()
        held = watch.observe(rows, FANOUT)
        sensors = [r for r in rows if r[0] == FANOUT and r[1] == "wait" and r[3] in TRIGGERERS]
        return held if len(sensors) == FANOUT_N else None

    try:
        return poll(f"all {FANOUT_N} sensors of {run_id} held by a triggerer", all_held, timeout=WAIT)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; seen deferred: {len(watch.deferred)}\n{stack.diagnostics()}") from exc


def _kill_and_time_takeover(stack: DistStack, held: Counter[str], watch: TriggerWatch) -> tuple[str, float]:
    """SIGKILL the triggerer holding most triggers; seconds until the other holds all of them."""
    victim = max(TRIGGERERS, key=lambda host: held[host])
    survivor = next(host for host in TRIGGERERS if host != victim)
    killed_at = time.monotonic()
    stack.group.kill(victim, signal.SIGKILL)

    def taken_over() -> bool:
        hosts = watch.observe(stack.triggers(), FANOUT)
        return set(hosts) <= {survivor}

    poll(f"{survivor} to take over the triggers of {victim}", taken_over, timeout=WAIT, every=0.25)
    return victim, time.monotonic() - killed_at


def _release_and_finish(stack: DistStack, run_id: str, awaited: list[str], watch: TriggerWatch) -> str:
    """Start the jobs the sensors wait on (as another system would), then wait for the run."""
    for job_id in awaited:
        resp = stack.emulator.api("POST", f"/lf-jobs/{job_id}/start")
        assert resp.status_code < 300, f"starting {job_id}: {resp.status_code} {resp.text}"

    def ended() -> str | None:
        watch.observe(stack.triggers(), FANOUT)
        state = stack.run_state(FANOUT, run_id)
        return state if state in ("success", "failed") else None

    return poll(f"run {run_id} to end", ended, timeout=WAIT, every=1.0)


def test_fanout_with_triggerer_failover(dist: DistStack) -> None:
    started = time.monotonic()
    run_id = dist.trigger(FANOUT, {"n": FANOUT_N, "duration": FANOUT_JOB_SECONDS})
    watch = TriggerWatch()
    held = _until_sensors_held(dist, run_id, watch)
    held_after = time.monotonic() - started
    assert all(held[host] > 0 for host in TRIGGERERS), f"both triggerers should hold triggers: {held}"
    victim, takeover = _kill_and_time_takeover(dist, held, watch)
    awaited = _job_ids(dist, FANOUT, run_id, "create_awaited")
    state = _release_and_finish(dist, run_id, awaited, watch)
    wall = time.monotonic() - started
    tis = dist.task_instances(FANOUT, run_id)
    print(
        f"\nfan-out {FANOUT_N} starts + {FANOUT_N} sensors: all sensors deferred after {held_after:.1f}s, "
        f"triggers held then {dict(held)}; SIGKILLed {victim}; the survivor held all its triggers "
        f"{takeover:.1f}s later (health threshold {TRIGGERER_HEALTH_THRESHOLD}s); run {state} after "
        f"{wall:.1f}s, {len(tis)} task instances ({len(tis) / wall:.2f}/s); peak triggers per triggerer "
        f"{dict(watch.peak_by_host)}"
    )
    assert state == "success", f"{Counter(ti['state'] for ti in tis)}\n{dist.diagnostics()}"
    assert held[victim] > 0
    # No event lost: every mapped task deferred, then resumed and succeeded on its first try.
    assert watch.deferred == {(task, i) for task in ("start", "wait") for i in range(FANOUT_N)}
    mapped = {(ti["task_id"], ti["state"], ti["try_number"]) for ti in tis if ti["map_index"] >= 0}
    assert mapped == {("start", "success", 1), ("wait", "success", 1)}
    assert len([ti for ti in tis if ti["map_index"] >= 0]) == 2 * FANOUT_N
    job_ids = _job_ids(dist, FANOUT, run_id, "create_started") + awaited
    assert len(set(job_ids)) == 2 * FANOUT_N
    stats = dist.emulator.stats()
    # Every job started exactly once (by its start task, or by the test for the awaited ones), never
    # stopped, and SUCCESS.
    assert {j: stats["starts"].get(j, 0) for j in job_ids} == dict.fromkeys(job_ids, 1)
    assert [j for j in job_ids if j in stats["stops"]] == []
    assert {job_status(dist.emulator.job(j)) for j in job_ids} == {"SUCCESS"}


def _worker_of(stack: DistStack, dag_id: str, run_id: str) -> str | None:
    stack.still_running(dag_id, run_id)
    for ti in stack.task_instances(dag_id, run_id):
        if ti["task_id"] == "start" and ti["state"] == "running" and ti.get("hostname") in WORKERS:
            return str(ti["hostname"])
    return None


def test_worker_loss_mid_start_reconnects(dist: DistStack) -> None:
    started = time.monotonic()
    run_id = dist.trigger(SYNC_START, {"duration": 90})
    worker = poll(
        "the synchronous start task to run on a worker", lambda: _worker_of(dist, SYNC_START, run_id)
    )
    job_id = _job_ids(dist, SYNC_START, run_id)[0]
    # Kill only once the job has been started (the task then waits on the worker).
    poll(f"job {job_id} started", lambda: dist.emulator.stats()["starts"].get(job_id))
    dist.group.kill(worker, signal.SIGKILL)
    killed_at = time.monotonic()
    state = dist.wait_run(SYNC_START, run_id)
    ti = next(t for t in dist.task_instances(SYNC_START, run_id) if t["task_id"] == "start")
    stats = dist.emulator.stats()
    print(
        f"\nworker loss: killed {worker}; retry ran on {ti['hostname']} (try {ti['try_number']}), "
        f"run {state} "
        f"{time.monotonic() - killed_at:.1f}s after the kill ({time.monotonic() - started:.1f}s in all); "
        f"starts {stats['starts'].get(job_id)}, stops {stats['stops'].get(job_id, 0)}"
    )
    assert state == "success", dist.diagnostics()
    assert ti["try_number"] == 2, ti
    assert ti["hostname"] != worker
    assert stats["starts"].get(job_id) == 1
    assert job_id not in stats["stops"]
    assert job_status(dist.emulator.job(job_id)) == "SUCCESS"
    # The retry found the run in the task state store: it reconnected to it (or, on a slow machine,
    # found it already finished), and never started the job again.
    log = dist.task_log(SYNC_START, run_id, "start", try_number=2)
    assert (
        "reconnected to the run of LakeFormation job" in log
        or "started by an earlier try already finished" in log
    ), log[-3000:]


def test_mark_deferred_start_failed_stops_job_once(dist: DistStack) -> None:
    run_id = dist.trigger(DEFERRED_START, {"duration": 600})

    def held() -> str | None:
        dist.still_running(DEFERRED_START, run_id)
        rows = [r for r in dist.triggers() if r[0] == DEFERRED_START]
        return rows[0][3] if rows and rows[0][3] in TRIGGERERS else None

    host = poll("the deferred start's trigger to be held by a triggerer", held)
    job_id = _job_ids(dist, DEFERRED_START, run_id)[0]
    assert job_status(dist.emulator.job(job_id)) in ("SUBMITTED", "RUNNING")
    marked_at = time.monotonic()
    dist.call(
        "PATCH", f"{dist._run_path(DEFERRED_START, run_id)}/taskInstances/start", json={"new_state": "failed"}
    )
    poll(f"job {job_id} STOPPED", lambda: job_status(dist.emulator.job(job_id)) == "STOPPED", every=0.25)
    stopped_after = time.monotonic() - marked_at
    poll("the trigger to be gone", lambda: not [r for r in dist.triggers() if r[0] == DEFERRED_START])
    stats = dist.emulator.stats()
    print(
        f"\nmarked failed: job stopped {stopped_after:.1f}s later by the trigger on {host}; "
        f"stops {stats['stops'].get(job_id)}, starts {stats['starts'].get(job_id)}"
    )
    assert dist.run_state(DEFERRED_START, run_id) == "failed"
    assert stats["stops"].get(job_id) == 1
    assert stats["starts"].get(job_id) == 1


# ------------------------------------------------------------------- asset watchers, exactly once


def _start_triggerers(stack: DistStack, feed: bool) -> None:
    """(Re)start both triggerers (SIGTERM first; one may have been SIGKILLed by an earlier
    scenario) with ``[lakeformation] status_feed`` set to ``feed``."""
    for name in TRIGGERERS:
        if name in stack.group.procs:
            stack.group.stop(name)
    for name in TRIGGERERS:
        own = {
            **stack.env,
            "LF_E2E_HOSTNAME": name,
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LAKEFORMATION__STATUS_FEED": str(feed).lower(),
        }
        stack.group.start(name, airflow_cli("triggerer"), own, append=True)


def _watchers_held(stack: DistStack) -> dict[int, str] | None:
    """Trigger id -> live triggerer holding it, once both watcher triggers are held by one."""
    rows = stack.sql(
        "SELECT t.id, j.hostname FROM trigger t LEFT JOIN job j ON j.id = t.triggerer_id "
        "AND j.end_date IS NULL AND j.latest_heartbeat > now() - interval '10 seconds' "
        "WHERE t.classpath LIKE %s",
        "%LakeFormationJobRunTrigger",
    )
    held = {int(r[0]): str(r[1]) for r in rows if r[1] in TRIGGERERS}
    return held if len(rows) == len(WATCH_CONSUMERS) and len(held) == len(rows) else None


def _baselines(stack: DistStack) -> int:
    return int(
        stack.sql(
            "SELECT count(*) FROM asset_state_store s JOIN asset a ON a.id = s.asset_id "
            "WHERE a.uri LIKE %s AND s.key LIKE %s",
            "%/hive/dist_watch_%",
            "lakeformation_job_runs:%",
        )[0][0]
    )


def _watch_counts(stack: DistStack) -> dict[str, tuple[int, int]]:
    """Consumer DAG id -> (its DAG runs, the events of its asset)."""
    found = {}
    for dag_id in WATCH_CONSUMERS:
        database = dag_id.replace("lf_dist_", "dist_")
        runs = stack.sql("SELECT count(*) FROM dag_run WHERE dag_id = %s", dag_id)[0][0]
        events = stack.sql(
            "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri LIKE %s",
            f"%/hive/{database}",
        )[0][0]
        found[dag_id] = (int(runs), int(events))
    return found


def _list_polls(stack: DistStack) -> int:
    return int(stack.emulator.stats()["by_route"].get("list_jobs", 0))


def _watch_round(stack: DistStack, job_id: str, feed: bool) -> dict[str, Any]:
    """Restart both triggerers with the feed on or off, run the job WATCH_RUNS times; the counts."""
    started = time.monotonic()
    _start_triggerers(stack, feed)
    held = poll("both watcher triggers held by a live triggerer", lambda: _watchers_held(stack), every=1.0)
    # Deployed: each watcher has stored its first marks (its baseline: runs that ended before are
    # never reported, so the test's runs must start after it).
    poll("both watchers' baselines in their asset state stores", lambda: _baselines(stack) == 2)
    up = time.monotonic() - started
    before = _watch_counts(stack)
    polls_from, polled_at = _list_polls(stack), time.monotonic()
    for i in range(1, WATCH_RUNS + 1):
        run_outside_airflow(stack.emulator, job_id)
        # the next run only once this one's consumer runs exist (asset events that arrive before the
        # scheduler creates a run would be consumed by one run)
        poll(f"consumer runs after run {i} (feed {feed})", functools.partial(_runs_reach, stack, before, i))
    polling = time.monotonic() - polled_at
    list_polls = _list_polls(stack) - polls_from
    # Several more polls (2 s apart) with nothing new: nothing is reported twice.
    more, idle_from = _list_polls(stack), time.monotonic()
    poll("more watcher polls", lambda: _list_polls(stack) >= more + 10, every=0.1)
    idle_rate = (_list_polls(stack) - more) / (time.monotonic() - idle_from)
    after = _watch_counts(stack)
    for dag_id in WATCH_CONSUMERS:
        poll(f"{dag_id}'s runs to end", functools.partial(_consumer_runs_done, stack, dag_id))
    return {
        "feed": feed,
        "held": held,
        "up": up,
        "runs": {d: after[d][0] - before[d][0] for d in WATCH_CONSUMERS},
        "events": {d: after[d][1] - before[d][1] for d in WATCH_CONSUMERS},
        "list_polls_per_s": list_polls / polling,
        "idle_list_polls_per_s": idle_rate,
        "seconds": time.monotonic() - started,
    }


def _runs_reach(stack: DistStack, before: dict[str, tuple[int, int]], more: int) -> bool:
    return all(_watch_counts(stack)[d][0] >= before[d][0] + more for d in WATCH_CONSUMERS)


def _consumer_runs_done(stack: DistStack, dag_id: str) -> bool:
    rows = stack.sql("SELECT state FROM dag_run WHERE dag_id = %s", dag_id)
    assert all(r[0] != "failed" for r in rows), f"a run of {dag_id} failed\n{stack.diagnostics()}"
    return all(r[0] == "success" for r in rows)


def test_asset_watchers_fire_exactly_once_with_two_triggerers(dist: DistStack) -> None:
    created = dist.emulator.api(
        "POST",
        "/lf-jobs",
        json={
            "name": "lf_dist_watched_job",
            "description": "watched by two assets [lf-emulator:duration=1]",
            "type": "METADATA_DISCOVERY",
            "parameter": {
                "metadata_discovery_parameter": {
                    "data_location": "obs://dist-e2e/watched/",
                    "target_catalog": "hive",
                    "target_database": "dist_watch",
                    "conflict_strategy": "UPSERT",
                    "file_discovery_type": "PARQUET",
                    "log_location": "obs://dist-e2e/logs/",
                    "instance_id": "lf-emulator-instance",
                }
            },
        },
    )
    assert created.status_code == 201, created.text
    job_id = str(created.json()["id"])
    rounds = [_watch_round(dist, job_id, feed) for feed in (True, False)]
    for r in rounds:
        print(
            f"\nwatchers, status_feed {'on' if r['feed'] else 'off'}: triggers held by "
            f"{sorted(r['held'].values())} ({r['up']:.1f}s after the restart); {WATCH_RUNS} runs -> "
            f"consumer runs {r['runs']}, asset events {r['events']}; list requests/s "
            f"{r['list_polls_per_s']:.2f} while the runs went on, {r['idle_list_polls_per_s']:.2f} idle "
            f"(poll interval 2 s); round {r['seconds']:.1f}s"
        )
    stats = dist.emulator.stats()
    assert stats["starts"].get(job_id) == 2 * WATCH_RUNS
    on = rounds[0]
    if len(set(on["held"].values())) == 1:  # one triggerer holds both: one shared poll (every 2 s)
        assert on["idle_list_polls_per_s"] < 0.75, on
    for r in rounds:
        assert r["runs"] == dict.fromkeys(WATCH_CONSUMERS, WATCH_RUNS), f"{r}\n{dist.diagnostics()}"
        assert r["events"] == dict.fromkeys(WATCH_CONSUMERS, WATCH_RUNS), f"{r}\n{dist.diagnostics()}"
