"""The base layer of the LakeFormation hook: everything between an endpoint method and the bytes on
the wire, for the sync hook (requests) and the async client (aiohttp) alike.

* **Requests.** :func:`build_call` turns a method, path segments, query and body into a
  :class:`Call` (body serialised once, so the signed bytes are the sent bytes); :func:`auth_headers`
  adds the identity (X-Auth-Token, or the AK/SK signature from :mod:`~airflow_provider_lakeformation.auth`).
* **Transport.** :class:`LakeFormationBaseHook` (sync: settings, ``requests.Session``, IAM token
  cache, retries) and :class:`LakeFormationBaseAsyncClient` (the ``aiohttp.ClientSession`` of its
  event loop and connection, shared through :mod:`._sessions`) send a call, re-send once with a
  fresh IAM token after a 401 and retry transient failures with the policy in :mod:`._retry`.
* **Replies.** :func:`read_json` and the ``parse_*`` functions check a response and map errors to
  :mod:`~airflow_provider_lakeformation.exceptions`; error texts carry the method, the URL path (never
  the query), the HTTP status, the service's error fields and the request id; never a header or a
  request body.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import ssl
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus

import requests
import requests.auth
import urllib3
from pydantic import BaseModel, ValidationError

from airflow_provider_lakeformation import __version__
from airflow_provider_lakeformation._compat import AirflowNotFoundException, BaseHook, mask_secret
from airflow_provider_lakeformation.auth import (
    IamToken,
    TokenCache,
    build_password_auth_body,
    shared_token_cache,
    sign_request,
    token_cache_key,
    token_from_iam_response,
)
from airflow_provider_lakeformation.auth.signer import canonical_query_string
from airflow_provider_lakeformation.exceptions import (
    LakeFormationApiError,
    LakeFormationConnectionError,
    LakeFormationDeadlineError,
    LakeFormationError,
    LakeFormationResponseError,
    TransportError,
    credentials_rejected,
    error_class_for_status,
    printable,
)
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.hooks._retry import (
    call_deadline,
    current_deadline,
    is_ambiguous,
    retry_async,
    retry_sync,
)
from airflow_provider_lakeformation.hooks._sessions import SessionLease
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings, RetrySettings
from airflow_provider_lakeformation.models.errors import ErrorBody
from airflow_provider_lakeformation.models.jobs import Job, JobPage
from airflow_provider_lakeformation.models.status import JobStatus, parse_status

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

__all__ = ["call_deadline", "current_deadline"]  # re-exported for the waiter

T = TypeVar("T")
H = TypeVar("H", bound="LakeFormationBaseHook")
A = TypeVar("A", bound="LakeFormationBaseAsyncClient")

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
USER_AGENT = f"airflow-provider-lakeformation/{__version__}"
REQUEST_ID_HEADER = "X-Request-Id"
SNIPPET_CHARS = 200

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=LakeFormationApiError)

QueryValue = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request, exactly as sent and signed."""

    method: str
    url: str  #: absolute URL including the query string
    path: str  #: URL path without the query (for errors and logs)
    body: bytes | None = field(default=None, repr=False)  # may hold credentials (IAM request)
    auth: bool = True  #: False for the IAM token request itself

    @property
    def what(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A received response: status, case-insensitive headers, the whole body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    #: credential values known to the client when this reply came in: scrubbed from error texts
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def request_id(self) -> str | None:
        return self.headers.get(REQUEST_ID_HEADER)


# ----------------------------------------------------------------------- server-provided text


def _variants(secret: str) -> set[str]:
    """A credential as a server may echo it: raw, JSON-escaped, percent-encoded."""
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret, safe="")}


#: Shorter values are not scrubbed (replacing every "a" would leave no readable message); no real
#: token, key or password is this short.
MIN_SCRUBBED_CHARS = 4


def scrub(text: str | None, secrets: Iterable[str]) -> str | None:
    """THE gate of server-provided text into an error, an event or a log: every known credential
    value of :data:`MIN_SCRUBBED_CHARS` or more (raw, JSON-escaped or percent-encoded) becomes ``***``
    and control characters are escaped.

    :param text: text from a reply (error field, body snippet, reason phrase, header).
    :param secrets: the credential values known to the client.
    :return: the safe text (``None`` stays ``None``).
    """
    if text is None:
        return None
    found = {v for s in secrets if len(s) >= MIN_SCRUBBED_CHARS for v in _variants(s)}
    for secret in sorted(found, key=len, reverse=True):
        text = text.replace(secret, "***")
    return printable(text)


