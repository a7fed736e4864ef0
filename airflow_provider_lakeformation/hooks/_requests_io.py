"""The sync transport's plumbing over requests/urllib3: a session whose every socket read is bounded
by the attempt's deadline, and the raw body read as it arrives.

**Why a deadline per read.** requests and urllib3 have no total timeout: their read timeout bounds
each ``recv``, so a server that drips the status line, the headers or the body one byte at a time,
each within the read timeout, holds the call for as long as it drips. Two known remedies:

* a watchdog (a timer thread) that closes the socket at the deadline. It needs the socket before
  the request is sent (requests does not hand it out), a thread or a shared timer per call, and a
  close from another thread races the reader (the descriptor may already be reused);
* setting the socket's timeout to the time left before each read, in the reading thread. No thread,
  no race, and it covers every byte of the reply: status line, headers, body.

Here the second: :class:`DeadlineAdapter` gives each connection a :class:`_DeadlineSocket`, whose
reads take ``min(timeout, time left)``; the time left comes from :func:`read_deadline`, set by the
transport around one attempt (the connect itself is bounded by the connect timeout, also cut to
the time left). Outside :func:`read_deadline` the socket behaves as urllib3 made it.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import socket
import time
from collections.abc import Iterator
from typing import Any

import requests
import requests.adapters
import requests.auth
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from airflow_provider_lakeformation.exceptions import TransportError
from airflow_provider_lakeformation.hooks._io import attempt_seconds_left, short_error
from airflow_provider_lakeformation.hooks._settings import ConnectionSettings
from airflow_provider_lakeformation.hooks._wire import USER_AGENT

#: ``time.monotonic()`` by which the current attempt's reads must end (``None``: no bound).
_READ_UNTIL: contextvars.ContextVar[float | None] = contextvars.ContextVar("lf_read_until", default=None)


@contextlib.contextmanager
def read_deadline(until: float) -> Iterator[None]:
    """Every socket read of a :func:`new_session` session inside the block ends by ``until``.

    :param until: a ``time.monotonic()`` value.
    """
    token = _READ_UNTIL.set(until)
    try:
        yield
    finally:
        _READ_UNTIL.reset(token)


class _DeadlineSocket:
    """A connected (TLS) socket whose reads through :meth:`makefile` take at most the time left
    before :data:`_READ_UNTIL`; everything else goes to the socket itself."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._timeout

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        until = _READ_UNTIL.get()
        if until is not None:
            left = until - time.monotonic()
            if left <= 0:
                raise TimeoutError("the attempt's deadline passed")
            self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))
        return int(self._sock.recv_into(buffer, nbytes, flags))

    def makefile(self, mode: str = "r", buffering: int | None = None, **kwargs: Any) -> Any:
        if mode != "rb" or not hasattr(self._sock, "_io_refs"):
            return self._sock.makefile(mode, buffering, **kwargs)
        self._sock._io_refs += 1  # released by SocketIO.close, as socket.makefile does
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        return io.BufferedReader(raw, buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE)


class _DeadlineHTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)  # type: ignore[assignment]


class _DeadlineHTTPSConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)  # type: ignore[assignment]


class _DeadlineHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP proxy) read under
    :func:`read_deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.PoolManager) and manager.pool_classes_by_scheme is not _POOLS:
            manager.pool_classes_by_scheme = _POOLS
        return manager


class _KeepHeaders(requests.auth.AuthBase):
    """An explicit no-op auth: stops requests from replacing our X-Auth-Token/signature headers
    with credentials from ``~/.netrc`` (proxy variables are still honoured)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


KEEP_HEADERS = _KeepHeaders()


def new_session() -> requests.Session:
    """A ``requests.Session`` with the provider's User-Agent and :class:`DeadlineAdapter` mounted.

    :return: the session.
    """
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    adapter = DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def raw_chunks(resp: requests.Response, s: ConnectionSettings, started: float) -> Iterator[bytes]:
    """The raw (still compressed) body as it arrives, each read returning what one ``recv`` got
    (``read1``); the socket's reads are bounded by :func:`read_deadline`.

    :param resp: a streamed response.
    :param s: the connection settings (read timeout, attempt bound).
    :param started: when the attempt began (``time.monotonic()``).
    :return: the chunks.
    :raises TransportError: the read timed out or the connection broke.
    """
    raw = resp.raw
    while True:
        attempt_seconds_left(s, started)
        try:
            chunk = raw.read1(65536, decode_content=False)
        except urllib3.exceptions.ReadTimeoutError as exc:
            attempt_seconds_left(s, started)  # the deadline, when that is what ran out
            raise TransportError(f"no response within the read timeout of {s.read_timeout:g} s") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(f"connection lost: {short_error(exc, s)}") from exc
        if not chunk:
            return
        yield chunk


def requests_not_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established (refused, DNS, connect timeout).

    :param exc: the error requests raised.
    :return: whether the request never left.
    """
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))
