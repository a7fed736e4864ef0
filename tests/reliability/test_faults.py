"""Fault injection against the emulator over real HTTP: bursts of 5xx/408/429 (with and without
Retry-After), dropped connections and slow answers on create, start, get and stop.

Every scenario checks the task outcome, that the job was created/started exactly once (emulator
``creates`` / ``starts``) and that retries stay within the connection's budget (``max_retries`` 3:
at most 4 requests per call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import (
    LakeFormationConnectionError,
    LakeFormationError,
    LakeFormationRetryableError,
)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.reliability.harness import (
    ATTEMPTS,
    MAX_RETRIES,
    Counts,
    FakeTI,
    first_event,
    make_context,
    run_task,
)
from tests.reliability.recorder import Row
from tests.reliability.specs import migration_spec, with_outcome

STATUSES = [500, 502, 503, 504, 408, 429]
OPS = ["create", "start", "get", "stop"]
#: Emulator route of each operation (keys of ``by_route`` in the stats).
ROUTE = {"create": "create_job", "start": "start_job", "get": "get_job", "stop": "stop_job"}


def new_job(hook: LakeFormationHook, name: str = "rel_fault_job", marker: str = "") -> str:
    spec = with_outcome(migration_spec(name), marker) if marker else migration_spec(name)
    return hook.create_job(spec).id


def fault_target(op: str, job_id: str | None) -> dict[str, Any]:
    """``path_contains`` / ``method`` that hit only ``op``."""
    if op == "create":
        return {"path_contains": "/lf-jobs", "method": "POST"}  # the create task sends no other POST
    if op == "start":
        return {"path_contains": f"/lf-jobs/{job_id}/start", "method": "POST"}
    if op == "stop":
        return {"path_contains": f"/lf-jobs/{job_id}/stop", "method": "POST"}
    return {"path_contains": f"/lf-jobs/{job_id}", "method": "GET"}


class Scenario:
    """Set up a job for ``op``, inject the fault, run the operator and collect the counts."""

    def __init__(self, emulator: EmulatorServer, hook: LakeFormationHook, op: str, conn_id: str) -> None:
        self.emulator, self.hook, self.op, self.conn_id = emulator, hook, op, conn_id
        self.job_id: str | None = None
        self.ti = FakeTI()
        if op in ("start", "get"):
            self.job_id = new_job(hook)
        elif op == "stop":
            self.job_id = new_job(hook, marker="[lf-emulator:duration=30]")
            hook.start_job(self.job_id)
        self.counts = Counts(emulator)
        self.elapsed = 0.0

    def inject(self, **fault: Any) -> None:
        self.emulator.inject_fault(**{**fault_target(self.op, self.job_id), **fault})

    def operator(self, deferrable: bool = False) -> Any:
        common = {"lakeformation_conn_id": self.conn_id}
        if self.op == "create":
            return LakeFormationCreateJobOperator(
                task_id="create", job=migration_spec("rel_created"), **common
            )
        if self.op == "stop":
            return LakeFormationStopJobOperator(
                task_id="stop",
                job_id=self.job_id,
                wait_for_stop=True,
                poll_interval=0.05,
                timeout=20,
                **common,
            )
        return LakeFormationStartJobOperator(
            task_id="start",
            job_id=self.job_id,
            poll_interval=0.05,
            timeout=30,
            deferrable=deferrable,
            **common,
        )

    def run(self, deferrable: bool = False) -> Any:
        started = time.monotonic()
        try:
            return run_task(self.operator(deferrable), make_context(self.ti))
        finally:
            self.elapsed = time.monotonic() - started
            self.counts.refresh()

    def check_success(self) -> None:
        """The task's outcome and the exactly-once counts for a run that should succeed."""
        c = self.counts
        if self.op == "create":
            assert self.ti.xcom("job_id")
            assert c.creates == 1
        elif self.op == "stop":
            assert self.ti.xcom("job_status") == "STOPPED"
            assert c.starts(self.job_id) == 0
            assert 1 <= c.stops(self.job_id) <= ATTEMPTS
        else:
            assert self.ti.xcom("job_status") == "SUCCESS"
            assert c.starts(self.job_id) == 1
        for route in ("create_job", "start_job", "stop_job"):
            assert c.route(route) <= ATTEMPTS, f"{route}: more requests than the retry budget"

    def record(self, row: Row, scenario: str, checked: str) -> None:
        c = self.counts
        counts: dict[str, Any] = {"starts": c.starts(self.job_id) if self.job_id else c.creates}
        if self.op == "stop":
            counts["stops"] = c.stops(self.job_id)
        row("faults", scenario, checked).count(
            **counts,
            requests=c.requests,
            route_requests=c.route(ROUTE[self.op]),
            faults=c.faults,
            seconds=round(self.elapsed, 2),
        )


