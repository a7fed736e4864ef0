"""Helpers for the operator, sensor and trigger tests (no tests here).

A fake task instance that records XComs, a dict-backed task state store, a context builder, a
connection with fast retries, job-spec builders, and "defer -> serde round trip -> run the trigger ->
resume" in one call. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp  # noqa: F401  # imported up front: the first trigger run would otherwise pay for it
import pytest
import structlog
from airflow.providers.common.compat.sdk import TaskDeferred
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models import JobStatus
from tests.compat import event_payload_roundtrip, rebuild_trigger

CONN_ID = "lakeformation_default"
FAST_RETRIES = {"max_retries": 1, "retry_min_wait": 0.01, "retry_max_wait": 0.05}
POLL = 0.1


class FakeTI:
    """Records ``xcom_push`` calls (what a real task instance would store)."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}
        self.stats_tags: dict[str, str] = {}

    def get_first_reschedule_date(self, context: Any) -> None:  # sensors in reschedule mode ask
        return None

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON
        self.xcoms[key] = value


class FakeStateStore:
    """The ``task_state_store`` accessor, kept in a dict (survives "retries" sharing it)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        json.dumps(value)
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def clear(self) -> None:
        self.data.clear()


def make_context(store: FakeStateStore | None = None, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"ti": FakeTI(), **extra}
    if store is not None:
        context["task_state_store"] = store
    return context


def xcoms(context: dict[str, Any]) -> dict[str, Any]:
    ti = context["ti"]
    assert isinstance(ti, FakeTI)
    return ti.xcoms


# ----------------------------------------------------------------------------------- job specs


def migration_spec(name: str = "ops_migration_job", *, markers: str = "", **ds: Any) -> dict[str, Any]:
    datasource = {"jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive", "username": "hiveuser", **ds}
    return {
        "name": name,
        "description": f"operator tests {markers}".strip(),
        "type": "METADATA_MIGRATION",
        "parameter": {
            "metadata_migration_parameter": {
                "datasource_type": "MRS_RDS_FOR_MYSQL",
                "datasource_parameter": datasource,
                "source_catalog": "hive",
                "target_catalog": "lf_catalog",
                "conflict_strategy": "UPSERT",
                "log_location": "obs://bucket/logs/",
                "sync_objects": ["DATABASE", "TABLE"],
                "locations": [],
            }
        },
    }


def outcome(status: str | None = None, *, duration: float | None = None) -> str:
    """Emulator description markers for a run's outcome and RUNNING time."""
    parts = []
    if status:
        parts.append(f"[lf-emulator:outcome={status}]")
    if duration is not None:
        parts.append(f"[lf-emulator:duration={duration}]")
    return " ".join(parts)


def new_job(name: str = "ops_job", *, markers: str = "") -> str:
    """Create a job through the hook (default connection); return its id."""
    return LakeFormationHook(CONN_ID).create_job(migration_spec(name, markers=markers)).id


def wait_status(job_id: str, wanted: set[JobStatus], timeout: float = 10.0) -> JobStatus:
    """Block until the job is in one of ``wanted`` (test set-up helper)."""
    import time

    hook = LakeFormationHook(CONN_ID)
    deadline = time.monotonic() + timeout
    while True:
        status = hook.get_job_status(job_id)
        if status in wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def starts(emulator: EmulatorServer, job_id: str) -> int:
    return int(emulator.stats().get("starts", {}).get(job_id, 0))


# ------------------------------------------------------------------------------------- triggers


def roundtrip_trigger(trigger: BaseTrigger) -> BaseTrigger:
    """Rebuild a trigger the way the triggerer does: serialize -> serde -> JSON -> decode."""
    rebuilt = rebuild_trigger(trigger)
    assert isinstance(rebuilt, BaseTrigger)
    return rebuilt


async def first_event(trigger: BaseTrigger, timeout: float = 30.0) -> TriggerEvent:
    """Run the trigger to its first event; assert it then finishes (exactly one event)."""
    gen = trigger.run()
    event = await asyncio.wait_for(anext(gen), timeout)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(gen), 1.0)
    return event


def run_deferred(deferred: TaskDeferred, operator: Any, context: dict[str, Any]) -> Any:
    """Resume ``operator`` after ``deferred``: round-trip the trigger, run it, call the method."""
    trigger = roundtrip_trigger(deferred.trigger)
    event = asyncio.run(first_event(trigger))
    payload = event_payload_roundtrip(event.payload)
    return getattr(operator, deferred.method_name)(context, event=payload, **(deferred.kwargs or {}))


def execute_deferrable(operator: Any, context: dict[str, Any]) -> Any:
    """``execute`` -> (TaskDeferred -> trigger -> ``execute_complete``) as the task runner would."""
    try:
        return operator.execute(context)
    except TaskDeferred as deferred:
        return run_deferred(deferred, operator, context)


# ------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def lf_conn(emulator_connection: Callable[..., str]) -> str:
    """The default connection to the (reset) emulator, with fast hook retries."""
    return emulator_connection("aksk", conn_id=CONN_ID, **FAST_RETRIES)


@pytest.fixture
def task_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog that also sees operator logs (Airflow's task SDK logs through structlog)."""
    old = structlog.get_config()
    structlog.configure(
        processors=[structlog.stdlib.PositionalArgumentsFormatter(), structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    caplog.set_level(logging.INFO)
    try:
        yield caplog
    finally:
        structlog.configure(**old)
