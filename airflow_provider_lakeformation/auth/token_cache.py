"""IAM user token: request body, expiry parsing and a thread/async-safe cache.

The cache holds one token and refreshes it shortly before it expires. One fetch at a time:
concurrent threads wait for the fetching thread and reuse its token; coroutines do the same
among themselves (an ``asyncio.Lock`` per event loop). A thread and a coroutine may fetch at the
same time at most once each; both results are valid tokens.

:func:`shared_token_cache` gives every hook in a process the same cache for the same identity,
so the IAM endpoint is called once per process rather than once per hook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "DEFAULT_REFRESH_MARGIN",
    "IamToken",
    "TokenCache",
    "build_password_auth_body",
    "clear_shared_token_caches",
    "parse_expires_at",
    "shared_token_cache",
    "token_cache_key",
    "token_from_iam_response",
]

DEFAULT_REFRESH_MARGIN = timedelta(seconds=300)
SUBJECT_TOKEN_HEADER = "X-Subject-Token"

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class IamToken:
    """An IAM token and its expiry (aware UTC). ``repr`` never shows the token."""

    value: str = field(repr=False)
    expires_at: datetime

    def __post_init__(self) -> None:
        if not self.value:
            raise ValueError("IAM token value is empty")
        if self.expires_at.tzinfo is None:
            raise ValueError("IamToken.expires_at must be timezone-aware")

    def __repr__(self) -> str:
        return f"IamToken(value=<redacted>, expires_at={self.expires_at.isoformat()})"

    __str__ = __repr__


_ISO_RE = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\.(?P<frac>\d+))?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_expires_at(s: str) -> datetime:
    """Parse IAM's ``expires_at`` (``2026-11-26T10:00:00.123000Z``, offsets, no fraction...)
    into an aware UTC datetime. A value without offset is taken as UTC."""
    match = _ISO_RE.match(s.strip())
    if not match:
        raise ValueError(f"unrecognised expires_at: {s!r}")
    text = match["base"].replace(" ", "T")
    if match["frac"]:
        text += "." + match["frac"][:6].ljust(6, "0")
    tz = match["tz"]
    if tz is None or tz in ("Z", "z"):
        text += "+00:00"
    else:
        digits = tz[1:].replace(":", "")
        text += f"{tz[0]}{digits[:2]}:{digits[2:4] or '00'}"
    try:
        # in UTC a moment near the calendar's ends (9999-12-31T23:59:59-23:59) overflows it
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ValueError(f"unrecognised expires_at: {s!r}") from None


def build_password_auth_body(
    user: str,
    password: str,
    domain: str,
    project_id: str | None,
    project_name: str | None,
) -> dict[str, Any]:
    """Body of ``POST {iam}/v3/auth/tokens`` for an IAM user, scoped to a project
    (by id when given, else by name, e.g. the region name ``cn-north-4``)."""
    if project_id:
        project: dict[str, str] = {"id": project_id}
    elif project_name:
        project = {"name": project_name}
    else:
        raise ValueError("an IAM token needs a project scope: give project_id or project_name")
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"domain": {"name": domain}, "name": user, "password": password}},
            },
            "scope": {"project": project},
        }
    }


def token_from_iam_response(headers: Mapping[str, str], body: Mapping[str, Any]) -> IamToken:
    """Build an :class:`IamToken` from ``X-Subject-Token`` and ``body["token"]["expires_at"]``."""
    value = next((v for k, v in headers.items() if k.lower() == SUBJECT_TOKEN_HEADER.lower()), None)
    if not value:
        raise ValueError(f"IAM response has no {SUBJECT_TOKEN_HEADER} header")
    try:
        expires_at = body["token"]["expires_at"]
    except (KeyError, TypeError):
        raise ValueError("IAM response body has no token.expires_at") from None
    return IamToken(value=value, expires_at=parse_expires_at(str(expires_at)))


class TokenCache:
    """Cache of one IAM token, refreshed ``refresh_margin`` before it expires.

    When a token lives less than ``2 * refresh_margin``, the margin is 10 % of its lifetime
    (measured from the moment it was fetched) so short-lived tokens are still reused.
    """

    def __init__(
        self,
        refresh_margin: timedelta | float = DEFAULT_REFRESH_MARGIN,
        *,
        clock: Clock = _utcnow,
    ) -> None:
        if not isinstance(refresh_margin, timedelta):
            refresh_margin = timedelta(seconds=refresh_margin)
        margin = refresh_margin
        if margin < timedelta(0):
            raise ValueError("refresh_margin must not be negative")
        self.refresh_margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: IamToken | None = None
        self._refresh_at: datetime | None = None
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        token = self._token
        state = f"expires_at={token.expires_at.isoformat()}" if token else "empty"
        return f"TokenCache({state})"

    @property
    def token(self) -> IamToken | None:
        """The cached token (valid or not), for inspection."""
        return self._token

    def _fresh(self) -> str | None:
        token, refresh_at = self._token, self._refresh_at
        if token is None or refresh_at is None or self._clock() >= refresh_at:
            return None
        return token.value

    def _store(self, token: IamToken) -> None:
        lifetime = token.expires_at - self._clock()
        margin = self.refresh_margin
        if lifetime < 2 * margin:
            margin = max(lifetime, timedelta(0)) / 10
        self._token = token
        self._refresh_at = token.expires_at - margin

    def get(self, fetch: Callable[[], IamToken]) -> str:
        """Return the cached token value, calling ``fetch`` (once, under a lock) when needed."""
        value = self._fresh()
        if value is not None:
            return value
        with self._lock:
            value = self._fresh()
            if value is not None:
                return value
            token = fetch()
            self._store(token)
            return token.value

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._lock:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
            return lock

    async def aget(self, fetch: Callable[[], Awaitable[IamToken]]) -> str:
        """Async :meth:`get`: coroutines of one loop share one in-flight ``fetch``."""
        value = self._fresh()
        if value is not None:
            return value
        async with self._async_lock():
            value = self._fresh()
            if value is not None:
                return value
            token = await fetch()
            with self._lock:
                self._store(token)
            return token.value

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token; with ``token``, only if it is still the cached one (so a
        401 -> invalidate -> get sequence cannot discard a token another caller just fetched)."""
        with self._lock:
            current = self._token
            if current is None:
                return
            if token is None or hmac.compare_digest(current.value.encode(), token.encode()):
                self._token = None
                self._refresh_at = None


_SHARED: dict[tuple[str, ...], TokenCache] = {}
_SHARED_LOCK = threading.Lock()
_PROCESS_SALT = os.urandom(16)


def token_cache_key(
    iam_endpoint: str,
    domain: str,
    user: str,
    project: str,
    password: str | None = None,
) -> tuple[str, ...]:
    """Key for :func:`shared_token_cache`; the password only enters as a salted hash
    (so two connections with different passwords do not share a token)."""
    key = (iam_endpoint.rstrip("/").lower(), domain, user, project)
    if password is None:
        return key
    digest = hmac.new(_PROCESS_SALT, password.encode("utf-8"), hashlib.sha256).hexdigest()
    return (*key, digest)


def shared_token_cache(key: tuple[str, ...]) -> TokenCache:
    """The process-wide :class:`TokenCache` for ``key`` (never put a password in the key;
    use :func:`token_cache_key`)."""
    with _SHARED_LOCK:
        cache = _SHARED.get(key)
        if cache is None:
            cache = _SHARED[key] = TokenCache()
        return cache


def clear_shared_token_caches() -> None:
    """Forget every shared cache (tests, credential rotation)."""
    with _SHARED_LOCK:
        _SHARED.clear()