@pytest.fixture
def scenario(
    emulator: EmulatorServer, hook: LakeFormationHook, lf_conn: Callable[..., str]
) -> Callable[[str], Scenario]:
    return lambda op: Scenario(emulator, hook, op, lf_conn())


# ---------------------------------------------------------------------------------- status bursts


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("op", OPS)
def test_status_burst_within_budget(
    scenario: Callable[[str], Scenario], record: Row, op: str, status: int
) -> None:
    """``max_retries`` failures in a row on one call: the call's last attempt succeeds."""
    s = scenario(op)
    s.inject(status=status, count=MAX_RETRIES)
    s.run()
    s.check_success()
    assert s.counts.faults == MAX_RETRIES
    if op != "get":
        assert s.counts.route(ROUTE[op]) == ATTEMPTS
    s.record(
        record,
        f"{status} x{MAX_RETRIES} on {op}",
        f"task succeeds; {op} sent {ATTEMPTS} times (= max_retries+1); job created/started once",
    )


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("op", ["create", "start"])
def test_status_after_processing_not_executed_twice(
    scenario: Callable[[str], Scenario], record: Row, op: str, status: int
) -> None:
    """The request took effect but the client saw an error: it must not be re-sent blindly."""
    s = scenario(op)
    s.inject(status=status, count=MAX_RETRIES, after_processing=True)
    s.run()
    s.check_success()
    assert s.counts.route(ROUTE[op]) == 1, "re-sent although the first request took effect"
    s.record(
        record,
        f"{status} after processing on {op}",
        f"{op} took effect, client saw {status}: not re-sent (read back instead); executed once",
    )


RETRY_AFTER_OP = {500: "create", 502: "get", 503: "start", 504: "stop", 408: "get", 429: "start"}


@pytest.mark.slow
@pytest.mark.parametrize("status", STATUSES)
def test_status_with_retry_after(scenario: Callable[[str], Scenario], record: Row, status: int) -> None:
    """A Retry-After of 1 s is obeyed although retry_max_wait is 0.1 s."""
    op = RETRY_AFTER_OP[status]
    s = scenario(op)
    s.inject(status=status, count=1, retry_after=1)
    s.run()
    s.check_success()
    assert s.counts.faults == 1
    assert s.elapsed >= 1.0, "Retry-After was not obeyed"
    assert s.elapsed < 6
    s.record(
        record,
        f"{status} + Retry-After: 1 on {op}",
        "waits the 1 s asked for (retry_max_wait is 0.1 s), then succeeds; executed once",
    )


@pytest.mark.parametrize("op", OPS)
def test_outage_longer_than_budget_fails_bounded(
    scenario: Callable[[str], Scenario], record: Row, op: str
) -> None:
    """503 on every attempt: the task fails after exactly max_retries+1 requests of that call."""
    s = scenario(op)
    s.inject(status=503, count=100)
    with pytest.raises(LakeFormationRetryableError) as info:
        s.run()
    text = str(info.value)
    assert f"gave up after {ATTEMPTS} attempts" in text
    assert "503" in text
    assert info.value.request_id
    c = s.counts
    assert c.faults == ATTEMPTS
    assert c.route(ROUTE[op]) == ATTEMPTS
    if op == "create":
        assert c.creates == 0
    elif op in ("start", "get"):
        assert c.starts(s.job_id) == 0
    s.record(
        record,
        f"503 on every {op} attempt",
        f"task fails with LakeFormationRetryableError after {ATTEMPTS} requests (status, request id); "
        "nothing created/started",
    )


