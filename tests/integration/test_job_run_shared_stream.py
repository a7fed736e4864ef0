"""LakeFormationJobRunTrigger on Airflow 3.3's shared streams, against the emulator over real HTTP.

The watchers are driven the way the triggerer drives them: Airflow's own ``SharedStreamManager``
groups them by ``shared_stream_key()``, runs ``open_shared_stream`` once per group and feeds each
watcher's ``filter_shared_stream``. A dict-backed asset state store per watcher stands in for
Airflow's (see tests/integration/watching.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("airflow.sdk", reason="an AssetWatcher event trigger (BaseEventTrigger) needs Airflow 3")

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

if not hasattr(BaseEventTrigger, "shared_stream_key"):
    pytest.skip(
        "shared streams (BaseEventTrigger.shared_stream_key) need Airflow 3.3+", allow_module_level=True
    )

from airflow.triggers.shared_stream import SharedStreamManager

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.hooks.lakeformation import AsyncLakeFormationClient
from airflow_provider_lakeformation.models.jobs import Job
from airflow_provider_lakeformation.triggers import job_runs
from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger
from tests.integration.test_job_run_trigger import _trigger, polls, run_to_end, until
from tests.integration.test_operators_support import lf_conn, new_job, task_log
from tests.integration.watching import DictAssetStore, Watcher

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]


class Reads:
    """Counts the shared polls and the history reads a watcher makes on its own (a counting hook
    around the trigger's request code)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.shared_polls = 0
        self.own_history = Counter[str]()  # watch key -> history reads of a watcher on its own
        self.job_reads = 0  # GET /lf-jobs/{id} by any watcher (the test's own reads are sync)
        poll, new_runs = job_runs._SharedPoller.poll, LakeFormationJobRunTrigger._new_runs
        get_job = AsyncLakeFormationClient.get_job

        async def counted_get_job(api: Any, job_id: str) -> Any:
            self.job_reads += 1
            return await get_job(api, job_id)

        async def counted_poll(poller: Any, fed: Any = None) -> Any:
            self.shared_polls += 1
            return await poll(poller, fed)

        async def counted_new_runs(
            trigger: Any, api: Any, job: Job, mark: Any, history: list[Job] | None = None
        ) -> Any:
            if history is None:
                self.own_history[trigger.watch_key] += 1
            return await new_runs(trigger, api, job, mark, history)

        monkeypatch.setattr(AsyncLakeFormationClient, "get_job", counted_get_job)
        monkeypatch.setattr(job_runs._SharedPoller, "poll", counted_poll)
        monkeypatch.setattr(LakeFormationJobRunTrigger, "_new_runs", counted_new_runs)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    return Reads(monkeypatch)


@pytest.fixture
def manager() -> SharedStreamManager:
    return SharedStreamManager()


class SharedWatcher(Watcher):
    """A watcher in a shared-stream group, subscribed and filtered as the triggerer does it."""

    ids = iter(range(1, 1_000_000))

    def __init__(
        self, manager: SharedStreamManager, trigger: LakeFormationJobRunTrigger, store: DictAssetStore | None
    ) -> None:
        super().__init__(trigger, store)
        self.manager, self.trigger_id = manager, next(self.ids)
        key = trigger.shared_stream_key()
        assert key is not None
        self.key = key

    async def __aenter__(self) -> SharedWatcher:
        stream = self.manager.subscribe(trigger_id=self.trigger_id, trigger=self.trigger, key=self.key)
        events: AsyncIterator[TriggerEvent] = self.trigger.filter_shared_stream(stream)
        self._task = asyncio.create_task(self._consume(events))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await super().__aexit__(*exc)
        await self.manager.unsubscribe(self.trigger_id, self.key)


def starts(watcher: Watcher) -> list[str]:
    return [str(e["start_time"]) for e in watcher.events]


async def test_two_watchers_with_one_key_share_one_poll_and_each_gets_each_run_once(
    emulator: EmulatorServer, manager: SharedStreamManager, reads: Reads
) -> None:
    job_id = new_job("shared_one")
    before = await run_to_end(job_id)  # finished before either watcher exists
    s1, s2 = DictAssetStore(), DictAssetStore()
    # statuses and hand-off are each watcher's own: not part of the key
    t1 = _trigger(job_id=job_id)
    t2 = _trigger(job_id=job_id, statuses=["SUCCESS", "FAILED"], handoff_seconds=0.1)
    assert t1.shared_stream_key() == t2.shared_stream_key()
    async with SharedWatcher(manager, t1, s1) as w1, SharedWatcher(manager, t2, s2) as w2:
        await until(lambda: s1.writes == 1 and s2.writes == 1)  # each took its baseline
        assert len(manager._groups) == 1
        polls_before, gets_before = reads.shared_polls, reads.job_reads
        runs = [await run_to_end(job_id) for _ in range(3)]
        await until(lambda: len(w1.events) == 3 and len(w2.events) == 3)
        await polls(emulator, "get_job", 5)  # more polls: nothing is reported twice
        gets = reads.job_reads - gets_before
        shared = reads.shared_polls - polls_before
    expected = [r["start_time"] for r in runs]
    assert starts(w1) == expected
    assert starts(w2) == expected
    assert before["start_time"] not in starts(w1) + starts(w2)
    # One poll stream: every job read came from the group's poll (one per poll, not one per
    # watcher; a poll cancelled at the end may have sent its read), and the history was read by the
    # group's poll only.
    assert shared - 1 <= gets <= shared + 1, (gets, shared)
    assert reads.own_history == {}
    assert s1.data == s2.data  # the same marks, each in its own asset's store
    print(f"\nshared stream: {shared} polls, {gets} job reads for 2 watchers; 3 runs, 3 events each")


async def test_another_key_polls_separately(
    emulator: EmulatorServer, manager: SharedStreamManager, reads: Reads
) -> None:
    job_a, job_b = new_job("shared_a"), new_job("shared_b")
    t_a, t_b = _trigger(job_id=job_a), _trigger(job_id=job_b)
    t_slow = _trigger(job_id=job_a, poll_interval=0.2)  # same job, other cadence: its own poll
    assert len({t_a.shared_stream_key(), t_b.shared_stream_key(), t_slow.shared_stream_key()}) == 3
    stores = [DictAssetStore() for _ in range(3)]
    async with (
        SharedWatcher(manager, t_a, stores[0]) as w_a,
        SharedWatcher(manager, t_b, stores[1]) as w_b,
        SharedWatcher(manager, t_slow, stores[2]) as w_slow,
    ):
        await until(lambda: all(s.writes == 1 for s in stores))
        assert len(manager._groups) == 3
        run_a = await run_to_end(job_a)
        run_b = await run_to_end(job_b)
        await until(lambda: len(w_a.events) == 1 and len(w_b.events) == 1 and len(w_slow.events) == 1)
        await polls(emulator, "get_job", 5)
    assert starts(w_a) == starts(w_slow) == [run_a["start_time"]]
    assert starts(w_b) == [run_b["start_time"]]
    assert reads.own_history == {}


async def test_a_rejected_identity_does_not_disturb_another_keys_watchers(
    emulator: EmulatorServer,
    manager: SharedStreamManager,
    monkeypatch: pytest.MonkeyPatch,
    task_log: pytest.LogCaptureFixture,
) -> None:
    broken = emulator.connection("token")
    broken["password"] = "not-a-valid-token"  # the emulator rejects it (HTTP 403)
    monkeypatch.setenv("AIRFLOW_CONN_LF_BROKEN", json.dumps(broken))
    job_id = new_job("shared_isolation")
    bad = _trigger(job_id=job_id, lakeformation_conn_id="lf_broken")
    good = _trigger(job_id=job_id)
    assert bad.shared_stream_key() != good.shared_stream_key()
    store = DictAssetStore()
    async with (
        SharedWatcher(manager, bad, DictAssetStore()) as w_bad,
        SharedWatcher(manager, good, store) as w,
    ):
        await until(lambda: store.writes == 1)
        run = await run_to_end(job_id)
        await until(lambda: len(w.events) == 1)
        await until(lambda: failed(task_log, "LakeFormationAuthError") >= 2)
        assert len(manager._groups) == 2  # the failing group is alive: it backs off and retries
    assert starts(w) == [run["start_time"]]
    assert w_bad.events == []


def failed(log: pytest.LogCaptureFixture, what: str) -> int:
    return sum("poll failed" in r.getMessage() and what in r.getMessage() for r in log.records)


async def test_a_watcher_behind_the_stream_catches_up_on_its_own(
    emulator: EmulatorServer, manager: SharedStreamManager, reads: Reads
) -> None:
    """A restarted watcher (its marks in its asset's store) joins a running group whose poll
    already moved past the runs that ended while it was away: it reads their history itself and
    reports each once; a new sibling (no stored state) reports none of them."""
    job_id = new_job("shared_restart")
    store = DictAssetStore()
    async with Watcher(_trigger(job_id=job_id), store) as alone:  # first deployment, polling alone
        await until(lambda: store.writes == 1)
        first = await run_to_end(job_id)
        await until(lambda: len(alone.events) == 1 and store.writes == 2)
    alone_reads = reads.own_history[job_id]  # polling alone: it reads every history itself
    async with SharedWatcher(
        manager, _trigger(job_id=job_id, handoff_seconds=0.1), DictAssetStore()
    ) as other:
        await polls(emulator, "get_job", 3)
        missed = await run_to_end(job_id)  # the restarted watcher is down; the group sees the run
        await until(lambda: len(other.events) == 1)
        async with SharedWatcher(manager, _trigger(job_id=job_id), store) as back:
            await until(lambda: len(back.events) == 1)
            late = await run_to_end(job_id)
            await until(lambda: len(back.events) == 2 and len(other.events) == 2)
            await polls(emulator, "get_job", 5)
    assert starts(alone) == [first["start_time"]]
    assert starts(back) == [missed["start_time"], late["start_time"]]
    assert starts(other) == [missed["start_time"], late["start_time"]]
    assert reads.own_history[job_id] - alone_reads == 1  # the catch-up read; the new run came with the stream


async def test_status_feed_off_polls_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    trigger = _trigger(job_id="job_1")
    assert trigger.shared_stream_key() is not None
    monkeypatch.setenv("AIRFLOW__LAKEFORMATION__STATUS_FEED", "false")
    assert trigger.shared_stream_key() is None
    monkeypatch.delenv("AIRFLOW__LAKEFORMATION__STATUS_FEED")
    long_handoff = _trigger(job_id="job_1", handoff_seconds=job_runs.SHARED_MAX_HANDOFF_POLLS * 1.0)
    assert long_handoff.shared_stream_key() is None  # its items would pile up while it waits


async def test_the_group_poll_backs_off_and_honours_retry_after(
    emulator: EmulatorServer, manager: SharedStreamManager, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("shared_backoff")
    store = DictAssetStore()
    async with SharedWatcher(manager, _trigger(job_id=job_id), store) as w:
        await until(lambda: store.writes == 1)
        # the group's history read is refused twice (the hook's one retry included): the poll fails
        # and the next one waits for the server's Retry-After
        emulator.inject_fault(429, count=2, path_contains="/history", method="GET", retry_after=1)
        run = await run_to_end(job_id)
        started = time.monotonic()
        await until(lambda: len(w.events) == 1)
        waited = time.monotonic() - started
        await until(lambda: failed(task_log, job_id) >= 1)
    assert starts(w) == [run["start_time"]]
    assert waited >= 0.5, waited  # at least the server's pause (less what run_to_end took)
    assert any("recovered" in r.getMessage() for r in task_log.records)


def test_key_is_hashable_and_stable() -> None:
    key = LakeFormationJobRunTrigger(job_type="METADATA_DISCOVERY", name_pattern="a*", poll_interval=5)
    again = LakeFormationJobRunTrigger(**key.serialize()[1])
    assert hash(key.shared_stream_key()) == hash(again.shared_stream_key())
    assert key.shared_stream_key() == again.shared_stream_key()


class FailingStore(DictAssetStore):
    """An asset state store that fails its first ``n`` reads."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.failures_left = n

    async def aget(self, key: str, default: Any = None) -> Any:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("state store unavailable")
        return await super().aget(key, default)


async def test_one_watchers_failure_does_not_disturb_its_siblings(
    emulator: EmulatorServer, manager: SharedStreamManager, task_log: pytest.LogCaptureFixture
) -> None:
    job_id = new_job("shared_sibling_failure")
    flaky, store = FailingStore(3), DictAssetStore()
    async with (
        SharedWatcher(manager, _trigger(job_id=job_id, handoff_seconds=0.1), flaky) as w_flaky,
        SharedWatcher(manager, _trigger(job_id=job_id), store) as w,
    ):
        await until(lambda: store.writes == 1 and flaky.writes == 1)  # the flaky one recovered
        run = await run_to_end(job_id)
        await until(lambda: len(w.events) == 1 and len(w_flaky.events) == 1)
    assert starts(w) == starts(w_flaky) == [run["start_time"]]
    assert failed(task_log, "state store unavailable") == 3