def known_secrets(s: ConnectionSettings, *more: str | None) -> tuple[str, ...]:
    """The connection's credential values plus ``more`` (an IAM-issued token)."""
    return s.secret_values() + tuple(m for m in more if m)


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


def register_secrets(s: ConnectionSettings) -> None:
    """Register the connection's credential values with Airflow's secrets masker (second line of
    defence behind :func:`scrub`)."""
    for secret in s.secret_values():
        mask_secret(secret)


def loads(body: bytes | str) -> Any:
    """``json.loads`` whose every failure (also nesting too deep for the parser) is a ``ValueError``."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


# --------------------------------------------------------------------------- call deadline


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


# ----------------------------------------------------------------------------- requests


def _query_value(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_call(
    method: str,
    base: str,
    segments: Sequence[str] = (),
    query: Mapping[str, QueryValue] | None = None,
    body: Any = None,
    *,
    auth: bool = True,
) -> Call:
    """``base`` + percent-encoded path ``segments`` + sorted, encoded query (``None`` values dropped);
    a ``body`` is serialised to compact UTF-8 JSON here, so the signed bytes are the sent bytes."""
    path = base + "".join("/" + quote(str(seg), safe="~") for seg in segments)
    pairs = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
    url = f"{path}?{canonical_query_string(pairs)}" if pairs else path
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    split = path.split("://", 1)[-1]
    slash = split.find("/")
    return Call(method=method, url=url, path=split[slash:] if slash >= 0 else "/", body=data, auth=auth)


def auth_headers(settings: ConnectionSettings, call: Call, token: str | None) -> dict[str, str]:
    """Headers of ``call``: Content-Type for a body, plus X-Auth-Token (``token``) or the AK/SK
    signature over the exact method, URL (with query) and body bytes."""
    headers = {"Content-Type": JSON_CONTENT_TYPE} if call.body is not None else {}
    if not call.auth:
        return headers
    if settings.auth_type is AuthType.AKSK:
        assert settings.access_key is not None
        assert settings.secret_key is not None
        security = settings.security_token.get_secret_value() if settings.security_token else None
        return sign_request(
            call.method,
            call.url,
            headers,
            call.body or b"",
            settings.access_key.get_secret_value(),
            settings.secret_key.get_secret_value(),
            security_token=security,
            project_id=settings.project_id,
        )
    if token is None:
        raise ValueError("token auth needs a token")
    headers["X-Auth-Token"] = token
    return headers


# ---------------------------------------------------------------------------- responses

_SECRET_VALUE_RE = re.compile(
    r"""(["']?(?:password|passwd|secret_key|secret|access_key|token|security_token)["']?\s*[:=]\s*)"""
    r"""("[^"]*"|'[^']*'|[^\s,}&]+)""",
    re.IGNORECASE,
)
_QUOTED_FIELD_RE = {
    name: re.compile(rf"""["']{name}["']\s*:\s*(?:"([^"]*)"|'([^']*)')""")
    for name in ("error_code", "error_msg", "solution_msg")
}
_WS_RE = re.compile(r"\s+")


def body_snippet(body: bytes, limit: int = SNIPPET_CHARS) -> str:
    """The first ``limit`` characters of a body, whitespace collapsed, secret-looking values masked."""
    text = body[: limit * 4].decode("utf-8", errors="replace")
    text = _WS_RE.sub(" ", text).strip()
    # no control characters (NUL, ESC, ...) from a reply may reach an exception text or a log line
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    text = _SECRET_VALUE_RE.sub(r"\1***", text)
    if len(text) > limit:
        return text[:limit] + "..."
    return text or "<empty>"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or HTTP date); None if absent
    or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:  # pragma: no cover - older Pythons returned None
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def _error_body(body: bytes) -> tuple[ErrorBody | None, bool]:
    """The error fields of a body, and whether the body was readable (JSON or JSON-ish)."""
    try:
        data = loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        try:
            return ErrorBody.model_validate(data), True
        except ValidationError:
            return None, True
    # Not JSON: the docs' own 401 example uses single quotes; pick the fields out leniently.
    text = body[:8192].decode("utf-8", errors="replace")
    found: dict[str, str] = {}
    for name, pattern in _QUOTED_FIELD_RE.items():
        match = pattern.search(text)
        if match:
            found[name] = match[1] if match[1] is not None else match[2]
    if found:
        return ErrorBody.model_validate(found), True
    return None, False


