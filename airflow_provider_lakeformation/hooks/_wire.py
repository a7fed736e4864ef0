"""What goes over the wire, shared by the sync hook and the async client: request building,
auth headers, response parsing and error mapping (one function each, used by both paths).

Nothing here does I/O. Error texts carry the method, the URL path (never the query), the HTTP
status, the service's error fields and the request id; never a header or a request body.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from airflow_provider_lakeformation import __version__
from airflow_provider_lakeformation.auth import IamToken, sign_request, token_from_iam_response
from airflow_provider_lakeformation.auth.signer import canonical_query_string
from airflow_provider_lakeformation.exceptions import (
    LakeFormationApiError,
    LakeFormationConnectionError,
    LakeFormationResponseError,
    error_class_for_status,
)
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings
from airflow_provider_lakeformation.models.errors import ErrorBody
from airflow_provider_lakeformation.models.status import JobStatus, parse_status

__all__ = [
    "JSON_CONTENT_TYPE",
    "SNIPPET_CHARS",
    "USER_AGENT",
    "Call",
    "RawResponse",
    "TransportError",
    "api_error",
    "auth_headers",
    "body_snippet",
    "build_call",
    "parse_job_status",
    "parse_model",
    "parse_retry_after",
    "read_json",
]

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
USER_AGENT = f"airflow-provider-lakeformation/{__version__}"
REQUEST_ID_HEADER = "X-Request-Id"
SNIPPET_CHARS = 200

M = TypeVar("M", bound=BaseModel)

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

    @property
    def request_id(self) -> str | None:
        return self.headers.get(REQUEST_ID_HEADER)


class TransportError(LakeFormationConnectionError):
    """One attempt failed below HTTP (internal; turned into LakeFormationConnectionError when
    retries give up). ``sent`` is False only when the request certainly never left (connection
    refused, connect timeout): only then is re-sending a non-idempotent call blindly safe."""

    def __init__(self, reason: str, sent: bool = True) -> None:
        self.reason = reason
        self.sent = sent
        super().__init__(reason)


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
        data = json.loads(body)
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
    401: "check the connection's credentials (AK/SK, IAM user and password, or token)",
    403: "the credentials are valid but lack permission for this LakeFormation operation, "
    "or the token/signature was rejected",
    404: "check project_id, instance_id and the job id",
}


def api_error(call: Call, resp: RawResponse, *, service: str = "LakeFormation") -> LakeFormationApiError:
    """The exception for a non-2xx response (class by status), with the service's error fields."""
    err, readable = _error_body(resp.body)
    cls = error_class_for_status(resp.status)
    message = f"{service} API error: HTTP {resp.status} {resp.reason}".rstrip()
    hint = _HINTS.get(resp.status)
    if hint:
        message += f" ({hint})"
    if not readable or (err is not None and err.code is None and err.message is None):
        message += f"; body: {body_snippet(resp.body)}"
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    exc = cls(
        message,
        status_code=resp.status,
        error_code=err.code if err else None,
        error_msg=err.message if err else None,
        solution_msg=err.solution_msg if err else None,
        request_id=resp.request_id,
        method=call.method,
        path=call.path,
        retry_after=retry_after,
    )
    exc.__dict__["summary"] = message  # the headline, reused when retries give up
    return exc


def response_error(
    call: Call, resp: RawResponse, why: str, err: ErrorBody | None = None
) -> LakeFormationResponseError:
    """A 2xx whose body is not what the API documents."""
    message = f"unexpected response from LakeFormation: {why}; body: {body_snippet(resp.body)}"
    exc = LakeFormationResponseError(
        message,
        status_code=resp.status,
        error_code=err.code if err else None,
        error_msg=err.message if err else None,
        solution_msg=err.solution_msg if err else None,
        request_id=resp.request_id,
        method=call.method,
        path=call.path,
    )
    exc.__dict__["summary"] = message
    return exc


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
        data = json.loads(body)
    except ValueError:
        if required or _looks_like_html(body):
            raise response_error(call, resp, "the body is not JSON") from None
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


def parse_model(call: Call, resp: RawResponse, model: type[M]) -> M:
    """Check ``resp`` and validate its JSON object as ``model`` (unknown fields tolerated)."""
    data = read_json(call, resp)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise response_error(call, resp, _problems(exc)) from None


class _StatusOnly(BaseModel):
    """The cheapest read of a job: only ``status`` (string or ``{"status": ...}``)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    status: Annotated[JobStatus, BeforeValidator(parse_status)]


def parse_job_status(call: Call, resp: RawResponse) -> JobStatus:
    """The status of a job from a get-job response, without validating the rest of the job."""
    return parse_model(call, resp, _StatusOnly).status


def parse_nothing(call: Call, resp: RawResponse) -> bool:
    """Check a response whose body does not matter (start, stop, delete): True when accepted."""
    read_json(call, resp, required=False)
    return True


def parse_iam_token(call: Call, resp: RawResponse) -> IamToken:
    """Check an IAM token response: token from ``X-Subject-Token``, expiry from the body."""
    if not 200 <= resp.status < 300:
        raise api_error(call, resp, service="IAM")
    try:
        data = json.loads(resp.body)
    except ValueError:
        raise response_error(call, resp, "the IAM token body is not JSON") from None
    try:
        return token_from_iam_response(resp.headers, data if isinstance(data, dict) else {})
    except ValueError as exc:
        raise response_error(call, resp, f"IAM: {exc}") from None
