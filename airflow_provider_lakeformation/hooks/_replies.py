"""Reading replies, for any endpoint: :func:`read_json` and the generic parsers check a response
and map errors to :mod:`~airflow_provider_lakeformation.exceptions`. Error texts carry the method,
the URL path (never the query), the HTTP status, the service's error fields and the request id;
never a header or a request body. Parsers that know a reply model live beside the endpoint
declarations (``hooks/lakeformation.py``).
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from airflow_provider_lakeformation._compat import mask_secret
from airflow_provider_lakeformation.auth import IamToken, token_from_iam_response
from airflow_provider_lakeformation.exceptions import (
    LakeFormationApiError,
    LakeFormationError,
    LakeFormationResponseError,
    credentials_rejected,
    error_class_for_status,
    printable,
)
from airflow_provider_lakeformation.hooks._wire import Call, Parser, RawResponse, loads, scrub
from airflow_provider_lakeformation.models.errors import ErrorBody

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=LakeFormationApiError)

SNIPPET_CHARS = 200


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
    text = printable(text)
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


def parse_safely(call: Call, resp: RawResponse, parse: Parser[T]) -> T:
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


class ModelReply(Generic[M]):
    """The parser of a reply holding one ``model`` (:func:`parse_model`): what an endpoint declares
    as its reply model, named (its repr shows the model) so no lambda hides the step.

    :param model: the pydantic model of the reply body.
    """

    def __init__(self, model: type[M]) -> None:
        self.model = model

    def __call__(self, call: Call, resp: RawResponse) -> M:
        return parse_model(call, resp, self.model)

    def __repr__(self) -> str:
        return f"ModelReply({self.model.__name__})"


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