_HINTS = {
    401: "the credentials were rejected: check the AK/SK, the IAM user and password, or the token",
    404: "check project_id, instance_id and the job id",
}
#: 403 says either: the error code (or the gateway's wording) tells which.
_REJECTED_HINT = "the signature or token was rejected: check that the SK belongs to the AK, or the token"
_DENIED_HINT = "the credentials were accepted but lack permission for this LakeFormation operation"


def _hint(status: int, err: ErrorBody | None) -> str | None:
    if status != 403:
        return _HINTS.get(status)
    rejected = credentials_rejected(status, err.code if err else None, err.message if err else None)
    return _REJECTED_HINT if rejected else _DENIED_HINT


def api_error(call: Call, resp: RawResponse, *, service: str = "LakeFormation") -> LakeFormationApiError:
    """The exception for a non-2xx response (class by status), with the service's error fields."""
    err, readable = _error_body(resp.body)
    cls = error_class_for_status(resp.status)
    message = f"{service} API error: HTTP {resp.status} {resp.reason}".rstrip()
    hint = _hint(resp.status, err)
    if hint:
        message += f" ({hint})"
    if not readable or (err is not None and err.code is None and err.message is None):
        message += f"; body: {body_snippet(resp.body)}"
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    return _reply_error(cls, message, call, resp, err, retry_after=retry_after)


def _reply_error(
    cls: type[E], message: str, call: Call, resp: RawResponse, err: ErrorBody | None, **extra: Any
) -> E:
    """``cls`` with the reply's status, error fields and request id, and the call's method and path;
    every server-provided text passes :func:`scrub` here, the one place it enters an error."""
    secrets = resp.secrets
    message = scrub(message, secrets) or ""
    exc = cls(
        message,
        status_code=resp.status,
        error_code=scrub(err.code, secrets) if err else None,
        error_msg=scrub(err.message, secrets) if err else None,
        solution_msg=scrub(err.solution_msg, secrets) if err else None,
        common_error_code=scrub(err.common_code, secrets) if err else None,
        request_id=scrub(resp.request_id, secrets),
        method=call.method,
        path=call.path,
        **extra,
    )
    exc.__dict__["summary"] = message  # the headline, reused when retries give up
    return exc


def response_error(
    call: Call, resp: RawResponse, why: str, err: ErrorBody | None = None
) -> LakeFormationResponseError:
    """A 2xx whose body is not what the API documents."""
    message = f"unexpected response from LakeFormation: {why}; body: {body_snippet(resp.body)}"
    return _reply_error(LakeFormationResponseError, message, call, resp, err)


def _looks_like_html(body: bytes) -> bool:
    return body.lstrip()[:1] == b"<"


def read_json(call: Call, resp: RawResponse, *, required: bool = True) -> Any:
    """Check a response and decode its JSON body.

    Non-2xx -> the mapped :class:`LakeFormationApiError`. For 2xx: a body that is not JSON, not
    an object (when ``required``) or is an error body -> :class:`LakeFormationResponseError`.
    When not ``required`` (start/stop/delete), an empty or plain-text body is accepted (None).
    """
    if not 200 <= resp.status < 300:
        raise api_error(call, resp)
    body = resp.body
    if not body.strip():
        if required:
            raise response_error(call, resp, "empty body where a JSON object was expected")
        return None
    try:
        data = loads(body)
    except ValueError as exc:
        if required or _looks_like_html(body) or "deeply" in str(exc):
            raise response_error(call, resp, f"the body is not JSON ({str(exc)[:80]})") from None
        return None
    if isinstance(data, dict):
        nested = data.get("error")
        if data.get("error_code") or data.get("error_msg") or isinstance(nested, dict):
            err, _ = _error_body(body)
            raise response_error(call, resp, f"HTTP {resp.status} with an error body", err)
    elif required:
        raise response_error(call, resp, f"expected a JSON object, got {type(data).__name__}")
    return data


def _problems(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        lines.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines[:5]) + ("; ..." if len(lines) > 5 else "")


def parse_safely(call: Call, resp: RawResponse, parse: Callable[[Call, RawResponse], T]) -> T:
    """``parse(call, resp)``; a reply that breaks the parser in an unforeseen way (deep nesting,
    odd types) ends as :class:`LakeFormationResponseError`, never a bare traceback."""
    try:
        return parse(call, resp)
    except LakeFormationError:
        raise
    except (
        RecursionError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        ValidationError,
    ) as exc:
        raise response_error(call, resp, f"the reply could not be read ({type(exc).__name__})") from None


