"""Exceptions raised by the LakeFormation hook, operators, sensor and trigger.

Every API failure is a :class:`LakeFormationApiError` carrying the HTTP status, ``error_code``,
``common_error_code``, ``error_msg``, ``solution_msg`` and the request id, so a task log says what
went wrong and what to quote to support. No exception text ever contains a credential.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from airflow_provider_lakeformation._compat import AirflowException

__all__ = [
    "LakeFormationApiError",
    "LakeFormationAuthError",
    "LakeFormationBadRequestError",
    "LakeFormationConnectionError",
    "LakeFormationError",
    "LakeFormationJobFailedError",
    "LakeFormationJobNameError",
    "LakeFormationNotFoundError",
    "LakeFormationResponseError",
    "LakeFormationRetryableError",
    "LakeFormationSpecError",
    "LakeFormationTimeoutError",
]

#: HTTP statuses worth retrying: the request did not take effect or may succeed later.
RETRYABLE_STATUS_CODES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})


def printable(text: str) -> str:
    """``text`` with every non-printable character (CR, LF, ESC, NUL, DEL, lone surrogates...)
    written as ``\\xNN`` / ``\\uNNNN``: a server- or user-provided string cannot forge log lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


#: Longest piece of server text (a status, a name, a time, one job-log line) quoted in a log line.
SERVER_TEXT_CHARS = 200
#: Longest ``error_msg`` / ``solution_msg`` of a reply quoted in an exception text.
ERROR_TEXT_CHARS = 1000
#: Longest job-log line, and the most of a job log's tail, written to the task log.
LOG_LINE_CHARS = 2000
LOG_TAIL_CHARS = 64 * 1024
#: What starts every job-log line in the task log: a line from the server never starts a log line.
LOG_LINE_PREFIX = "  | "


def shown(value: object, limit: int = SERVER_TEXT_CHARS) -> str:
    """THE form of server-provided text in a log line or a message: control characters escaped
    (:func:`printable`) and cut to ``limit`` characters, saying how many more were not shown.

    :param value: a status, name, time or line as the server sent it.
    :param limit: the most characters of it to show.
    :return: the safe text.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return printable(text)
    return f"{printable(text[:limit])}... ({len(text) - limit} more characters not shown)"


def shown_log(text: str, line_chars: int = LOG_LINE_CHARS, total_chars: int = LOG_TAIL_CHARS) -> str:
    """A job log's tail as the task log shows it: each line :func:`shown` (escaped, cut to
    ``line_chars``) after :data:`LOG_LINE_PREFIX`, and only the last lines that fit in
    ``total_chars``, saying how many earlier ones were left out.

    :param text: the tail as the server sent it.
    :param line_chars: the most characters of one line.
    :param total_chars: the most characters of the whole tail.
    :return: the tail, one prefixed line per log line.
    """
    kept: list[str] = []
    size = 0
    lines = text.splitlines()
    for line in reversed(lines):
        entry = LOG_LINE_PREFIX + shown(line, line_chars)
        if kept and size + len(entry) + 1 > total_chars - 64:  # room for the "not shown" line
            break
        kept.append(entry)
        size += len(entry) + 1
    if len(kept) < len(lines):
        kept.append(f"{LOG_LINE_PREFIX}({len(lines) - len(kept)} earlier lines not shown)")
    return "\n".join(reversed(kept))


class LakeFormationError(AirflowException):
    """Base of every error of this provider."""


class LakeFormationSpecError(LakeFormationError, ValueError):
    """Invalid input (job spec, arguments or connection settings), found before any HTTP call."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.what = what
        self.problems = problems
        super().__init__(printable(f"invalid {what}: " + "; ".join(problems)))

    @classmethod
    def from_validation_error(cls, what: str, exc: ValidationError) -> LakeFormationSpecError:
        """One line per problem, ``field.path: rule``, without the offending input values."""
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if loc and not msg.startswith(loc.split(".")[-1] + ":"):
                problems.append(f"{loc}: {msg}")
            else:
                problems.append(msg)
        return cls(what, problems)