# ------------------------------------------------------------------------------- dropped connections


@pytest.mark.parametrize("after", [False, True], ids=["before", "after_processing"])
@pytest.mark.parametrize("op", OPS)
def test_dropped_connection(scenario: Callable[[str], Scenario], record: Row, op: str, after: bool) -> None:
    s = scenario(op)
    s.inject(drop=True, count=2, after_processing=after)
    s.run()
    s.check_success()
    if after and op in ("create", "start"):
        assert s.counts.route(ROUTE[op]) == 1, "re-sent although the first request took effect"
    when = "after the request took effect" if after else "before processing"
    s.record(
        record,
        f"connection dropped x2 {when} on {op}",
        "task succeeds; ambiguous failure read back, not blindly re-sent; executed once",
    )


# ---------------------------------------------------------------------------------- slow responses


@pytest.mark.slow
@pytest.mark.parametrize(
    ("op", "after"), [("create", True), ("start", True), ("start", False), ("get", False), ("stop", False)]
)
def test_slow_response_beyond_read_timeout(
    emulator: EmulatorServer,
    hook: LakeFormationHook,
    lf_conn: Callable[..., str],
    record: Row,
    op: str,
    after: bool,
) -> None:
    """The answer comes after the read timeout (0.5 s): the client gives up on it, reconciles and
    never creates/starts twice, even when the late request is processed after the retry."""
    conn_id = lf_conn(read_timeout=0.5)
    s = Scenario(emulator, hook, op, conn_id)
    if op == "start" and not after:
        # the delayed original start is processed ~1.2 s later: the run it would collide with must
        # still be going then (a job that already ended would be started a second time)
        hook.update_job(s.job_id, with_outcome(migration_spec(), "[lf-emulator:duration=2]"))
        s.counts = Counts(emulator)
    s.inject(delay=1.2, count=1, after_processing=after)
    s.run()
    time.sleep(max(0.0, 1.5 - s.elapsed))  # let the late request finish on the server
    s.counts.refresh()
    s.check_success()
    assert s.counts.faults == 1
    when = "after processing" if after else "before processing"
    s.record(
        record,
        f"answer 1.2 s late ({when}) on {op}, read timeout 0.5 s",
        "read timeout treated as ambiguous: read back, then re-sent only if it had not taken "
        "effect; executed once",
    )


# ----------------------------------------------------------------------- polling through an outage


@pytest.mark.parametrize("mode", ["sensor_poke", "trigger"])
def test_poll_outage_is_bounded(
    emulator: EmulatorServer, hook: LakeFormationHook, lf_conn: Callable[..., str], record: Row, mode: str
) -> None:
    """Every status read fails (503): the sensor / trigger gives up after max_transient_errors
    consecutive failed polls, each of max_retries+1 requests: no endless loop."""
    conn_id = lf_conn()
    job_id = new_job(hook, marker="[lf-emulator:duration=30]")
    hook.start_job(job_id)
    counts = Counts(emulator)
    emulator.inject_fault(503, count=1000, path_contains=f"/lf-jobs/{job_id}", method="GET")
    max_transient = 2
    started = time.monotonic()
    if mode == "sensor_poke":
        sensor = LakeFormationJobSensor(
            task_id="sense",
            job_id=job_id,
            poke_interval=0.05,
            timeout=30,
            max_transient_errors=max_transient,
            lakeformation_conn_id=conn_id,
        )
        with pytest.raises(LakeFormationRetryableError):
            sensor.execute(make_context())
    else:
        trigger = LakeFormationJobTrigger(
            job_id=job_id,
            lakeformation_conn_id=conn_id,
            poll_interval=0.05,
            max_transient_errors=max_transient,
        )
        import asyncio

        event = asyncio.run(first_event(trigger))
        assert event["status"] == "error"
        assert "transient" in event["message"]
    counts.refresh()
    assert counts.route("get_job") == (max_transient + 1) * ATTEMPTS
    assert counts.starts(job_id) == 0
    record(
        "faults",
        f"status reads fail for good ({mode.replace('_', ' ')})",
        f"gives up after max_transient_errors+1 = {max_transient + 1} polls x {ATTEMPTS} requests; "
        "error names the 503",
    ).count(
        starts=1,
        requests=counts.requests,
        route_requests=counts.route("get_job"),
        faults=counts.faults,
        seconds=round(time.monotonic() - started, 2),
    )


