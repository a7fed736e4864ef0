"""IAM token cache: reuse, refresh before expiry, invalidation, concurrency, async, secrecy."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_lakeformation.auth.token_cache import (
    IamToken,
    TokenCache,
    build_password_auth_body,
    clear_shared_token_caches,
    parse_expires_at,
    shared_token_cache,
    token_cache_key,
    token_from_iam_response,
)

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Fetcher:
    """Issues tok-1, tok-2, ... each valid for ``lifetime`` seconds from the clock's now."""

    def __init__(self, clock: FakeClock, lifetime: float = 86400, delay: float = 0.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> IamToken:
        with self._lock:
            self.calls += 1
            n = self.calls
        if self.delay:
            time.sleep(self.delay)
        return IamToken(f"tok-{n}", self.clock() + timedelta(seconds=self.lifetime))

    async def async_fetch(self) -> IamToken:
        self.calls += 1
        n = self.calls
        await asyncio.sleep(self.delay)
        return IamToken(f"tok-{n}", self.clock() + timedelta(seconds=self.lifetime))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    clear_shared_token_caches()
    yield
    clear_shared_token_caches()


def test_caches_token(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)
    fetch = Fetcher(clock)
    assert cache.get(fetch) == "tok-1"
    clock.advance(3600)
    assert cache.get(fetch) == "tok-1"
    assert fetch.calls == 1


def test_refreshes_within_default_margin(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)
    fetch = Fetcher(clock, lifetime=86400)
    assert cache.get(fetch) == "tok-1"
    clock.advance(86400 - 301)
    assert cache.get(fetch) == "tok-1"
    clock.advance(1)  # exactly 300 s before expiry
    assert cache.get(fetch) == "tok-2"
    assert fetch.calls == 2


def test_custom_margin(clock: FakeClock) -> None:
    cache = TokenCache(timedelta(minutes=30), clock=clock)
    fetch = Fetcher(clock, lifetime=7200)
    cache.get(fetch)
    clock.advance(7200 - 1801)
    assert cache.get(fetch) == "tok-1"
    clock.advance(1)
    assert cache.get(fetch) == "tok-2"


def test_short_lived_token_uses_ten_percent_margin(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)  # 300 s margin, but the token lives only 500 s (< 600)
    fetch = Fetcher(clock, lifetime=500)
    assert cache.get(fetch) == "tok-1"
    clock.advance(449)
    assert cache.get(fetch) == "tok-1"
    clock.advance(1)  # 50 s (10 %) before expiry
    assert cache.get(fetch) == "tok-2"


def test_expired_token_from_fetch_is_returned_once_then_refetched(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)
    fetch = Fetcher(clock, lifetime=-10)
    assert cache.get(fetch) == "tok-1"
    assert cache.get(fetch) == "tok-2"


def test_invalidate_semantics(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)
    fetch = Fetcher(clock)
    first = cache.get(fetch)
    cache.invalidate(first)  # 401 with tok-1: drop it
    second = cache.get(fetch)
    assert second == "tok-2"
    cache.invalidate(first)  # a late 401 for the old token must not drop the new one
    assert cache.get(fetch) == "tok-2"
    assert fetch.calls == 2
    cache.invalidate()  # unconditional
    assert cache.get(fetch) == "tok-3"
    TokenCache(clock=clock).invalidate("anything")  # empty cache: no error


def test_concurrent_callers_share_one_fetch(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)
    fetch = Fetcher(clock, delay=0.05)
    barrier = threading.Barrier(20)
    results: list[str] = []
    results_lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        value = cache.get(fetch)
        with results_lock:
            results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert fetch.calls == 1
    assert results == ["tok-1"] * 20


def test_fetch_error_propagates_and_next_call_retries(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)
    calls = 0

    def failing() -> IamToken:
        nonlocal calls
        calls += 1
        raise RuntimeError("IAM down")

    with pytest.raises(RuntimeError, match="IAM down"):
        cache.get(failing)
    assert cache.get(Fetcher(clock)) == "tok-1"
    assert calls == 1


def test_async_variant(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock)
    fetch = Fetcher(clock, delay=0.02)

    async def main() -> list[str]:
        return list(await asyncio.gather(*(cache.aget(fetch.async_fetch) for _ in range(20))))

    assert asyncio.run(main()) == ["tok-1"] * 20
    assert fetch.calls == 1
    # the same cache works from a second event loop and is shared with sync callers
    assert cache.get(Fetcher(clock)) == "tok-1"
    clock.advance(86400)
    assert asyncio.run(main()) == ["tok-2"] * 20
    assert fetch.calls == 2
    cache.invalidate("tok-2")
    assert asyncio.run(cache.aget(fetch.async_fetch)) == "tok-3"


def test_repr_hides_value(clock: FakeClock) -> None:
    token = IamToken("MIIsecretTOKENvalue", T0)
    assert "MIIsecret" not in repr(token)
    assert "MIIsecret" not in str(token)
    assert "MIIsecret" not in f"{token!r} {token}"
    assert "2026-11-25" in repr(token)
    cache = TokenCache(clock=clock)
    cache.get(lambda: token)
    assert "MIIsecret" not in repr(cache)
    with pytest.raises(ValueError, match="aware"):
        IamToken("x", T0.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T10:00:00.123000Z", datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=timezone.utc)),
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, tzinfo=timezone.utc)),
        ("2026-11-26T10:00:00.1Z", datetime(2026, 11, 26, 10, 0, 0, 100000, tzinfo=timezone.utc)),
        ("2026-11-26T10:00:00.123456789Z", datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2026-11-26T18:00:00.000+08:00", datetime(2026, 11, 26, 10, tzinfo=timezone.utc)),
        ("2026-11-26T05:00:00-0500", datetime(2026, 11, 26, 10, tzinfo=timezone.utc)),
        ("2026-11-26 10:00:00", datetime(2026, 11, 26, 10, tzinfo=timezone.utc)),
    ],
)
def test_parse_expires_at(text: str, expected: datetime) -> None:
    parsed = parse_expires_at(text)
    assert parsed == expected
    assert parsed.tzinfo == timezone.utc


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01T00:00:00Z", "2026-11-26T10:00:00+8"])
def test_parse_expires_at_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expires_at"):
        parse_expires_at(text)


