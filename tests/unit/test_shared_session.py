"""Triggers of one event loop share one aiohttp session per connection, and stay isolated from each
other: one trigger's broken connection, cancelled task, TLS error or closed session does not fail or
stall the others, and a loop that ends with triggers still polling leaves no unclosed session.

Everything runs over real local aiohttp servers (no mocks); connections come from
``AIRFLOW_CONN_*`` environment variables, as the triggerer reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import ssl
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.hooks import _retry, _sessions
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.unit.hook_settings import TOKEN
from tests.unit.test_hook_async import JOBS, FakeApi, Reply, _self_signed, job, start

CONN = "lf_shared"
POLL = 0.05
#: Polls of a "good" job: RUNNING this many times, then SUCCESS.
RUNNING_POLLS = 3


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(_retry, "ASLEEP", no_wait)


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    fake = await start(FakeApi())
    yield fake
    assert fake.server is not None
    await fake.server.close()


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str, **extra: Any) -> None:
    conn = {
        "conn_type": "lakeformation",
        "host": url,
        "password": TOKEN,
        "extra": {"project_id": "proj1", "instance_id": "inst1", "max_retries": 1, **extra},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def good_jobs(api: FakeApi, n: int, prefix: str = "g") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(n)]
    for job_id in ids:
        running = [Reply(body=job(job_id, "RUNNING"))] * RUNNING_POLLS
        api.on("GET", f"{JOBS}/{job_id}", *running, Reply(body=job(job_id, "SUCCESS")))
    return ids


def trigger(job_id: str, conn_id: str = CONN, **kwargs: Any) -> LakeFormationJobTrigger:
    return LakeFormationJobTrigger(job_id=job_id, lakeformation_conn_id=conn_id, poll_interval=POLL, **kwargs)


async def event_of(t: LakeFormationJobTrigger) -> dict[str, Any]:
    async for event in t.run():
        return dict(event.payload)
    raise AssertionError("no event")


def assert_undisturbed(api: FakeApi, events: list[dict[str, Any]], ids: list[str]) -> None:
    """Every good trigger succeeded with exactly its own polls: no failed attempt, no retry."""
    assert [e["status"] for e in events] == ["success"] * len(ids), events
    for job_id in ids:
        assert len(api.calls("GET", f"{JOBS}/{job_id}")) == RUNNING_POLLS + 1, job_id


async def until(condition: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# ------------------------------------------------------------------------------------ sharing


async def test_triggers_of_one_connection_share_one_session(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, CONN, api.url)
    set_conn(monkeypatch, "lf_other", api.url)
    ids = good_jobs(api, 20)
    other = good_jobs(api, 1, prefix="o")
    tasks = [asyncio.create_task(event_of(trigger(j))) for j in ids]
    tasks.append(asyncio.create_task(event_of(trigger(other[0], "lf_other"))))
    await until(lambda: len(api.seen) >= 21)
    assert _sessions.open_sessions() == 2  # one per connection, not one per trigger
    events = await asyncio.gather(*tasks)
    assert_undisturbed(api, events[:-1], ids)
    assert events[-1]["status"] == "success"
    assert _sessions.open_sessions() == 0  # the last user closed each


# ---------------------------------------------------------------------------------- isolation


async def test_broken_connection_of_one_trigger_does_not_touch_the_others(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, CONN, api.url)
    ids = good_jobs(api, 20)
    api.on("GET", f"{JOBS}/bad", Reply(drop=True))  # the server aborts every connection of this job
    bad = asyncio.create_task(event_of(trigger("bad", max_transient_errors=2)))
    events = await asyncio.gather(*(event_of(trigger(j)) for j in ids))
    assert_undisturbed(api, events, ids)
    failed = await bad
    assert failed["status"] == "error"
    assert "transient errors" in failed["message"]


async def test_cancelled_trigger_does_not_touch_the_others(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, CONN, api.url)
    api.on("GET", f"{JOBS}/slow", Reply(delay=60, body=job("slow")))
    slow = asyncio.create_task(event_of(trigger("slow")))
    await until(lambda: api.calls("GET", f"{JOBS}/slow"))  # its request is in flight on the pool
    ids = good_jobs(api, 20)
    goods = asyncio.gather(*(event_of(trigger(j)) for j in ids))
    await until(lambda: len(api.seen) >= 10)
    slow.cancel()  # e.g. the task was killed, or its triggerer is moving it
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert_undisturbed(api, await goods, ids)
    assert _sessions.open_sessions() == 0


async def test_tls_error_of_one_trigger_does_not_touch_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    api = await start(FakeApi(), ctx)
    try:
        set_conn(monkeypatch, CONN, api.url, ca_bundle=str(cert))
        set_conn(monkeypatch, "lf_untrusted", api.url)  # same server, the system CA store: TLS fails
        ids = good_jobs(api, 10)
        api.on("GET", f"{JOBS}/tls", Reply(body=job("tls")))
        tls = asyncio.create_task(event_of(trigger("tls", "lf_untrusted")))
        events = await asyncio.gather(*(event_of(trigger(j)) for j in ids))
        assert_undisturbed(api, events, ids)
        failed = await tls
        assert failed["status"] == "error"
        assert "TLS handshake" in failed["message"]
        assert not api.calls("GET", f"{JOBS}/tls")
    finally:
        assert api.server is not None
        await api.server.close()


async def test_closed_session_does_not_fail_the_others(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    set_conn(monkeypatch, CONN, api.url)
    ids = good_jobs(api, 20)
    api.on("GET", f"{JOBS}/x", Reply(body=job("x")))
    tasks = [asyncio.create_task(event_of(trigger(j))) for j in ids]
    await until(lambda: len(api.seen) >= 20)
    # one client of the same connection closes (its lease): the shared session stays open
    async with LakeFormationHook(CONN).async_client() as client:
        await client.get_job_status("x")
    assert _sessions.open_sessions() == 1
    # the shared session itself closed under its users (a bug elsewhere): the next request gets a new one
    async with LakeFormationHook(CONN).async_client() as client:
        await client._lease.session().close()  # type: ignore[union-attr]
    events = await asyncio.gather(*tasks)
    assert [e["status"] for e in events] == ["success"] * len(ids)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "transient" in r.getMessage()]
    assert _sessions.open_sessions() == 0


# ----------------------------------------------------------------------------- loop shutdown


@contextlib.contextmanager
def server_thread() -> Iterator[FakeApi]:
    """A FakeApi served from its own thread and event loop (so the client's loop can end alone)."""
    fake = FakeApi()
    ready = threading.Event()
    stop: list[asyncio.Event] = []

    async def serve() -> None:
        await start(fake)
        stop.append(asyncio.Event())
        ready.set()
        await stop[0].wait()
        assert fake.server is not None
        await fake.server.close()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)
        loop.close()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_loop_ending_with_triggers_polling_leaves_no_unclosed_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``asyncio.run`` ends (as a triggerer's loop does) while 20 triggers are still polling: their
    tasks are cancelled, the last one closes the shared session; aiohttp reports nothing unclosed."""
    records = _Records()
    logging.getLogger("asyncio").addHandler(records)
    try:
        with server_thread() as api, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            set_conn(monkeypatch, CONN, api.url)
            api.on("GET", f"{JOBS}/r", Reply(body=job("r", "RUNNING")))  # never finishes

            async def main() -> int:
                for _ in range(20):
                    asyncio.create_task(event_of(trigger("r")))  # noqa: RUF006 - left running on purpose
                await until(lambda: len(api.seen) >= 40)  # every trigger polled about twice
                return _sessions.open_sessions()

            assert asyncio.run(main()) == 1
            gc.collect()
        unclosed = [m for m in records.messages if "nclosed" in m]
        unclosed += [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
        assert unclosed == []
    finally:
        logging.getLogger("asyncio").removeHandler(records)