def test_connection_refused_is_bounded(
    emulator: EmulatorServer,
    record: Row,
    connect_to: Callable[..., str],
    emulator_factory: Callable[..., EmulatorServer],
) -> None:
    """Nothing listens on the endpoint: the call fails after max_retries+1 attempts, quickly."""
    server = emulator_factory(port=0)
    conn_id = connect_to(server)
    server.stop()
    started = time.monotonic()
    with pytest.raises(LakeFormationConnectionError) as info:
        LakeFormationHook(conn_id).get_job("some-job")
    elapsed = time.monotonic() - started
    assert f"gave up after {ATTEMPTS} attempts" in str(info.value)
    assert elapsed < 5
    assert isinstance(info.value, LakeFormationError)
    record(
        "faults",
        "endpoint refuses connections",
        f"LakeFormationConnectionError after {ATTEMPTS} attempts, within seconds",
    ).count(requests=0, seconds=round(elapsed, 2))


# ------------------------------------------------------------------------- the async path (trigger)

TRIGGER_FAULTS: dict[str, dict[str, Any]] = {
    "503 x3": {"status": 503, "count": MAX_RETRIES},
    "429 x3": {"status": 429, "count": MAX_RETRIES},
    "connection dropped x2": {"drop": True, "count": 2},
    "answer 1.2 s late, read timeout 0.5 s": {"delay": 1.2, "count": 1},
    "503 + Retry-After: 1": {"status": 503, "count": 1, "retry_after": 1},
}


@pytest.mark.parametrize("name", list(TRIGGER_FAULTS))
def test_trigger_rides_out_faults(
    emulator: EmulatorServer, hook: LakeFormationHook, lf_conn: Callable[..., str], record: Row, name: str
) -> None:
    """The trigger's async client retries status reads like the hook: the wait ends in a success
    event; the job is started once (by the setup) and never stopped."""
    import asyncio

    conn_id = lf_conn(read_timeout=0.5)
    job_id = new_job(hook, marker="[lf-emulator:duration=1]")
    hook.start_job(job_id)
    counts = Counts(emulator)
    emulator.inject_fault(**{"path_contains": f"/lf-jobs/{job_id}", "method": "GET", **TRIGGER_FAULTS[name]})
    trigger = LakeFormationJobTrigger(
        job_id=job_id, lakeformation_conn_id=conn_id, poll_interval=0.05, max_transient_errors=0
    )
    started = time.monotonic()
    event = asyncio.run(first_event(trigger))
    elapsed = time.monotonic() - started
    counts.refresh()
    assert event["status"] == "success", event
    assert event["job_status"] == "SUCCESS"
    assert counts.faults == TRIGGER_FAULTS[name]["count"]
    assert counts.starts(job_id) == 0
    assert counts.stops(job_id) == 0
    if "Retry-After" in name:
        assert elapsed >= 1.0
    record(
        "faults",
        f"trigger status read: {name}",
        "async client retries within one poll (max_transient_errors 0); success event; job not stopped",
    ).count(
        starts=1,
        requests=counts.requests,
        route_requests=counts.route("get_job"),
        faults=counts.faults,
        seconds=round(elapsed, 2),
    )