def parse_model(call: Call, resp: RawResponse, model: type[M]) -> M:
    """Check ``resp`` and validate its JSON object as ``model`` (unknown fields tolerated)."""
    data = read_json(call, resp)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise response_error(call, resp, _problems(exc)) from None


def parse_job_status(call: Call, resp: RawResponse) -> JobStatus:
    """The status of a job from a get-job response (``status`` as a string or ``{"status": ...}``),
    without validating the rest of the job: a plain lookup, cheap enough for thousands of polls a
    second.

    :param call: the request.
    :param resp: its reply.
    :return: the status.
    :raises LakeFormationApiError: a non-2xx reply.
    :raises LakeFormationResponseError: no readable status in a 2xx reply.
    """
    data = read_json(call, resp)
    if "status" not in data:
        raise response_error(call, resp, "status: Field required")
    try:
        return parse_status(data["status"])
    except ValueError as exc:
        raise response_error(call, resp, f"status: {exc}") from None


def parse_nothing(call: Call, resp: RawResponse) -> bool:
    """Check a response whose body does not matter (start, stop, delete): True when accepted."""
    read_json(call, resp, required=False)
    return True


def parse_iam_token(call: Call, resp: RawResponse) -> IamToken:
    """Check an IAM token response: token from ``X-Subject-Token``, expiry from the body."""
    if not 200 <= resp.status < 300:
        raise api_error(call, resp, service="IAM")
    try:
        data = loads(resp.body)
    except ValueError:
        raise response_error(call, resp, "the IAM token body is not JSON") from None
    try:
        token = token_from_iam_response(resp.headers, data if isinstance(data, dict) else {})
    except ValueError as exc:
        raise response_error(call, resp, f"IAM: {exc}") from None
    mask_secret(token.value)
    return token


def parse_job(call: Call, resp: RawResponse) -> Job:
    """Check a response and read its body as a :class:`Job`."""
    return parse_model(call, resp, Job)


def parse_page(call: Call, resp: RawResponse) -> JobPage:
    """Check a response and read its body as a :class:`JobPage`."""
    return parse_model(call, resp, JobPage)


# ----------------------------------------------------------------------------- call builders


def jobs_base(s: ConnectionSettings) -> str:
    """``{api_root}/instances/{instance_id}/lf-jobs``."""
    return f"{s.api_root}/instances/{quote(s.instance_id, safe='~')}/lf-jobs"


def job_call(
    s: ConnectionSettings,
    method: str,
    job_id: str | None = None,
    action: str | None = None,
    *,
    query: Mapping[str, QueryValue] | None = None,
    body: Any = None,
) -> Call:
    """A call on the jobs collection, one job, or one job's ``action`` (start, stop, log, ...)."""
    segments = [seg for seg in (job_id, action) if seg is not None]
    return build_call(method, jobs_base(s), segments, query, body)


def iam_call(s: ConnectionSettings) -> Call:
    """The IAM password-token request of ``s`` (unauthenticated; its body holds the password)."""
    assert s.iam_endpoint
    assert s.user_name
    assert s.password
    assert s.domain_name
    body = build_password_auth_body(
        s.user_name, s.password.get_secret_value(), s.domain_name, s.project_id, s.project_name
    )
    return build_call("POST", f"{s.iam_endpoint}/v3/auth/tokens", body=body, auth=False)


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


#: Only encodings :class:`BodyReader` inflates with a bounded output are asked for.
ACCEPT_ENCODING = "gzip, deflate"


def read_capped(
    call: Call, status: int, headers: Mapping[str, str], chunks: Iterable[bytes], cap: int
) -> bytes:
    """The body from ``chunks`` through a :class:`BodyReader` (sync transport).

    :raises LakeFormationResponseError: over the cap, or an encoding not asked for.
    """
    reader = _reader(call, status, headers, cap)
    try:
        for chunk in chunks:
            reader.feed(chunk)
        return reader.body()
    except OverflowError:
        raise too_large(call, status, headers, cap) from None
    except zlib.error as exc:
        raise TransportError(f"reply body could not be inflated: {exc}") from None


def _reader(call: Call, status: int, headers: Mapping[str, str], cap: int) -> BodyReader:
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


