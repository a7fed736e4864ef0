"""What the API gateway in front of the job API does, as FastAPI dependencies: authenticate the
request from its headers, check ``X-Project-Id`` against the path, then read the body (capped at
:data:`~.common.MAX_BODY_BYTES`) and check an AK/SK signature over it.

Headers are checked before a byte of the body is read, so an unauthenticated client cannot make
the emulator buffer a large body.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from . import tokens
from .common import Emulator, app_emulator, body_bytes, now_ms
from .errors import UNAUTHORIZED, UNAUTHORIZED_MSG, ApiError
from .signing import ALGORITHM, PendingSignature, SignatureError, check_headers, check_signature


@dataclass
class AuthFailure(Exception):
    status: int
    reason: str
    message: str

    def as_api_error(self) -> ApiError:
        if self.status == 401:
            return ApiError(
                401,
                UNAUTHORIZED_MSG,
                error_code=UNAUTHORIZED,
                solution_msg=f"{self.message}: authenticate and send again.",
            )
        return ApiError(self.status, self.message)


def request_headers(request: Request) -> dict[str, str]:
    """Lower-case header names; repeated headers joined with ``,`` (as received, UTF-8 or Latin-1)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in request.scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        try:
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            value = raw_value.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _token_mode(emu: Emulator, token: str) -> str:
    if hmac.compare_digest(token.encode(), emu.config.token.encode()):
        return "token"
    result = tokens.check(emu.store.token_secret, token, project_id=emu.config.project_id, now_ms=now_ms())
    if result is tokens.TokenCheck.VALID:
        return "iam_token"
    if result is tokens.TokenCheck.EXPIRED:
        raise AuthFailure(401, "token_expired", "the token has expired")
    raise AuthFailure(403, "invalid_token", "X-Auth-Token is invalid in the request")


def check_identity(emu: Emulator, headers: dict[str, str]) -> tuple[str, PendingSignature | None]:
    """The auth mode the headers claim and, for AK/SK, the signature still to check over the body.

    Raises :class:`AuthFailure`. A signature takes precedence over a token.
    """
    authorization = headers.get("authorization")
    if authorization and authorization.split(" ", 1)[0] == ALGORITHM:
        try:
            pending = check_headers(headers, emu.signing_key, emu.config.clock_skew)
        except SignatureError as exc:
            raise AuthFailure(
                403, exc.reason, f"Incorrect IAM authentication information: {exc.message}"
            ) from None
        return ("aksk_temporary" if pending.key.security_token else "aksk"), pending
    token = headers.get("x-auth-token")
    if token:
        return _token_mode(emu, token), None
    if authorization:
        raise AuthFailure(
            401, "unsupported_authorization", f"Authorization scheme not supported (use {ALGORITHM})"
        )
    raise AuthFailure(401, "missing_credentials", "no X-Auth-Token and no AK/SK signature")


def check_project_header(headers: dict[str, str], project_id: str) -> None:
    """AK/SK requests name their project in ``X-Project-Id``; the gateway refuses another one."""
    claimed = headers.get("x-project-id")
    if claimed is not None and claimed != project_id:
        raise AuthFailure(
            403,
            "project_mismatch",
            "Incorrect IAM authentication information: X-Project-Id does not match the project in the URL",
        )


async def _verify_body(request: Request, headers: dict[str, str], pending: PendingSignature) -> None:
    body = await body_bytes(request)
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    try:
        check_signature(
            pending,
            method=request.method,
            raw_path=raw_path.decode("latin-1"),
            raw_query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
        )
    except SignatureError as exc:
        message = f"Incorrect IAM authentication information: {exc.message}"
        raise AuthFailure(403, exc.reason, message) from None


def refuse(emu: Emulator, failure: AuthFailure) -> ApiError:
    """Count an authentication failure and turn it into the error answer."""
    emu.stats.add("auth_failures", f"authfail:{failure.reason}")
    return failure.as_api_error()


async def authenticate(request: Request) -> str:
    """First step of every job and instance route's guard: the auth mode that let the request in."""
    emu = app_emulator(request)
    headers = request_headers(request)
    try:
        mode, pending = check_identity(emu, headers)
        if pending is not None:
            check_project_header(headers, request.path_params.get("project_id", ""))
            await _verify_body(request, headers, pending)
    except AuthFailure as failure:
        raise refuse(emu, failure) from None
    emu.stats.add(f"auth:{mode}")
    return mode
