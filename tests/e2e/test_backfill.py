"""Backfills and catch-up of the scheduled discovery example, run by Airflow's own scheduler.

The api-server, scheduler (LocalExecutor), dag-processor and triggerer run as subprocesses against
the emulator CLI (``tests/e2e/test_real_scheduler.py`` starts them). The DAGs folder holds two copies
of ``example_dags/example_lakeformation_scheduled_discovery.py`` in which only the settings block is
rewritten (each rewrite must match exactly one line of the example, so a renamed setting fails here):

- ``lf_e2e_backfill_discovery``: start date in the future, so the scheduler never creates a run of its
  own and every run comes from a backfill;
- ``lf_e2e_catchup_discovery``: ``catchup=True`` and a start date three days back, unpaused last.

Both poll the job every second instead of 30 s, and both append the Airflow Variable
``lf_e2e_note_<YYYYMMDD>`` (empty when unset) to the job description: that is how one day, and only
that day, gets the emulator's ``[lf-emulator:outcome=FAILED]`` marker. Everything else (tasks,
job names, ``if_exists="update"``, ``max_active_runs``, deferral) is the example's own code.

What is counted comes from the emulator, never from Airflow's view of itself: the jobs (by name), the
starts per job (``/_emulator/stats``) and the days in flight (overlap of the runs in each job's run
history, by their start and end timestamps). The scenarios run in file order on one stack; each one
skips if the one it builds on failed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.e2e.conftest import EXAMPLE_DAGS, ProcessGroup, airflow_cli, job_status
from tests.e2e.test_real_scheduler import AirflowStack, start_stack

# The module's stack (1-2 min on a loaded machine) counts against the first test's timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLE = EXAMPLE_DAGS / "example_lakeformation_scheduled_discovery.py"
BACKFILL_DAG = "lf_e2e_backfill_discovery"
CATCHUP_DAG = "lf_e2e_catchup_discovery"
CREATE, START = "create_daily_job", "run_daily_job"
JOB_TYPE = "METADATA_DISCOVERY"
DAYS = tuple(date(2025, 3, 1) + timedelta(days=i) for i in range(7))
#: The backfills' own limit (Airflow 3 does not apply the DAG's max_active_runs to backfill runs).
MAX_ACTIVE_RUNS = 3
FAILED_MARKER = "[lf-emulator:outcome=FAILED]"
#: Seconds a started job stays RUNNING in the emulator (plus 0.5 s SUBMITTED). Not shorter: when a
#: trigger fires before the scheduler has handled the executor's event for the deferring process,
#: Airflow 3.3 fails the re-queued task ("finished with state success, but the task instance's state
#: attribute is queued"); with 5 s jobs on a loaded machine that happened to 1 run in 10.
RUN_SECONDS = 15.0
WAIT = 420.0
TERMINAL = ("success", "failed")


def job_name(day: date) -> str:
    return f"daily_events_discovery_{day:%Y%m%d}"


def note_variable(day: date) -> str:
    return f"lf_e2e_note_{day:%Y%m%d}"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


# ------------------------------------------------------------------------------------ DAG copies


def _rewrite(text: str, pattern: str, replacement: str) -> str:
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} matches {count} lines of {EXAMPLE.name}, expected exactly one"
    return new


def example_copy(dag_id: str, start: datetime, *, catchup: bool) -> str:
    """The example's source with its settings block (and only that) rewritten for this test."""
    text = EXAMPLE.read_text()
    text = _rewrite(text, r'dag_id="example_lakeformation_scheduled_discovery"', f'dag_id="{dag_id}"')
    text = _rewrite(
        text,
        r"^START_DATE = .*$",
        f"START_DATE = datetime({start:%Y, %-m, %-d, %-H, %-M}, tzinfo=timezone.utc)",
    )
    text = _rewrite(text, r"^CATCHUP = .*$", f"CATCHUP = {catchup}")
    text = _rewrite(text, r"^POLL_INTERVAL = .*$", "POLL_INTERVAL = 1")
    note = "{{ var.value.get('lf_e2e_note_' ~ ds_nodash, '') }}"
    return _rewrite(text, r'^(\s*"description": "[^"\n]*)",$', rf'\1{note}",')


# ------------------------------------------------------------------------------------ the stack