def requests_not_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established (refused, DNS, connect timeout)."""
    import urllib3.exceptions as u3

    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return isinstance(reason, (u3.NewConnectionError, u3.ConnectTimeoutError))


def static_token(s: ConnectionSettings) -> str | None:
    """The configured X-Auth-Token for ``token`` auth; ``None`` for AK/SK (signed) and IAM (fetched)."""
    if s.auth_type is AuthType.TOKEN:
        assert s.token is not None
        return s.token.get_secret_value()
    return None


def refresh_after(resp: RawResponse, token: str | None, s: ConnectionSettings, what: str) -> bool:
    """Whether ``resp`` is a 401 for a cached IAM token (drop it, fetch a new one, re-send once)."""
    if resp.status == 401 and token is not None and s.auth_type is AuthType.IAM:
        log.info("LakeFormation %s: token rejected (401); fetching a new IAM token, re-sending once", what)
        return True
    return False


# ------------------------------------------------------------------------ sync transport


class _KeepHeaders(requests.auth.AuthBase):
    """An explicit no-op auth: stops requests from replacing our X-Auth-Token/signature headers
    with credentials from ``~/.netrc`` (proxy variables are still honoured)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


_KEEP_HEADERS = _KeepHeaders()


_SETTINGS: dict[ConnectionSettings, ConnectionSettings] = {}
#: Distinct settings kept for sharing; past this the cache starts over (connections that change often).
_SETTINGS_MAX = 256


def _interned(settings: ConnectionSettings) -> ConnectionSettings:
    """One shared object per distinct (frozen) settings: thousands of triggers on one connection
    hold one copy instead of one each."""
    shared = _SETTINGS.get(settings)
    if shared is None:
        if len(_SETTINGS) >= _SETTINGS_MAX:
            _SETTINGS.clear()
        shared = _SETTINGS[settings] = settings
    return shared


