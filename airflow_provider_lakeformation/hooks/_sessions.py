"""One aiohttp session per event loop and transport settings, shared by the async clients on it.

A triggerer runs thousands of triggers in one event loop. Giving each its own ``ClientSession`` (a
connector, a cookie jar, a connection pool and a TCP connection each) costs about 50 GC-tracked
objects and 15 KB per trigger (docs/performance.md, F3), which the cycle collector walks again on
every full collection.
Here the clients of one loop that use the same transport settings (same Airflow connection id, TLS
settings and timeouts) share one session and its connection pool instead, reference counted: the
first user opens it, the last one closes it.

Isolation between the sharers:

* nothing a request leaves behind is shared: no cookie jar (``DummyCookieJar``); auth headers are
  per request; a connection that breaks, times out, fails its TLS handshake or belongs to a
  cancelled request is dropped by aiohttp, never returned to the pool;
* no pool limit (``limit=0``, as N private sessions had), so a request that hangs does not hold
  back the others;
* a user never closes the shared session; it only gives its lease back (:meth:`SessionLease.release`).
  If the session was closed anyway, the next request gets a new one (:meth:`SessionLease.session`);
* sessions are per event loop (a weak map keyed by the loop), so a client never touches another
  loop's connections.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

if TYPE_CHECKING:
    import aiohttp

__all__ = ["SessionLease", "open_sessions"]

SessionFactory = Callable[[], "aiohttp.ClientSession"]


class _Shared:
    """The session of one (loop, key), how many leases hold it, and its proxy look-ups."""

    __slots__ = ("factory", "proxies", "session", "users")

    def __init__(self, factory: SessionFactory) -> None:
        self.factory = factory
        self.session = factory()
        self.users = 0
        self.proxies: dict[str, str | None] = {}

    def current(self) -> aiohttp.ClientSession:
        if self.session.closed:  # closed under its users: every later request gets a new one
            self.session = self.factory()
        return self.session


_REGISTRY: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Shared]] = (
    weakref.WeakKeyDictionary()
)


class SessionLease:
    """A client's hold on the shared session of the running loop for ``key``.

    :param key: what must be equal for two clients to share a session (connection id, TLS settings,
        timeouts); hashable.
    :param factory: builds the session when the loop has none for ``key`` (called in the loop).
    """

    __slots__ = ("_entry", "_key", "_loop")

    def __init__(self, key: Hashable, factory: SessionFactory) -> None:
        loop = asyncio.get_running_loop()
        shared = _REGISTRY.setdefault(loop, {})
        entry = shared.get(key)
        if entry is None:
            entry = shared[key] = _Shared(factory)
        entry.users += 1
        self._loop: asyncio.AbstractEventLoop | None = loop
        self._key = key
        self._entry: _Shared | None = entry

    def session(self) -> aiohttp.ClientSession:
        """The shared session (a new one if it was closed); raises once the lease is released."""
        entry = self._entry
        if entry is None:
            raise RuntimeError("the client is closed: use it inside `async with hook.async_client() as api:`")
        return entry.current()

    def proxy(self, url: str) -> str | None:
        """The proxy for ``url`` from HTTP(S)_PROXY / NO_PROXY, looked up once per origin and shared
        session (like requests; aiohttp's own ``trust_env`` would also read ~/.netrc on every request)."""
        entry = self._entry
        scheme, _, rest = url.partition("://")
        origin = scheme + "://" + rest.partition("/")[0]
        proxies = entry.proxies if entry is not None else {}
        try:
            return proxies[origin]
        except KeyError:
            pass
        parts = urlsplit(origin)
        proxy = getproxies().get(parts.scheme)
        if proxy and proxy_bypass(parts.hostname or ""):
            proxy = None
        proxies[origin] = proxy
        return proxy

    async def release(self) -> None:
        """Give the lease back (idempotent); the last user of a session closes it."""
        entry, loop = self._entry, self._loop
        self._entry = self._loop = None
        if entry is None or loop is None:
            return
        entry.users -= 1
        if entry.users > 0:
            return
        shared = _REGISTRY.get(loop)
        if shared is not None and shared.get(self._key) is entry:
            del shared[self._key]
            if not shared:
                del _REGISTRY[loop]
        await entry.session.close()


def open_sessions() -> int:
    """How many shared sessions the running loop holds (for tests and diagnostics)."""
    shared = _REGISTRY.get(asyncio.get_running_loop(), {})
    return sum(1 for entry in shared.values() if not entry.session.closed)
