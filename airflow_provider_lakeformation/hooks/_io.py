"""The bounds of one attempt, shared by the sync and the async transport: its deadline
(:func:`attempt_seconds_left`), the capped body reader (:class:`BodyReader`, gzip/deflate inflated
with a bounded output) and the transport errors' texts. Knows no endpoint and no job model.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from airflow_provider_lakeformation.exceptions import (
    LakeFormationConnectionError,
    LakeFormationDeadlineError,
    LakeFormationResponseError,
    TransportError,
)
from airflow_provider_lakeformation.hooks._retry import current_deadline
from airflow_provider_lakeformation.hooks._settings import ConnectionSettings
from airflow_provider_lakeformation.hooks._wire import REQUEST_ID_HEADER, Call, scrub

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("airflow_provider_lakeformation.hooks.base")  # one logger for the transport

#: Only encodings :class:`BodyReader` inflates with a bounded output are asked for.
ACCEPT_ENCODING = "gzip, deflate"


def attempt_seconds_left(s: ConnectionSettings, started: float) -> float:
    """Seconds one attempt begun at ``started`` may still take: its own bound (connect + read
    timeout) or the caller's deadline, whichever is first.

    :raises LakeFormationDeadlineError: no time left.
    """
    end = started + s.attempt_seconds
    caller = current_deadline()
    if caller is not None:
        end = min(end, caller)
    left = end - time.monotonic()
    if left <= 0:
        raise LakeFormationDeadlineError(
            "the call's deadline passed"
            if caller is not None and caller <= end
            else f"no complete response within {s.attempt_seconds:g} s (connect + read timeout)"
        )
    return left


# ------------------------------------------------------------------------------ body cap


class BodyReader:
    """Collects a reply body, inflating gzip/deflate itself with a bounded output, and fails once the
    decompressed size passes the cap (sync and async share it)."""

    def __init__(self, encoding: str | None, cap: int) -> None:
        enc = (encoding or "identity").strip().lower()
        if enc not in ("identity", "gzip", "x-gzip", "deflate"):
            raise ValueError(f"unsupported Content-Encoding {enc[:40]!r}")
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []
        self._inflate = None if enc == "identity" else zlib.decompressobj(47 if "gzip" in enc else 15)

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise OverflowError
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        """Add raw (possibly compressed) bytes.

        :raises OverflowError: the body passed the cap.
        """
        if self._inflate is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            self._add(self._inflate.decompress(data, self.cap - self.size + 1))
            data = self._inflate.unconsumed_tail

    def body(self) -> bytes:
        """The whole (decompressed) body."""
        if self._inflate is not None:
            self._add(self._inflate.flush())
        return b"".join(self.parts)


def too_large(call: Call, status: int, headers: Mapping[str, str], cap: int) -> LakeFormationResponseError:
    """The error of a reply body over ``max_response_bytes``."""
    return LakeFormationResponseError(
        f"reply body larger than {cap} bytes (connection extra max_response_bytes); not read further",
        status_code=status,
        request_id=scrub(headers.get(REQUEST_ID_HEADER), ()),
        method=call.method,
        path=call.path,
    )


def body_reader(call: Call, status: int, headers: Mapping[str, str], cap: int) -> BodyReader:
    """A :class:`BodyReader` for a reply, refusing a declared Content-Length over the cap up front."""
    length = headers.get("Content-Length", "")
    encoding = headers.get("Content-Encoding")
    if length.strip().isdigit() and int(length) > cap and not encoding:
        raise too_large(call, status, headers, cap)
    try:
        return BodyReader(encoding, cap)
    except ValueError as exc:
        raise LakeFormationResponseError(
            f"unexpected response from LakeFormation: {scrub(str(exc), ())}",
            status_code=status,
            method=call.method,
            path=call.path,
        ) from None


def read_capped(
    call: Call, status: int, headers: Mapping[str, str], chunks: Iterable[bytes], cap: int
) -> bytes:
    """The body from ``chunks`` through a :class:`BodyReader` (sync transport).

    :param call: the request (for errors).
    :param status: the reply's status.
    :param headers: the reply's headers.
    :param chunks: the raw body as it arrives.
    :param cap: the largest decompressed body accepted.
    :return: the whole (decompressed) body.
    :raises LakeFormationResponseError: over the cap, or an encoding not asked for.
    """
    reader = body_reader(call, status, headers, cap)
    try:
        for chunk in chunks:
            reader.feed(chunk)
        return reader.body()
    except OverflowError:
        raise too_large(call, status, headers, cap) from None
    except zlib.error as exc:
        raise TransportError(f"reply body could not be inflated: {exc}") from None


async def aread_capped(call: Call, resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """:func:`read_capped` for an aiohttp response (read as the chunks arrive).

    :param call: the request (for errors).
    :param resp: the reply.
    :param cap: the largest decompressed body accepted.
    :return: the whole (decompressed) body.
    """
    reader = body_reader(call, resp.status, resp.headers, cap)
    try:
        async for chunk in resp.content.iter_any():
            reader.feed(chunk)
        return reader.body()
    except OverflowError:
        raise too_large(call, resp.status, resp.headers, cap) from None
    except zlib.error as exc:
        raise TransportError(f"reply body could not be inflated: {exc}") from None


# ------------------------------------------------------------------------- transport errors


def tls_error(s: ConnectionSettings, exc: BaseException) -> LakeFormationConnectionError:
    """A failed TLS handshake, naming the CA store checked against and the fix."""
    where = "the CA bundle " + repr(s.ca_bundle) if s.ca_bundle else "the system CA store"
    return LakeFormationConnectionError(
        f"TLS handshake with {s.endpoint} failed (certificate checked against {where}): "
        f"{short_error(exc, s)}; set the connection extra ca_bundle to the CA that "
        "signed the server certificate (or verify=false for a test endpoint only)"
    )


def short_error(exc: BaseException, s: ConnectionSettings | None = None) -> str:
    """``Type: message`` cut to 300 characters, through :func:`scrub` (a transport error may quote
    what the server sent, e.g. a malformed status line)."""
    return scrub(f"{type(exc).__name__}: {str(exc)[:300]}", s.secret_values() if s else ()) or ""


_WARNED_INSECURE: set[tuple[str | None, str, str]] = set()


def warn_insecure(s: ConnectionSettings, path: str) -> None:
    """One WARNING per connection (and endpoint) and path (``sync``: hook; ``async``: async client
    and trigger) in this process when TLS verification is off; called by both transports' ``_send``."""
    key = (s.conn_id, s.endpoint, path)
    if s.verify or key in _WARNED_INSECURE:
        return
    _WARNED_INSECURE.add(key)
    log.warning(
        "LakeFormation connection %r: TLS certificate verification is OFF (verify=false); "
        "anyone on the path to %s can read and change the traffic, credentials included",
        s.conn_id,
        s.endpoint,
    )