def _raw_chunks(resp: requests.Response, s: ConnectionSettings, started: float) -> Iterator[bytes]:
    """The raw (still compressed) body as it arrives, each read returning what one ``recv`` got
    (``read1``), so a server dripping bytes cannot hold the attempt past its deadline."""
    raw = resp.raw
    while True:
        left = attempt_seconds_left(s, started)
        sock = getattr(getattr(raw, "_connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(min(s.read_timeout, left))
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


class LakeFormationBaseHook(BaseHook):
    """Connection settings, HTTP session, auth and retries of the LakeFormation hook. Its arguments
    are documented on ``hooks.lakeformation.LakeFormationHook``, the class users create."""

    conn_name_attr = "lakeformation_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "lakeformation"
    hook_name = "Huawei Cloud LakeFormation"

    def __init__(
        self,
        lakeformation_conn_id: str = default_conn_name,
        *,
        project_id: str | None = None,
        instance_id: str | None = None,
        region: str | None = None,
        retry: RetrySettings | Mapping[str, Any] | None = None,
        timeout: float | tuple[float, float] | None = None,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        self.lakeformation_conn_id = lakeformation_conn_id
        self.project_id = project_id
        self.instance_id = instance_id
        self.region = region
        self.retry = retry
        self.timeout = timeout
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._token_cache: TokenCache | None = None

    @classmethod
    def from_settings(cls: type[H], settings: ConnectionSettings) -> H:
        """A hook using ready ``settings`` (no Airflow connection lookup).

        :param settings: validated connection settings.
        :return: the hook.
        """
        hook = cls(settings.conn_id or cls.default_conn_name)
        hook._settings = settings
        register_secrets(settings)
        return hook

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lakeformation_conn_id={self.lakeformation_conn_id!r})"

    # ------------------------------------------------------------------ settings

    def _settings_from(self, conn: Any, extra: Mapping[str, Any]) -> ConnectionSettings:
        return _interned(self._build_settings(conn, extra))

    def _build_settings(self, conn: Any, extra: Mapping[str, Any]) -> ConnectionSettings:
        settings = ConnectionSettings.from_connection(
            conn,
            extra=extra,
            project_id=self.project_id,
            instance_id=self.instance_id,
            region=self.region,
            retry=self.retry,
            timeout=self.timeout,
        )
        register_secrets(settings)
        return settings

    @property
    def settings(self) -> ConnectionSettings:
        """Validated settings from the connection and the overrides (looked up once, then cached).

        :raises LakeFormationSpecError: a required setting is missing or invalid.
        """
        if self._settings is None:
            conn = self.get_connection(self.lakeformation_conn_id)
            self._settings = self._settings_from(conn, conn.extra_dejson)
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """:attr:`settings`, looking the connection up with ``aget_connection`` (never blocking
        the event loop; falls back to ``sync_to_async(get_connection)`` on older Airflow).

        :return: the validated settings.
        :raises LakeFormationSpecError: a required setting is missing or invalid.
        """
        if self._settings is None:
            from asgiref.sync import sync_to_async

            getter = getattr(type(self), "aget_connection", None)
            if getter is not None:
                try:
                    conn = await getter(self.lakeformation_conn_id)
                except AirflowNotFoundException:
                    # Airflow 3.3's in-process supervisor (``airflow dags test`` running a trigger
                    # inline) has no async channel, so aget_connection misses connections stored
                    # in the metadata DB; the sync lookup in a worker thread finds them.
                    conn = await sync_to_async(self.get_connection)(self.lakeformation_conn_id)
            else:  # pragma: no cover - Airflow < 3.1
                conn = await sync_to_async(self.get_connection)(self.lakeformation_conn_id)
            aextra = getattr(conn, "aextra_dejson", None)
            extra = await aextra() if aextra is not None else conn.extra_dejson
            if self._settings is None:
                self._settings = self._settings_from(conn, extra)
        return self._settings

    def iam_token_cache(self, s: ConnectionSettings) -> TokenCache:
        """The process-wide IAM token cache of these credentials (shared by the async client).

        :param s: the hook's settings (auth type ``iam``).
        :return: the cache.
        """
        if self._token_cache is None:
            assert s.iam_endpoint
            assert s.domain_name
            assert s.user_name
            assert s.password
            key = token_cache_key(
                s.iam_endpoint, s.domain_name, s.user_name, s.project_id, s.password.get_secret_value()
            )
            self._token_cache = shared_token_cache(key)
        return self._token_cache

    # ------------------------------------------------------------------ session

    def get_conn(self) -> requests.Session:
        """The hook's ``requests.Session`` (created on first use, kept alive).

        :return: the session.
        """
        if self._session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the HTTP session (a new one is created if the hook is used again)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self: H) -> H:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ one call

    def _token(self, s: ConnectionSettings) -> str | None:
        if s.auth_type is AuthType.IAM:
            return self.iam_token_cache(s).get(self._fetch_iam_token)
        return static_token(s)

    def _fetch_iam_token(self) -> IamToken:
        s = self.settings
        call = iam_call(s)
        log.info("Fetching an IAM token from %s for LakeFormation", s.iam_endpoint)
        return retry_sync(
            lambda: parse_iam_token(call, self._send(call, auth_headers(s, call, None), s)),
            policy=s.retry,
            what=call.what,
            logger=log,
        )

    def _send(
        self, call: Call, headers: dict[str, str], s: ConnectionSettings, token: str | None = None
    ) -> RawResponse:
        warn_insecure(s, "sync")
        started = time.monotonic()
        left = attempt_seconds_left(s, started)
        try:
            resp = self.get_conn().request(
                call.method,
                call.url,
                data=call.body,
                headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
                timeout=(min(s.connect_timeout, left), min(s.read_timeout, left)),
                verify=s.requests_verify,
                allow_redirects=False,
                auth=_KEEP_HEADERS,
                stream=True,
            )
            with resp:
                body = read_capped(
                    call, resp.status_code, resp.headers, _raw_chunks(resp, s, started), s.max_response_bytes
                )
        except requests.exceptions.SSLError as exc:
            raise tls_error(s, exc) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError(f"connect timeout after {s.connect_timeout:g} s", sent=False) from exc
        except requests.exceptions.Timeout as exc:
            raise TransportError(f"no response within the read timeout of {s.read_timeout:g} s") from exc
        except requests.exceptions.ConnectionError as exc:
            if requests_not_sent(exc):
                raise TransportError(f"could not connect: {short_error(exc, s)}", sent=False) from exc
            raise TransportError(f"connection lost: {short_error(exc, s)}") from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError(short_error(exc, s)) from exc
        secrets = known_secrets(s, token, resp.headers.get("X-Subject-Token"))
        return RawResponse(resp.status_code, resp.reason or "", resp.headers, body, secrets)

    def _transmit(self, call: Call) -> RawResponse:
        """One attempt; with IAM auth a 401 drops the cached token and re-sends once."""
        s = self.settings
        token = self._token(s) if call.auth else None
        resp = self._send(call, auth_headers(s, call, token), s, token)
        if refresh_after(resp, token, s, call.what):
            assert token is not None
            self.iam_token_cache(s).invalidate(token)
            token = self._token(s)
            resp = self._send(call, auth_headers(s, call, token), s, token)
        return resp

    def attempt(self, call: Call, parse: Callable[[Call, RawResponse], T]) -> T:
        """Send ``call`` once (no retries) and ``parse`` the reply.

        :param call: the request.
        :param parse: checks the reply and reads its body (one of the ``parse_*`` functions).
        :return: what ``parse`` returns.
        :raises LakeFormationError: the mapped transport or API error.
        """
        return parse_safely(call, self._transmit(call), parse)

    def execute(
        self,
        call: Call,
        parse: Callable[[Call, RawResponse], T],
        *,
        reconcile: Callable[[], T | None] | None = None,
        retry: RetrySettings | None = None,
    ) -> T:
        """Send ``call`` with retries and ``parse`` the reply.

        With ``reconcile`` (non-idempotent calls), an ambiguous failure is followed by
        ``reconcile()`` before anything is re-sent: a non-None result means the call took effect
        and is returned as is. If the call finally fails after any ambiguous failure (retries
        spent, or e.g. a 400 "already running" for a re-sent start whose first copy was processed
        late), ``reconcile()`` gets one last say.

        :param call: the request.
        :param parse: checks the reply and reads its body.
        :param reconcile: "did it take effect?" check of a non-idempotent call.
        :param retry: a policy other than the connection's.
        :return: what ``parse`` (or ``reconcile``) returns.
        :raises LakeFormationError: the mapped error once retries are spent.
        """
        pending = False  # the last attempt failed ambiguously: check before re-sending
        ambiguous_seen = False

        def attempt() -> T:
            nonlocal pending, ambiguous_seen
            if pending and reconcile is not None:
                done = reconcile()
                if done is not None:
                    return done
                pending = False
            try:
                return self.attempt(call, parse)
            except Exception as exc:
                pending = reconcile is not None and is_ambiguous(exc)
                ambiguous_seen = ambiguous_seen or pending
                raise

        try:
            return retry_sync(attempt, policy=retry or self.settings.retry, what=call.what, logger=log)
        except LakeFormationError:
            done = _last_say(reconcile) if ambiguous_seen else None
            if done is not None:
                return done
            raise


def _last_say(reconcile: Callable[[], T | None] | None) -> T | None:
    """``reconcile()`` after the call finally failed; its own error is swallowed (the original
    error is the one worth reporting)."""
    if reconcile is None:
        return None
    try:
        return reconcile()
    except Exception:
        return None


# ----------------------------------------------------------------------- async transport


async def _aread_capped(call: Call, resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """:func:`read_capped` for an aiohttp response (read as the chunks arrive)."""
    reader = _reader(call, resp.status, resp.headers, cap)
    try:
        async for chunk in resp.content.iter_any():
            reader.feed(chunk)
        return reader.body()
    except OverflowError:
        raise too_large(call, resp.status, resp.headers, cap) from None
    except zlib.error as exc:
        raise TransportError(f"reply body could not be inflated: {exc}") from None


@lru_cache(maxsize=16)
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)


def _aiohttp_ssl(s: ConnectionSettings) -> ssl.SSLContext | bool:
    if not s.verify:
        return False
    if s.ca_bundle:
        return _ssl_context(s.ca_bundle)
    return True


def _new_session(s: ConnectionSettings) -> aiohttp.ClientSession:
    """The session shared by the async clients of one loop and transport settings
    (:mod:`~airflow_provider_lakeformation.hooks._sessions`): no pool limit, so one slow request
    never queues the others; no cookie jar, so nothing a reply sets reaches another client."""
    import aiohttp

    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout),
        connector=aiohttp.TCPConnector(ssl=_aiohttp_ssl(s), limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
    )