@dataclass
class Backfills:
    """The stack plus what the scenarios measured, in order."""

    stack: AirflowStack
    catchup_start: datetime
    passed: set[str] = field(default_factory=set)
    figures: list[str] = field(default_factory=list)

    def require(self, scenario: str) -> None:
        if scenario not in self.passed:
            pytest.skip(f"builds on the {scenario!r} scenario, which did not pass")


@pytest.fixture(scope="module")
def backfills(migrated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfills]:
    base = tmp_path_factory.mktemp("backfill")
    dags = base / "dags"
    dags.mkdir()
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    # "@daily" is a cron trigger in Airflow 3: a run at each midnight from the start date, 3 of them
    # since a start date 3 days back (to the minute).
    catchup_start = now - timedelta(days=3)
    if (catchup_start.hour, catchup_start.minute) == (0, 0):  # not on a midnight: that would be a 4th run
        catchup_start += timedelta(minutes=1)
    (dags / f"{BACKFILL_DAG}.py").write_text(
        example_copy(BACKFILL_DAG, now + timedelta(days=365), catchup=False)
    )
    (dags / f"{CATCHUP_DAG}.py").write_text(example_copy(CATCHUP_DAG, catchup_start, catchup=True))
    group = ProcessGroup(base)
    started = time.monotonic()
    state: Backfills | None = None
    try:
        stack = start_stack(
            base, migrated_db, group, run_seconds=RUN_SECONDS, dags_folder=dags, unpause=(BACKFILL_DAG,)
        )
        _wait_dag(stack, CATCHUP_DAG)
        # The api-server builds its execution API on the first call: on a loaded machine that took
        # 48 s and the first tasks' start calls, sent again meanwhile, failed. Pay for it up front.
        requests.get(f"{stack.api}/execution/health", timeout=300)
        state = Backfills(stack=stack, catchup_start=catchup_start)
        yield state
    finally:
        group.close()
        print(f"\nbackfill module wall time: {time.monotonic() - started:.1f}s")
        for line in state.figures if state else []:
            print(line)


