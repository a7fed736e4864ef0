"""The emulator's uvicorn settings, and the request-head timeout uvicorn lacks.

uvicorn times out idle keep-alive connections, but not a request head sent slowly or never finished:
a client that sends ``GET / HTTP/1.1\\r\\nHost: x\\r\\n`` and stops holds its connection forever.
:class:`HeadTimeoutProtocol` (uvicorn's own HTTP protocol, h11 or httptools, plus a timer) closes a
connection whose request head is not complete :data:`HEAD_TIMEOUT_SECONDS` after the connection
opened or after the first byte of a later request on it arrived.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from uvicorn.protocols.http.auto import AutoHTTPProtocol

#: Seconds a client has to send a whole request head (request line and headers).
HEAD_TIMEOUT_SECONDS = 10.0
#: Seconds an idle keep-alive connection stays open between requests.
KEEP_ALIVE_SECONDS = 30
#: Pending connections the listening socket queues.
BACKLOG = 4096


class _HeadTimeout(asyncio.Protocol):
    """Closes the connection when a request head takes longer than ``head_timeout`` seconds."""

    head_timeout: ClassVar[float] = HEAD_TIMEOUT_SECONDS
    if TYPE_CHECKING:
        cycle: Any  # uvicorn's current request-response cycle (None before the first head)
        loop: asyncio.AbstractEventLoop
        transport: asyncio.Transport

    _head_timer: asyncio.TimerHandle | None = None
    _head_of: Any = None  # the cycle that was current when the timer was armed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        if self._head_timer is None and (cycle is None or cycle.response_complete):
            self._arm()  # the first byte of a new request head
        super().data_received(data)  # type: ignore[safe-super]
        if self._head_timer is not None and self.cycle is not self._head_of:
            self._disarm()  # the head is complete: a new cycle began

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_of = self.cycle
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is self._head_of and not self.transport.is_closing():
            self.transport.close()


class HeadTimeoutProtocol(_HeadTimeout, AutoHTTPProtocol):  # type: ignore[valid-type,misc]
    """uvicorn's HTTP protocol with a :data:`HEAD_TIMEOUT_SECONDS` request-head timeout."""


def with_head_timeout(seconds: float) -> type[asyncio.Protocol]:
    """:class:`HeadTimeoutProtocol` with another timeout (in-process servers, e.g. tests).

    :param seconds: the most seconds a request head may take.
    :return: the protocol class to give uvicorn as ``http``.
    """
    if seconds == HEAD_TIMEOUT_SECONDS:
        return HeadTimeoutProtocol
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout": float(seconds)})


def uvicorn_options(head_timeout: float = HEAD_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The uvicorn settings every emulator server uses (in-process and command line).

    :param head_timeout: the most seconds a request head may take.
    :return: keyword arguments of ``uvicorn.Config``.
    """
    return {
        "http": with_head_timeout(head_timeout),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "backlog": BACKLOG,
    }