def test_build_password_auth_body() -> None:
    by_id = build_password_auth_body("alice", "pw", "acme", "proj-id", "cn-north-4")
    assert by_id == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"domain": {"name": "acme"}, "name": "alice", "password": "pw"}},
            },
            "scope": {"project": {"id": "proj-id"}},
        }
    }
    by_name = build_password_auth_body("alice", "pw", "acme", None, "cn-north-4")
    assert by_name["auth"]["scope"] == {"project": {"name": "cn-north-4"}}
    with pytest.raises(ValueError, match="project"):
        build_password_auth_body("alice", "pw", "acme", None, None)


def test_token_from_iam_response() -> None:
    token = token_from_iam_response(
        {"x-subject-token": "MIIabc"}, {"token": {"expires_at": "2026-11-26T10:00:00.000000Z"}}
    )
    assert token == IamToken("MIIabc", datetime(2026, 11, 26, 10, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="X-Subject-Token"):
        token_from_iam_response({}, {"token": {"expires_at": "2026-11-26T10:00:00Z"}})
    with pytest.raises(ValueError, match="expires_at"):
        token_from_iam_response({"X-Subject-Token": "MIIabc"}, {"token": None})


def test_shared_registry() -> None:
    key = token_cache_key("https://iam.cn-north-4.myhuaweicloud.com/", "acme", "alice", "proj", "pw")
    assert "pw" not in key
    assert key == token_cache_key("https://IAM.cn-north-4.myhuaweicloud.com", "acme", "alice", "proj", "pw")
    assert key != token_cache_key("https://iam.cn-north-4.myhuaweicloud.com", "acme", "alice", "proj", "pw2")
    assert shared_token_cache(key) is shared_token_cache(key)
    other = token_cache_key("https://iam.cn-north-4.myhuaweicloud.com", "acme", "bob", "proj", "pw")
    assert shared_token_cache(other) is not shared_token_cache(key)

    # two "hooks" in one process hit IAM once
    calls = 0

    def fetch() -> IamToken:
        nonlocal calls
        calls += 1
        return IamToken("shared", datetime.now(timezone.utc) + timedelta(hours=24))

    assert shared_token_cache(key).get(fetch) == "shared"
    assert shared_token_cache(key).get(fetch) == "shared"
    assert calls == 1
    clear_shared_token_caches()
    assert shared_token_cache(key).token is None