class LakeFormationApiError(LakeFormationError):
    """The service answered with an error status (or an unusable body)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        error_msg: str | None = None,
        solution_msg: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
        common_error_code: str | None = None,
    ) -> None:
        self.status_code = status_code  # type: ignore[assignment]  # shadows AirflowException.status_code
        self.error_code = error_code
        self.error_msg = error_msg
        self.solution_msg = solution_msg
        self.request_id = request_id
        self.method = method
        self.path = path
        self.retry_after = retry_after
        self.common_error_code = common_error_code
        parts = [message]
        if method and path:
            parts.append(f"request: {method} {path}")
        if status_code is not None:
            parts.append(f"status: {status_code}")
        if error_code:
            parts.append(f"error_code: {shown(error_code)}")
        if common_error_code and common_error_code != error_code:
            parts.append(f"common_error_code: {shown(common_error_code)}")
        if error_msg:
            parts.append(f"error_msg: {shown(error_msg, ERROR_TEXT_CHARS)}")
        if solution_msg:
            parts.append(f"solution_msg: {shown(solution_msg, ERROR_TEXT_CHARS)}")
        parts.append(f"request_id: {shown(request_id or 'unknown')}")
        super().__init__(printable("; ".join(parts)))

    @property
    def retryable(self) -> bool:
        return self.status_code in RETRYABLE_STATUS_CODES

    def __reduce__(self) -> tuple[Any, ...]:  # keep pickling (e.g. across processes) working
        return (_rebuild, (type(self), self.args[0], self.__dict__))


def _rebuild(cls: type[LakeFormationApiError], text: str, state: dict[str, Any]) -> LakeFormationApiError:
    obj = cls.__new__(cls)
    Exception.__init__(obj, text)
    obj.__dict__.update(state)
    return obj


class LakeFormationBadRequestError(LakeFormationApiError):
    """400: the service rejected the request (bad body, or an action not allowed in the job's state)."""


#: API gateway codes that say the credentials themselves did not verify (a wrong SK, a bad or
#: expired token): ``APIG.0301`` "Incorrect IAM authentication information", ``APIG.1002``
#: "Incorrect token or token resolution failed" (``APIGW.`` in some regions).
REJECTED_CREDENTIAL_CODES = frozenset({"APIG.0301", "APIGW.0301", "APIG.1002", "APIGW.1002"})
#: The gateway's "Incorrect IAM authentication information" wording (bodies that carry only "403").
_REJECTED_WORDING = ("incorrect iam authentication information", "incorrect token", "token is invalid")


def credentials_rejected(status: int | None, error_code: str | None, error_msg: str | None) -> bool:
    """Whether a 401/403 means the credentials did not verify (signature or token rejected), as
    opposed to verified credentials that lack permission (``APIG.0302`` or another 403).

    :param status: the HTTP status.
    :param error_code: the reply's ``error_code``.
    :param error_msg: the reply's ``error_msg``.
    :return: True for a rejected signature or token (and every 401).
    """
    if status == 401 or (error_code or "").upper() in REJECTED_CREDENTIAL_CODES:
        return True
    text = (error_msg or "").lower()
    return status == 403 and any(words in text for words in _REJECTED_WORDING)


class LakeFormationAuthError(LakeFormationApiError):
    """401 or 403: missing, invalid or expired credentials, or no permission."""

    @property
    def credentials_rejected(self) -> bool:
        """True when the signature or token was rejected, False for a permission problem."""
        return credentials_rejected(self.status_code, self.error_code, self.error_msg)


class LakeFormationNotFoundError(LakeFormationApiError):
    """404: no such job, instance or project."""


class LakeFormationRetryableError(LakeFormationApiError):
    """408, 429 or 5xx: transient; raised once the retry budget is spent."""


class LakeFormationResponseError(LakeFormationApiError):
    """A reply that is not what the API documents: not JSON, an HTML page, missing fields, unknown status."""


class LakeFormationConnectionError(LakeFormationError):
    """The service could not be reached (connection refused or dropped, timeout) after all retries."""


class TransportError(LakeFormationConnectionError):
    """One attempt failed below HTTP (internal to the hook; retried, and reported as
    :class:`LakeFormationConnectionError` when retries give up). ``sent`` is False only when the
    request certainly never left (connection refused, connect timeout): only then is re-sending a
    non-idempotent call blindly safe."""

    def __init__(self, reason: str, sent: bool = True) -> None:
        reason = printable(reason)
        self.reason = reason
        self.sent = sent
        super().__init__(reason)


class LakeFormationDeadlineError(TransportError):
    """The caller's deadline (a wait's ``timeout`` / ``end_time``) passed during a call: not retried;
    a wait reports its timeout instead."""


class LakeFormationJobFailedError(LakeFormationError):
    """A job run ended in a failure state (FAILED, STOPPED, or PARTIAL_SUCCESS counted as failure)."""

    def __init__(self, message: str, *, job_id: str, status: str | None, log_tail: str | None = None) -> None:
        self.job_id = job_id
        self.status = status
        self.log_tail = log_tail
        super().__init__(message)


class LakeFormationJobNameError(LakeFormationError):
    """No job, or more than one, has the ``job_name`` and ``job_type`` an operator or the sensor was
    given. ``job_ids`` lists the jobs found (empty: none)."""

    def __init__(self, *, job_type: str, job_name: str, job_ids: list[str]) -> None:
        self.job_type = job_type
        self.job_name = job_name
        self.job_ids = job_ids
        what = f"{job_type} LakeFormation job named {job_name!r}"
        if not job_ids:
            message = f"no {what} exists (job_name is matched exactly, within job_type {job_type})"
        else:
            message = f"{len(job_ids)} jobs match {what}: {', '.join(job_ids)}; give the one meant as job_id"
        super().__init__(printable(message))


class LakeFormationTimeoutError(LakeFormationError):
    """Waiting for a job ended before it reached a terminal state."""


def error_class_for_status(status_code: int) -> type[LakeFormationApiError]:
    """The exception class for an HTTP error status."""
    if status_code in RETRYABLE_STATUS_CODES or status_code >= 500:
        return LakeFormationRetryableError
    if status_code in (401, 403):
        return LakeFormationAuthError
    if status_code == 404:
        return LakeFormationNotFoundError
    if status_code == 400:
        return LakeFormationBadRequestError
    return LakeFormationApiError