async def _request(
    session: aiohttp.ClientSession,
    call: Call,
    headers: dict[str, str],
    s: ConnectionSettings,
    proxy: str | None,
    token: str | None = None,
) -> RawResponse:
    """Send ``call`` once over ``session`` within the attempt's deadline, the body read capped;
    transport failures become :class:`TransportError`."""
    import asyncio

    import aiohttp
    from yarl import URL

    started = time.monotonic()
    left = attempt_seconds_left(s, started)
    try:
        async with session.request(
            call.method,
            URL(call.url, encoded=True),
            data=call.body,
            headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
            allow_redirects=False,
            proxy=proxy,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=left, sock_connect=s.connect_timeout, sock_read=s.read_timeout
            ),
        ) as resp:
            body = await _aread_capped(call, resp, s.max_response_bytes)
            secrets = known_secrets(s, token, resp.headers.get("X-Subject-Token"))
            return RawResponse(resp.status, resp.reason or "", resp.headers, body, secrets)
    except aiohttp.ClientSSLError as exc:
        raise tls_error(s, exc) from exc
    except aiohttp.ClientConnectorError as exc:
        raise TransportError(f"could not connect: {short_error(exc, s)}", sent=False) from exc
    except aiohttp.ConnectionTimeoutError as exc:
        raise TransportError(f"connect timeout after {s.connect_timeout:g} s", sent=False) from exc
    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
        attempt_seconds_left(s, started)  # the deadline, when that is what ran out
        raise TransportError(f"no response within the read timeout of {s.read_timeout:g} s") from exc
    except aiohttp.ClientError as exc:
        raise TransportError(f"connection lost: {short_error(exc, s)}") from exc


