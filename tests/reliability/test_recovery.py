"""Recovery scenarios: IAM tokens expiring mid-run, the emulator restarting with persisted state,
the triggerer restarting (trigger rebuilt from its serialized kwargs mid-poll) and a worker retry
after the job started. Each checks the task outcome and that the job ran exactly once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.auth import TokenCache, token_cache_key
from airflow_provider_lakeformation.auth import token_cache as token_cache_module
from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from tests.compat import TaskDeferred, executable_in_this_thread, requires_task_state_store
from tests.reliability.harness import (
    ATTEMPTS,
    Counts,
    FakeStateStore,
    FakeTI,
    first_event,
    make_context,
    roundtrip_trigger,
    run_task,
)
from tests.reliability.recorder import Row
from tests.reliability.specs import migration_spec, with_outcome

MODES = ["sync", "deferrable"]


def start_op(
    conn_id: str, job_id: str, *, deferrable: bool = False, **kw: Any
) -> LakeFormationStartJobOperator:
    kw.setdefault("poll_interval", 0.1)
    kw.setdefault("timeout", 60)
    return LakeFormationStartJobOperator(
        task_id="start", job_id=job_id, deferrable=deferrable, lakeformation_conn_id=conn_id, **kw
    )


def job_with_duration(hook: LakeFormationHook, seconds: float, name: str = "rel_recovery_job") -> str:
    return hook.create_job(with_outcome(migration_spec(name), f"[lf-emulator:duration={seconds}]")).id


# ------------------------------------------------------------------------------------- IAM tokens


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_iam_token_expires_mid_run(
    emulator_factory: Callable[..., EmulatorServer], connect_to: Callable[..., str], record: Row, mode: str
) -> None:
    """Tokens live 3 s and the run 6.5 s: the client fetches new tokens before the old ones expire
    (no request is refused) and the run is started once and judged correctly. (The refresh margin
    is 10 % of so short a lifetime: 0.3 s between signing and the server's check; a 1 s token left
    0.1 s, which a loaded machine overran.)"""
    server = emulator_factory(token_ttl=3.0)
    conn_id = connect_to(server, "iam")
    job_id = job_with_duration(LakeFormationHook(conn_id), 6.5)
    counts = Counts(server)
    ti = FakeTI()
    started = time.monotonic()
    run_task(start_op(conn_id, job_id, deferrable=mode == "deferrable", poll_interval=0.2), make_context(ti))
    counts.refresh()
    assert ti.xcom("job_status") == "SUCCESS"
    assert counts.starts(job_id) == 1
    assert counts.tokens >= 2, "the token was not renewed during the run"
    assert counts.auth_failures == 0
    record(
        "recovery",
        f"IAM token TTL 3 s, run 6.5 s ({mode})",
        "tokens renewed before expiry, no 401; task succeeds; job started once",
    ).count(
        starts=counts.starts(job_id),
        requests=counts.requests,
        tokens=counts.tokens,
        auth_failures=counts.auth_failures,
        seconds=round(time.monotonic() - started, 2),
    )


class _LaggingClock:
    """A client clock ``lag`` behind the emulator's: cached tokens look valid after they expired."""

    def __init__(self, lag: float) -> None:
        self.lag = timedelta(seconds=lag)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) - self.lag


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_expired_token_rejected_mid_run(
    emulator_factory: Callable[..., EmulatorServer],
    connect_to: Callable[..., str],
    record: Row,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """The client's clock lags 30 s, so it keeps using tokens the service already considers expired:
    each 401 (token expired) drops the cached token and re-sends once with a new one."""
    server = emulator_factory(token_ttl=1.0)
    conn_id = connect_to(server, "iam")
    hook = LakeFormationHook(conn_id)
    s = hook.settings
    assert s.iam_endpoint
    assert s.domain_name
    assert s.user_name
    assert s.password
    key = token_cache_key(
        s.iam_endpoint, s.domain_name, s.user_name, s.project_id, s.password.get_secret_value()
    )
    monkeypatch.setitem(token_cache_module._SHARED, key, TokenCache(clock=_LaggingClock(30)))
    job_id = job_with_duration(hook, 2.0)
    counts = Counts(server)
    ti = FakeTI()
    started = time.monotonic()
    run_task(start_op(conn_id, job_id, deferrable=mode == "deferrable", poll_interval=0.3), make_context(ti))
    counts.refresh()
    assert ti.xcom("job_status") == "SUCCESS"
    assert counts.starts(job_id) == 1
    assert counts.auth_failures >= 1, "the scenario did not produce an expired token"
    assert counts.tokens >= counts.auth_failures  # one new token per 401
    # one 401 costs one extra request, never a loop: requests <= 2 per call
    assert counts.auth_failures <= counts.requests - counts.auth_failures
    record(
        "recovery",
        f"IAM token expired at the service, not yet at the client ({mode})",
        "401 -> token dropped, new token, request re-sent once; task succeeds; job started once",
    ).count(
        starts=counts.starts(job_id),
        requests=counts.requests,
        tokens=counts.tokens,
        auth_failures=counts.auth_failures,
        seconds=round(time.monotonic() - started, 2),
    )


@pytest.mark.parametrize("mode", MODES)
def test_token_revoked_once(
    emulator: EmulatorServer, lf_conn: Callable[..., str], hook: LakeFormationHook, record: Row, mode: str
) -> None:
    """One 401 on a status read (token revoked): a new token, the read re-sent once."""
    conn_id = lf_conn("iam", conn_id="lf_iam")
    LakeFormationHook(conn_id).get_instance()  # the first token, fetched before counting
    job_id = job_with_duration(hook, 0.5)
    counts = Counts(emulator)
    emulator.inject_fault(401, count=1, path_contains=f"/lf-jobs/{job_id}", method="GET")
    ti = FakeTI()
    run_task(start_op(conn_id, job_id, deferrable=mode == "deferrable"), make_context(ti))
    counts.refresh()
    assert ti.xcom("job_status") == "SUCCESS"
    assert counts.starts(job_id) == 1
    assert counts.tokens == 1, "expected exactly one new token"
    record(
        "recovery", f"401 on a status read ({mode}, IAM auth)", "new token, read re-sent once; success"
    ).count(
        starts=counts.starts(job_id), requests=counts.requests, tokens=counts.tokens, faults=counts.faults
    )


def test_static_token_401_fails_at_once(
    emulator: EmulatorServer, lf_conn: Callable[..., str], hook: LakeFormationHook, record: Row
) -> None:
    """With a static token there is nothing to refresh: a 401 fails the call after one request."""
    from airflow_provider_lakeformation.exceptions import LakeFormationAuthError

    conn_id = lf_conn("token", conn_id="lf_token")
    job_id = job_with_duration(hook, 0.5)
    counts = Counts(emulator)
    emulator.inject_fault(401, count=5, path_contains=f"/lf-jobs/{job_id}", method="GET")
    with pytest.raises(LakeFormationAuthError) as info:
        run_task(start_op(conn_id, job_id), make_context())
    counts.refresh()
    assert info.value.status_code == 401
    assert info.value.request_id
    assert counts.route("get_job") == 1
    assert counts.starts(job_id) == 0
    record(
        "recovery", "401 with a static token", "fails at once (1 request) with LakeFormationAuthError"
    ).count(starts=0, requests=counts.requests)


# ----------------------------------------------------------------------------- emulator restarts


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_emulator_restart_mid_run(
    emulator_factory: Callable[..., EmulatorServer],
    connect_to: Callable[..., str],
    tmp_path: Path,
    record: Row,
    mode: str,
) -> None:
    """The service goes away for ~0.5 s while the task waits and comes back with its state: the
    wait rides it out (transient errors) and judges the same run."""
    state = tmp_path / "lf.db"
    first = emulator_factory(state_path=state)
    port = first.port
    conn_id = connect_to(first)
    job_id = job_with_duration(LakeFormationHook(conn_id), 2.5)
    before = Counts(first)
    ti = FakeTI()
    outcome: dict[str, Any] = {}

    def task() -> None:
        executable_in_this_thread()
        try:
            outcome["result"] = run_task(
                start_op(conn_id, job_id, deferrable=mode == "deferrable", max_transient_errors=30),
                make_context(ti),
            )
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    runner = threading.Thread(target=task)
    started = time.monotonic()
    runner.start()
    deadline = time.monotonic() + 10
    while first.stats()["starts"].get(job_id, 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    before.refresh()
    first.stop()
    time.sleep(0.5)
    second = emulator_factory(state_path=state, port=port)
    after = Counts(second)
    runner.join(60)
    after.refresh()
    assert not runner.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"] == job_id
    assert ti.xcom("job_status") == "SUCCESS"
    starts = before.starts(job_id) + after.starts(job_id)
    assert starts == 1
    assert after.route("start_job") == 0
    record(
        "recovery",
        f"emulator restarted mid-run with --state ({mode})",
        "wait survives the outage, same run judged after restart; task succeeds; job started once",
    ).count(
        starts=starts, requests=before.requests + after.requests, seconds=round(time.monotonic() - started, 2)
    )


# ------------------------------------------------------------------------------ triggerer restart


def test_trigger_recreated_mid_poll(
    emulator: EmulatorServer, lf_conn: Callable[..., str], hook: LakeFormationHook, record: Row
) -> None:
    """The triggerer dies while polling (the trigger task is cancelled: cleanup, no on_kill); a new
    triggerer rebuilds the trigger from its serialized kwargs and finishes the wait."""
    conn_id = lf_conn()
    job_id = job_with_duration(hook, 1.5)
    counts = Counts(emulator)
    ti = FakeTI()
    ctx = make_context(ti)
    op = start_op(conn_id, job_id, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    trigger = roundtrip_trigger(deferred.value.trigger)

    async def first_triggerer() -> None:
        task = asyncio.ensure_future(first_event(trigger))
        await asyncio.sleep(0.5)
        assert not task.done(), "the run ended before the triggerer restart"
        task.cancel()  # triggerer shutdown: cancel + cleanup(), never on_kill()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(first_triggerer())
    mid = Counts(emulator)
    assert hook.get_job_status(job_id).value in ("SUBMITTED", "RUNNING")
    rebuilt = roundtrip_trigger(deferred.value.trigger)  # from the kwargs stored in the DB
    event = asyncio.run(first_event(rebuilt))
    assert event["status"] == "success"
    assert op.execute_complete(ctx, event=event) == job_id
    counts.refresh()
    mid.refresh()
    assert ti.xcom("job_status") == "SUCCESS"
    assert counts.starts(job_id) == 1
    assert counts.stops(job_id) == 0, "the restart stopped the job"
    record(
        "recovery",
        "triggerer restarted mid-poll (trigger rebuilt from serialized kwargs)",
        "job not stopped by the restart; new trigger sees the same run to SUCCESS; started once",
    ).count(starts=counts.starts(job_id), requests=counts.requests, stops=counts.stops(job_id))


# ------------------------------------------------------------------------------------ worker retry


class WorkerCrash(Exception):
    """Stands in for the worker process dying while the task waits."""


def _crash_while_waiting(op: LakeFormationStartJobOperator) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise WorkerCrash("worker lost")

    op.wait_for_job = crash  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("case", "durable", "deferrable", "finished"),
    [
        pytest.param("store_reconnect", True, False, False, marks=requires_task_state_store),
        pytest.param("store_already_done", True, False, True, marks=requires_task_state_store),
        ("attach_no_store", False, False, False),
        ("attach_deferrable", True, True, False),
    ],
)
def test_worker_retry_after_start(
    emulator: EmulatorServer,
    lf_conn: Callable[..., str],
    hook: LakeFormationHook,
    record: Row,
    case: str,
    durable: bool,
    deferrable: bool,
    finished: bool,
) -> None:
    """Try 1 starts the job and dies; try 2 (same task state store) attaches to that run instead of
    starting another, and reports its outcome."""
    conn_id = lf_conn()
    job_id = job_with_duration(hook, 0.3 if finished else 1.5)
    counts = Counts(emulator)
    store = FakeStateStore()
    try1 = start_op(conn_id, job_id, deferrable=deferrable, durable=durable)
    if deferrable:
        with pytest.raises(TaskDeferred):  # deferred, then the trigger and the worker are lost
            try1.execute(make_context(FakeTI(), store))
    else:
        _crash_while_waiting(try1)
        with pytest.raises(WorkerCrash):
            try1.execute(make_context(FakeTI(), store if durable else FakeStateStore()))
    if durable and not deferrable:
        assert store.data, "try 1 did not persist its run"
    if finished:
        time.sleep(0.8)
        assert hook.get_job_status(job_id).value == "SUCCESS"
    ti2 = FakeTI(try_number=2)
    result = run_task(
        start_op(conn_id, job_id, deferrable=deferrable, durable=durable), make_context(ti2, store)
    )
    counts.refresh()
    assert result == job_id
    assert ti2.xcom("job_status") == "SUCCESS"
    assert counts.starts(job_id) == 1
    assert counts.start_requests(job_id) == 1
    what = {
        "store_reconnect": "try 2 reconnects to the stored run (task state store)",
        "store_already_done": "try 2 finds the stored run already SUCCESS: no start, success",
        "attach_no_store": "no stored run: try 2 sees the job RUNNING and attaches",
        "attach_deferrable": "deferrable try 2 sees the job RUNNING, attaches and defers",
    }[case]
    record("recovery", f"worker retry after the job started ({case.replace('_', ' ')})", what).count(
        starts=counts.starts(job_id), requests=counts.requests
    )


@pytest.mark.parametrize("status", [503, 401])
def test_iam_endpoint_failure_is_bounded(
    emulator: EmulatorServer, lf_conn: Callable[..., str], hook: LakeFormationHook, record: Row, status: int
) -> None:
    """The IAM token endpoint fails for good: the task fails after max_retries+1 token requests for a
    transient error (not multiplied by the API call's own retries), after one for a 401."""
    from airflow_provider_lakeformation.exceptions import LakeFormationAuthError, LakeFormationRetryableError

    job_id = job_with_duration(hook, 0.5)
    conn_id = lf_conn("iam", conn_id="lf_iam")
    counts = Counts(emulator)
    emulator.inject_fault(status, count=1000, path_contains="/v3/auth/tokens")
    expected = LakeFormationRetryableError if status == 503 else LakeFormationAuthError
    with pytest.raises(expected) as info:
        run_task(start_op(conn_id, job_id), make_context())
    counts.refresh()
    iam_requests = counts.route("iam_tokens")
    assert iam_requests == (ATTEMPTS if status == 503 else 1)
    assert counts.requests == iam_requests, "an API request went out without a token"
    assert counts.starts(job_id) == 0
    assert info.value.status_code == status
    record(
        "recovery",
        f"IAM token endpoint answers {status} for good",
        f"task fails with {expected.__name__} after {iam_requests} token request(s); no API call, no start",
    ).count(starts=0, requests=counts.requests)
