"""Running an asset watcher's trigger in a test: a dict-backed asset state store and a background
consumer of its events (shared by the integration and reliability suites; no Airflow 3 import, so
the Airflow 2.11 lane runs the suites that need no ``airflow.sdk``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger


class DictAssetStore:
    """``aget``/``aset`` of one asset's state store, kept in a dict (values JSON round-tripped)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.data[key])) if key in self.data else default

    async def aset(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))
        self.writes += 1


class Watcher:
    """Runs a trigger in the background and collects its events until stopped."""

    def __init__(self, trigger: LakeFormationJobRunTrigger, store: DictAssetStore | None) -> None:
        self.trigger = trigger
        trigger.asset_state_store = store  # type: ignore[assignment]  # what the triggerer injects
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def _consume(self, gen: AsyncIterator[TriggerEvent]) -> None:
        async for event in gen:
            self.events.append(event.payload)

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._consume(self.trigger.run()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        assert not self._task.done(), "the watcher ended on its own"
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task
