"""Error answers in the documented shapes.

* 400 and 404: ``{"error_code": "common.01000001", "error_msg", "common_error_code", "solution_msg"}``
* 401: ``{"error_code": "APIG.1002", "error_msg": "Incorrect token or token resolution failed", ...}``
* 403: the documented body nesting ``{"error": {"code": "403", "message", ...}}``
* 408 / 500: ``common.00000408`` / ``common.00000500``; other injected statuses: see ``FAULT_CODES``.

``common_error_code`` repeats ``error_code`` (the docs call it the "CBC common error code" without
listing values); ``solution_msg`` says what to do.
"""

from __future__ import annotations

from typing import Any

BAD_REQUEST = "common.01000001"
NOT_FOUND = BAD_REQUEST
UNAUTHORIZED = "APIG.1002"
UNAUTHORIZED_MSG = "Incorrect token or token resolution failed"

#: (error_code, error_msg) of the statuses the fault API can inject.
FAULT_CODES: dict[int, tuple[str, str]] = {
    400: (BAD_REQUEST, "failed to read http request, please check your input, code: 400"),
    404: (NOT_FOUND, "response status exception, code: 404"),
    408: ("common.00000408", "timeout exception occurred"),
    429: ("APIG.0308", "The throttling threshold has been reached"),
    500: ("common.00000500", "internal error"),
    502: ("APIG.0201", "Backend unavailable"),
    503: ("APIG.0201", "Backend unavailable"),
    504: ("APIG.0202", "Backend timeout"),
}


class ApiError(Exception):
    """Raised by handlers; turned into a JSON error answer."""

    def __init__(
        self,
        status: int,
        error_msg: str,
        *,
        error_code: str | None = None,
        solution_msg: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code or default_code(status)
        self.error_msg = error_msg
        self.solution_msg = solution_msg
        self.headers = headers or {}
        super().__init__(f"{status} {self.error_code}: {error_msg}")

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.error_code, self.error_msg, self.solution_msg)


def default_code(status: int) -> str:
    if status == 401:
        return UNAUTHORIZED
    if status in FAULT_CODES:
        return FAULT_CODES[status][0]
    return BAD_REQUEST if status < 500 else "common.00000500"


def error_body(
    status: int, error_code: str, error_msg: str, solution_msg: str | None = None
) -> dict[str, Any]:
    if status == 403:
        return forbidden_body(error_msg, solution_msg)
    body: dict[str, Any] = {
        "error_code": error_code,
        "error_msg": error_msg,
        "common_error_code": error_code,
    }
    if solution_msg:
        body["solution_msg"] = solution_msg
    return body


def forbidden_body(message: str, solution_msg: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": {
            "code": "403",
            "message": message,
            "error_code": None,
            "error_msg": None,
            "title": "Forbidden",
        },
        "error_code": "403",
        "error_msg": message,
        "title": "Forbidden",
    }
    if solution_msg:
        body["solution_msg"] = solution_msg
    return body


def bad_request(problem: str, solution_msg: str | None = None) -> ApiError:
    return ApiError(
        400,
        f"failed to read http request, please check your input, code: 400, reason: {problem}",
        solution_msg=solution_msg or "Correct the request and send it again.",
    )


def not_found(what: str) -> ApiError:
    return ApiError(
        404,
        f"response status exception, code: 404, reason: {what}",
        solution_msg="Check the project ID, instance ID and job ID in the URL.",
    )


def conflict(problem: str, solution_msg: str) -> ApiError:
    """An action not allowed in the job's current state: the service answers 400."""
    return ApiError(400, problem, solution_msg=solution_msg)
