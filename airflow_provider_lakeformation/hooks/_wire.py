"""What travels on the wire, for both transports: a :class:`Call` (one request, exactly as sent and
signed), a :class:`RawResponse`, and an :class:`Endpoint` (one API operation declared as method,
path template and reply parser). Knows no particular endpoint and no job model.

* :func:`build_call` serialises a body once, so the signed bytes are the sent bytes;
  :func:`auth_headers` adds the identity (X-Auth-Token, or the AK/SK signature from
  :mod:`~airflow_provider_lakeformation.auth`); :func:`iam_call` is the IAM token request.
* :func:`scrub` is the one gate of server-provided text into an error, an event or a log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, quote_plus

from airflow_provider_lakeformation import __version__
from airflow_provider_lakeformation.auth import build_password_auth_body, sign_request
from airflow_provider_lakeformation.auth.signer import canonical_query_string
from airflow_provider_lakeformation.exceptions import printable
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings

T = TypeVar("T")

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
USER_AGENT = f"airflow-provider-lakeformation/{__version__}"
REQUEST_ID_HEADER = "X-Request-Id"

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


#: Checks a reply and reads its body: ``parse(call, response) -> value``.
Parser = Callable[[Call, RawResponse], T]


@dataclass(frozen=True)
class Endpoint(Generic[T]):
    """One API operation, declared once for the sync hook and the async client alike.

    ``path`` is relative to ``{endpoint}/v1/{project_id}``; its ``{name}`` segments are filled from
    the keyword arguments of :meth:`call` (``instance_id`` defaults to the connection's).
    """

    method: str
    path: str
    parse: Parser[T]  #: a named reply parser
    #: the hook method serving it (``hooks.lakeformation.ENDPOINTS``); empty for a second view
    hook_method: str = ""

    @property
    def route(self) -> str:
        """The vendor's path template (``/v1/{project_id}/...``)."""
        return f"/v1/{{project_id}}/{self.path}"

    def call(
        self,
        s: ConnectionSettings,
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: Any = None,
        **ids: str,
    ) -> Call:
        """The request of this endpoint on the connection ``s``.

        :param s: the connection settings (API root, default instance).
        :param query: query parameters (``None`` values dropped).
        :param body: a JSON-able body (serialised once, here).
        :param ids: the values of the path's ``{name}`` segments.
        :return: the call.
        """
        values = {"instance_id": s.instance_id, **ids}
        segments = [values[seg[1:-1]] if seg.startswith("{") else seg for seg in self.path.split("/")]
        return build_call(self.method, s.api_root, segments, query, body)


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


def loads(body: bytes | str) -> Any:
    """``json.loads`` whose every failure (also nesting too deep for the parser) is a ``ValueError``."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


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


def static_token(s: ConnectionSettings) -> str | None:
    """The configured X-Auth-Token for ``token`` auth; ``None`` for AK/SK (signed) and IAM (fetched)."""
    if s.auth_type is AuthType.TOKEN:
        assert s.token is not None
        return s.token.get_secret_value()
    return None


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
