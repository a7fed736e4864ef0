"""Running operators, sensors and triggers outside a scheduler, the way the task runner and the
triggerer would: a minimal context (XCom pushes recorded, an in-memory task state store), deferral
followed by the trigger (its kwargs round-tripped through Airflow's serde first) and resumption."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_lakeformation.emulator import EmulatorServer

#: Retry settings that keep the tests fast (connection extras).
FAST_RETRY = {"retry_min_wait": 0.01, "retry_max_wait": 0.1, "max_retries": 3}
MAX_RETRIES = FAST_RETRY["max_retries"]
ATTEMPTS = MAX_RETRIES + 1


@dataclass
class FakeTI:
    """Stands in for the RuntimeTaskInstance: records XCom pushes."""

    xcoms: list[tuple[str, Any]] = field(default_factory=list)
    stats_tags: dict[str, str] = field(default_factory=dict)
    try_number: int = 1

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-able
        self.xcoms.append((key, value))

    def xcom(self, key: str) -> Any:
        values = [v for k, v in self.xcoms if k == key]
        return values[-1] if values else None


@dataclass
class FakeStateStore:
    """The ``task_state_store`` accessor: survives between tries of one task instance."""

    data: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        json.dumps(value)
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def clear(self) -> None:
        self.data.clear()


def make_context(ti: FakeTI | None = None, store: FakeStateStore | None = None) -> dict[str, Any]:
    ti = ti or FakeTI()
    return {
        "ti": ti,
        "task_instance": ti,
        "task_state_store": store or FakeStateStore(),
        "run_id": "manual__reliability",
        "ds": "2026-01-01",
    }


def roundtrip_trigger(trigger: Any) -> Any:
    """What the triggerer runs: the trigger rebuilt from its serialized kwargs (serde + JSON)."""
    from tests.compat import rebuild_trigger

    return rebuild_trigger(trigger)


async def first_event(trigger: Any, timeout: float = 60.0) -> dict[str, Any]:
    """Run a trigger until its first event (like the triggerer); its payload."""
    gen = trigger.run()
    try:
        event = await asyncio.wait_for(gen.__anext__(), timeout)
    finally:
        await gen.aclose()
        await trigger.cleanup()
    return dict(event.payload)


@dataclass
class Deferral:
    trigger: Any
    method_name: str
    kwargs: dict[str, Any]
    event: dict[str, Any] | None = None


def run_task(op: Any, context: dict[str, Any], *, deferrals: list[Deferral] | None = None) -> Any:
    """``op.execute(context)``; on deferral run the (round-tripped) trigger to its event and resume,
    as often as the task defers. ``deferrals`` collects what happened."""
    from tests.compat import TaskDeferred

    call = lambda: op.execute(context)  # noqa: E731
    for _ in range(10):
        try:
            return call()
        except TaskDeferred as deferred:
            record = Deferral(deferred.trigger, deferred.method_name, dict(deferred.kwargs or {}))
            if deferrals is not None:
                deferrals.append(record)
            trigger = roundtrip_trigger(deferred.trigger)
            record.event = asyncio.run(first_event(trigger))
            method = getattr(op, deferred.method_name)
            call = lambda m=method, r=record: m(context, event=r.event, **r.kwargs)  # noqa: E731
    raise AssertionError("the task deferred more than 10 times")


class Counts:
    """Emulator counters since creation: ``starts(job_id)``, ``route(name)``, ``requests``..."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.before = emulator.stats()
        self.after = self.before

    def refresh(self) -> Counts:
        self.after = self.emulator.stats()
        return self

    def _delta(self, group: str | None, key: str) -> int:
        if group is None:
            return int(self.after.get(key, 0)) - int(self.before.get(key, 0))
        return int(self.after.get(group, {}).get(key, 0)) - int(self.before.get(group, {}).get(key, 0))

    @property
    def requests(self) -> int:
        return self._delta(None, "requests")

    @property
    def faults(self) -> int:
        return self._delta(None, "faults_injected")

    @property
    def creates(self) -> int:
        return self._delta(None, "creates")

    @property
    def tokens(self) -> int:
        return self._delta(None, "iam_tokens_issued")

    @property
    def auth_failures(self) -> int:
        return self._delta(None, "auth_failures")

    def route(self, name: str) -> int:
        return self._delta("by_route", name)

    def starts(self, job_id: str) -> int:
        return self._delta("starts", job_id)

    def start_requests(self, job_id: str) -> int:
        return self._delta("start_requests", job_id)

    def stops(self, job_id: str) -> int:
        return self._delta("stops", job_id)