def _wait_dag(stack: AirflowStack, dag_id: str) -> None:
    deadline = time.monotonic() + 120
    while stack.http.get(f"{stack.api}/api/v2/dags/{dag_id}", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, f"DAG {dag_id} not parsed within 120 s\n{stack.diagnostics()}"
        time.sleep(1)


# ---------------------------------------------------------------------------- Airflow, by REST


#: The components that write to the metadata DB besides the api-server.
_WRITERS = ("scheduler", "dag-processor", "triggerer")


@contextmanager
def quiet_database(stack: AirflowStack) -> Iterator[None]:
    """Create backfills while only the api-server runs. On SQLite, Airflow 3.3 answers a backfill
    creation that meets a lock with 503 "Database is locked" and removes what it created so far: a
    running scheduler that had read those runs died (StaleDataError), and when the backfill reprocessed
    existing runs, those runs were deleted (both seen in this test). On PostgreSQL or MySQL a backfill
    is created with everything running."""
    for name in _WRITERS:
        stack.group.stop(name)
    try:
        yield
    finally:
        for name in _WRITERS:
            stack.group.start(name, airflow_cli(name), stack.env, append=True)


def write(stack: AirflowStack, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A REST call that changes state, sent again while Airflow answers 503 (SQLite is locked)."""
    deadline = time.monotonic() + 120
    while True:
        resp = stack.http.request(method, f"{stack.api}{path}", json=body, timeout=30)
        if resp.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert resp.status_code < 400, f"{method} {path}: {resp.status_code} {resp.text[:2000]}"
    result: dict[str, Any] = resp.json() if resp.content else {}
    return result


def create_backfill(stack: AirflowStack, first: date, last: date, reprocess: str) -> int:
    """``POST /api/v2/backfills`` with this test's max_active_runs."""
    _wait_no_active_backfill(stack, BACKFILL_DAG)
    body = {
        "dag_id": BACKFILL_DAG,
        "from_date": _midnight(first).isoformat(),
        "to_date": _midnight(last).isoformat(),
        "reprocess_behavior": reprocess,
        "max_active_runs": MAX_ACTIVE_RUNS,
    }
    with quiet_database(stack):
        return int(write(stack, "POST", "/api/v2/backfills", body)["id"])


def _backfill_list(stack: AirflowStack, dag_id: str) -> list[dict[str, Any]]:
    body = stack.call("GET", "/api/v2/backfills", params={"dag_id": dag_id, "limit": 100}).json()
    return list(body["backfills"])


def _wait_no_active_backfill(stack: AirflowStack, dag_id: str) -> None:
    """Airflow allows one running backfill per DAG; the scheduler marks one complete every 30 s."""
    deadline = time.monotonic() + WAIT
    while any(b["completed_at"] is None for b in _backfill_list(stack, dag_id)):
        assert time.monotonic() < deadline, f"a backfill of {dag_id} is still running after {WAIT}s"
        time.sleep(1)


def dag_runs(stack: AirflowStack, dag_id: str) -> dict[date, dict[str, Any]]:
    body = stack.call("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()
    return {datetime.fromisoformat(run["logical_date"]).date(): run for run in body["dag_runs"]}


def wait_runs(stack: AirflowStack, dag_id: str, days: Sequence[date]) -> dict[date, dict[str, Any]]:
    """Poll until the runs of ``days`` exist and have all ended."""
    deadline = time.monotonic() + WAIT
    while True:
        runs = dag_runs(stack, dag_id)
        if all(runs.get(day, {}).get("state") in TERMINAL for day in days):
            return runs
        if time.monotonic() > deadline:
            shown = {str(day): runs.get(day, {}).get("state") for day in days}
            raise AssertionError(
                f"runs of {dag_id} not finished after {WAIT}s: {shown}\n{stack.diagnostics()}"
            )
        time.sleep(1)


def task_instance(stack: AirflowStack, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
    body: dict[str, Any] = stack.call("GET", path).json()
    return body


# ---------------------------------------------------------------------------- the emulator's view


def day_jobs(stack: AirflowStack, days: Sequence[date]) -> dict[date, list[str]]:
    """The ids of the jobs named by each day."""
    return {day: [job["id"] for job in stack.emulator.jobs_named(JOB_TYPE, job_name(day))] for day in days}


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    """Counters that changed between two ``/_emulator/stats`` maps (``starts`` or ``by_route``)."""
    return {str(k): int(v) - int(before.get(k, 0)) for k, v in after.items() if v != before.get(k, 0)}


def run_intervals(stack: AirflowStack, job_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``run_id -> (start, end)`` in epoch ms of every run of the jobs, from their run history."""
    intervals: dict[str, tuple[int, int]] = {}
    for job_id in job_ids:
        for run in stack.emulator.history(job_id):
            assert run.get("end_time"), f"run {run.get('run_id')} of job {job_id} has not ended: {run}"
            intervals[str(run["run_id"])] = (int(run["start_time"]), int(run["end_time"]))
    return intervals


def max_in_flight(intervals: Sequence[tuple[int, int]]) -> int:
    """Most runs in flight at one instant (a run ending as another starts does not overlap it)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


@dataclass
class Snapshot:
    """The emulator before a scenario: its counters and the job runs it already had."""

    stats: dict[str, Any]
    old_runs: set[str]
    started: float


def snapshot(stack: AirflowStack) -> Snapshot:
    resp = stack.emulator.api("GET", "/lf-jobs", params={"type": JOB_TYPE, "limit": 100})
    resp.raise_for_status()
    job_ids = [job["id"] for job in resp.json()["jobs"]]
    old_runs = {str(run["run_id"]) for job_id in job_ids for run in stack.emulator.history(job_id)}
    # The counters last: the test's own reads above are not the scenario's.
    return Snapshot(stats=stack.emulator.stats(), old_runs=old_runs, started=time.monotonic())


@dataclass
class Measured:
    """One scenario as the emulator saw it."""

    runs: dict[date, dict[str, Any]]
    jobs: dict[date, list[str]]
    #: job id -> runs started during the scenario (jobs not started are left out)
    started: dict[str, int]
    #: API route -> calls the DAG runs made during the scenario
    calls: dict[str, int]
    in_flight: int
    seconds: float

    def figures(self, scenario: str) -> str:
        per_job = sorted(set(self.started.values()))
        return (
            f"BACKFILL {scenario}: runs={len(self.runs)} jobs={sum(len(v) for v in self.jobs.values())} "
            f"jobs_started={len(self.started)} starts_per_job={per_job} max_days_in_flight={self.in_flight} "
            f"wall={self.seconds:.1f}s"
        )


def measure(stack: AirflowStack, dag_id: str, days: Sequence[date], before: Snapshot) -> Measured:
    """Wait for the runs of ``days``; then count jobs, starts, calls and the overlap of the new job runs."""
    runs = wait_runs(stack, dag_id, days)
    seconds = time.monotonic() - before.started
    after = stack.emulator.stats()
    jobs = day_jobs(stack, days)
    intervals = run_intervals(stack, [job_id for ids in jobs.values() for job_id in ids])
    new = [span for run_id, span in intervals.items() if run_id not in before.old_runs]
    return Measured(
        runs={day: runs[day] for day in days},
        jobs=jobs,
        started=_delta(after.get("starts", {}), before.stats.get("starts", {})),
        calls=_delta(after["by_route"], before.stats["by_route"]),
        in_flight=max_in_flight(new),
        seconds=seconds,
    )


def assert_all_succeeded(stack: AirflowStack, dag_id: str, measured: Measured) -> None:
    states = {str(day): run["state"] for day, run in measured.runs.items()}
    assert set(states.values()) == {"success"}, f"{states}\n{stack.diagnostics()}"


# ------------------------------------------------------------------------------------ scenarios


def test_backfill_of_seven_days(backfills: Backfills) -> None:
    """7 runs, 7 jobs named by their day, each started once, at most MAX_ACTIVE_RUNS days at once."""
    stack = backfills.stack
    before = snapshot(stack)
    backfill_id = create_backfill(stack, DAYS[0], DAYS[-1], reprocess="none")
    got = measure(stack, BACKFILL_DAG, DAYS, before)
    backfills.figures.append(got.figures("7-day backfill"))
    per_day = {route: round(n / len(DAYS), 1) for route, n in sorted(got.calls.items())}
    backfills.figures.append(f"  API calls per day with a {RUN_SECONDS + 0.5:g} s job, 1 s polls: {per_day}")

    assert_all_succeeded(stack, BACKFILL_DAG, got)
    assert {run["run_type"] for run in got.runs.values()} == {"backfill"}
    assert all(len(ids) == 1 for ids in got.jobs.values()), got.jobs
    job_ids = {day: ids[0] for day, ids in got.jobs.items()}
    for day, run in got.runs.items():
        assert stack.xcom(BACKFILL_DAG, run["dag_run_id"], CREATE) == job_ids[day]
        assert job_status(stack.emulator.job(job_ids[day])) == "SUCCESS"
    assert got.started == dict.fromkeys(job_ids.values(), 1)
    assert 1 <= got.in_flight <= MAX_ACTIVE_RUNS
    assert [run["status"] for run in stack.emulator.history(job_ids[DAYS[0]])] == ["SUCCESS"]
    backfill = stack.call("GET", f"/api/v2/backfills/{backfill_id}").json()
    assert backfill["max_active_runs"] == MAX_ACTIVE_RUNS
    backfills.passed.add("backfill")


def test_backfill_again_reprocessing_completed_runs_with_one_failing_day(backfills: Backfills) -> None:
    """The same backfill with ``reprocess_behavior="completed"`` over the same 7 days, one of which now
    gets a failing job: the same 7 jobs, each started once more; that day alone fails, with the job
    log's tail in its task log."""
    backfills.require("backfill")
    stack = backfills.stack
    bad = DAYS[3]
    jobs_before = day_jobs(stack, DAYS)
    bad_job = jobs_before[bad][0]
    write(stack, "POST", "/api/v2/variables", {"key": note_variable(bad), "value": f" {FAILED_MARKER}"})
    before = snapshot(stack)
    create_backfill(stack, DAYS[0], DAYS[-1], reprocess="completed")
    got = measure(stack, BACKFILL_DAG, DAYS, before)
    backfills.figures.append(got.figures(f"7-day backfill again (reprocess completed), {bad} failing"))

    states = {day: run["state"] for day, run in got.runs.items()}
    assert states == {day: "failed" if day == bad else "success" for day in DAYS}, stack.diagnostics()
    assert got.jobs == jobs_before, "jobs were created or replaced instead of updated"
    assert got.started == {ids[0]: 1 for ids in got.jobs.values()}
    assert 1 <= got.in_flight <= MAX_ACTIVE_RUNS
    assert job_status(stack.emulator.job(bad_job)) == "FAILED"
    run_id = got.runs[bad]["dag_run_id"]
    start_ti = task_instance(stack, BACKFILL_DAG, run_id, START)
    assert start_ti["state"] == "failed"
    task_log = stack.task_log(BACKFILL_DAG, run_id, START, try_number=start_ti["try_number"])
    job_log = stack.emulator.job_log(bad_job).strip()
    assert f"log of LakeFormation job {bad_job}" in task_log
    assert job_log.splitlines()[-1].strip() in task_log
    assert f"LakeFormationJobFailedError: LakeFormation job {bad_job} ended with status FAILED" in task_log
    backfills.passed.add("reprocess")


def test_rerun_of_the_failed_day_after_fixing_it(backfills: Backfills) -> None:
    """Remove the marker and clear that day's run: the create task updates the kept job, which is
    started once more and succeeds; no other job starts."""
    backfills.require("reprocess")
    stack = backfills.stack
    bad = DAYS[3]
    jobs_before = day_jobs(stack, DAYS)
    bad_job = jobs_before[bad][0]
    write(stack, "DELETE", f"/api/v2/variables/{note_variable(bad)}", {})
    run_id = dag_runs(stack, BACKFILL_DAG)[bad]["dag_run_id"]
    before = snapshot(stack)
    write(
        stack,
        "POST",
        f"/api/v2/dags/{BACKFILL_DAG}/dagRuns/{quote(run_id, safe='')}/clear",
        {"dry_run": False},
    )
    got = measure(stack, BACKFILL_DAG, DAYS, before)
    backfills.figures.append(got.figures(f"re-run of {bad} after the fix"))

    assert_all_succeeded(stack, BACKFILL_DAG, got)
    assert got.jobs == jobs_before
    assert got.started == {bad_job: 1}
    job = stack.emulator.job(bad_job)
    assert job_status(job) == "SUCCESS"
    assert job is not None
    assert FAILED_MARKER not in job.get("description", "")
    backfills.passed.add("rerun")


def test_clearing_one_days_start_task_restarts_only_that_job(backfills: Backfills) -> None:
    backfills.require("backfill")
    stack = backfills.stack
    day = DAYS[2]
    jobs_before = day_jobs(stack, DAYS)
    run_id = dag_runs(stack, BACKFILL_DAG)[day]["dag_run_id"]
    create_try = task_instance(stack, BACKFILL_DAG, run_id, CREATE)["try_number"]
    before = snapshot(stack)
    body = {"dry_run": False, "dag_run_id": run_id, "task_ids": [START], "only_failed": False}
    cleared = write(stack, "POST", f"/api/v2/dags/{BACKFILL_DAG}/clearTaskInstances", body)
    assert [ti["task_id"] for ti in cleared["task_instances"]] == [START]
    got = measure(stack, BACKFILL_DAG, [day], before)
    backfills.figures.append(got.figures(f"clear {START} of {day}"))

    assert got.runs[day]["state"] == "success", stack.diagnostics()
    assert day_jobs(stack, DAYS) == jobs_before
    assert got.started == {jobs_before[day][0]: 1}, "only the cleared day's job may start again"
    assert task_instance(stack, BACKFILL_DAG, run_id, CREATE)["try_number"] == create_try


def test_catch_up_after_unpausing(backfills: Backfills) -> None:
    """catchup=True, start date 3 days back: unpausing creates the 3 missed days, which behave the same."""
    stack = backfills.stack
    before = snapshot(stack)
    stack.call("PATCH", f"/api/v2/dags/{CATCHUP_DAG}", json={"is_paused": False})
    now = datetime.now(timezone.utc)
    # Every midnight between the start date and now: 3 (4 if the test crossed midnight UTC).
    first = backfills.catchup_start.date() + timedelta(days=1)
    days = [first + timedelta(days=i) for i in range(5) if _midnight(first + timedelta(days=i)) <= now]
    got = measure(stack, CATCHUP_DAG, days, before)
    backfills.figures.append(got.figures("catch-up"))

    assert len(days) in (3, 4)
    assert set(dag_runs(stack, CATCHUP_DAG)) == set(days)
    assert {run["run_type"] for run in got.runs.values()} == {"scheduled"}
    assert_all_succeeded(stack, CATCHUP_DAG, got)
    assert all(len(ids) == 1 for ids in got.jobs.values()), got.jobs
    assert got.started == {ids[0]: 1 for ids in got.jobs.values()}
    assert 1 <= got.in_flight <= MAX_ACTIVE_RUNS