class LakeFormationBaseAsyncClient:
    """Async transport: inside ``async with``, a share of the ``aiohttp.ClientSession`` of the running
    loop and connection (:mod:`._sessions`: one session and connection pool for thousands of
    triggers, closed by its last user); same auth,
    retries, error mapping and parsing as :class:`LakeFormationBaseHook`. The connection is looked
    up with ``aget_connection`` and the IAM token fetched with aiohttp (and kept in the hook's
    shared token cache), so the event loop is never blocked.

    :param hook: the hook whose connection, overrides and IAM token cache are used.
    """

    def __init__(self, hook: LakeFormationBaseHook) -> None:
        self._hook = hook
        self._lease: SessionLease | None = None
        self._settings: ConnectionSettings | None = None

    @property
    def settings(self) -> ConnectionSettings:
        """The hook's settings (read on ``async with``).

        :raises RuntimeError: used outside ``async with``.
        """
        if self._settings is None:
            raise RuntimeError("use the client inside `async with hook.async_client() as api:`")
        return self._settings

    async def __aenter__(self: A) -> A:
        s = await self._hook.aget_settings()
        self._settings = s
        key = (s.conn_id, s.verify, s.ca_bundle, s.connect_timeout, s.read_timeout)
        self._lease = SessionLease(key, functools.partial(_new_session, s))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Give the shared session back (also done by ``async with``); its last user closes it."""
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()

    async def _token(self, s: ConnectionSettings) -> str | None:
        if s.auth_type is AuthType.IAM:
            return await self._hook.iam_token_cache(s).aget(self._fetch_iam_token)
        return static_token(s)

    async def _fetch_iam_token(self) -> IamToken:
        s = self.settings
        call = iam_call(s)
        log.info("Fetching an IAM token from %s for LakeFormation", s.iam_endpoint)

        async def attempt() -> IamToken:
            return parse_iam_token(call, await self._send(call, auth_headers(s, call, None)))

        return await retry_async(attempt, policy=s.retry, what=call.what, logger=log)

    async def _send(self, call: Call, headers: dict[str, str], token: str | None = None) -> RawResponse:
        lease = self._lease
        if lease is None:
            raise RuntimeError("use the client inside `async with hook.async_client() as api:`")
        s = self.settings
        warn_insecure(s, "async")
        session, proxy = lease.session(), lease.proxy(call.url)
        try:
            return await _request(session, call, headers, s, proxy, token)
        except TransportError:
            if not session.closed or self._lease is None:
                raise
        # The shared session was closed under this request (not the server's doing): once more on a
        # new one, as if the request had been made a moment later.
        return await _request(lease.session(), call, headers, s, proxy, token)

    async def _transmit(self, call: Call) -> RawResponse:
        s = self.settings
        token = await self._token(s) if call.auth else None
        resp = await self._send(call, auth_headers(s, call, token), token)
        if refresh_after(resp, token, s, call.what):
            assert token is not None
            self._hook.iam_token_cache(s).invalidate(token)
            token = await self._token(s)
            resp = await self._send(call, auth_headers(s, call, token), token)
        return resp

    async def execute(self, call: Call, parse: Callable[[Call, RawResponse], T]) -> T:
        """Send ``call`` with retries and ``parse`` the reply.

        :param call: the request.
        :param parse: checks the reply and reads its body.
        :return: what ``parse`` returns.
        :raises LakeFormationError: the mapped error once retries are spent.
        """

        async def attempt() -> T:
            return parse_safely(call, await self._transmit(call), parse)

        return await retry_async(attempt, policy=self.settings.retry, what=call.what, logger=log)
