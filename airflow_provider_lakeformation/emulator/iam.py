"""IAM: ``POST /v3/auth/tokens`` issues tokens for the configured IAM user (password method)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import tokens
from .common import (
    Emulator,
    json_response,
    now_ms,
)


def _iam_error(status: int, message: str) -> Response:
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
    return json_response(
        status, {"error": {"code": status, "message": message, "title": titles.get(status, "")}}
    )


def _iam_identity(data: Any) -> tuple[str, str, str, dict[str, Any]]:
    """(domain name, user name, password, project scope) from a password-auth body, or ValueError."""

    def obj(parent: Any, key: str, where: str) -> dict[str, Any]:
        value = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(value, dict):
            raise ValueError(f"{where}{key}: an object is required")
        return value

    def text(parent: dict[str, Any], key: str, where: str) -> str:
        value = parent.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}{key}: a non-empty string is required")
        return value

    auth = obj(data, "auth", "")
    identity = obj(auth, "identity", "auth.")
    methods = identity.get("methods")
    if methods != ["password"]:
        raise ValueError('auth.identity.methods: must be ["password"]')
    user = obj(obj(identity, "password", "auth.identity."), "user", "auth.identity.password.")
    domain = obj(user, "domain", "auth.identity.password.user.")
    project = obj(obj(auth, "scope", "auth."), "project", "auth.scope.")
    if not (isinstance(project.get("id"), str) and project["id"]) and not (
        isinstance(project.get("name"), str) and project["name"]
    ):
        raise ValueError("auth.scope.project: id or name is required")
    where = "auth.identity.password.user."
    return (
        text(domain, "name", where + "domain."),
        text(user, "name", where),
        text(user, "password", where),
        project,
    )


def iam_handler(emu: Emulator) -> Callable[[Request], Awaitable[Response]]:
    async def iam_tokens(request: Request) -> Response:
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _iam_error(400, "The request body is invalid: malformed JSON body")
        try:
            domain, user, password, project = _iam_identity(data)
        except ValueError as exc:
            return _iam_error(400, f"The request body is invalid: {exc}")
        cfg = emu.config
        ok = (
            hmac.compare_digest(domain.encode(), cfg.domain_name.encode())
            and hmac.compare_digest(user.encode(), cfg.iam_user.encode())
            and hmac.compare_digest(password.encode(), cfg.iam_password.encode())
        )
        if not ok:
            emu.stats.add("auth_failures", "authfail:iam_password")
            return _iam_error(401, "The username or password is wrong.")
        if (
            project.get("id", cfg.project_id) != cfg.project_id
            or project.get("name", cfg.region) != cfg.region
        ):
            return _iam_error(400, "The project in auth.scope does not exist in this account.")
        stamp = now_ms()
        issued = tokens.issue(
            emu.store.token_secret,
            user=user,
            project_id=cfg.project_id,
            now_ms=stamp,
            ttl_ms=round(cfg.token_ttl * 1000),
        )
        emu.stats.add("iam_tokens_issued")

        def iso(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"

        domain_obj = {"id": hashlib.md5(cfg.domain_name.encode()).hexdigest(), "name": cfg.domain_name}
        body = {
            "token": {
                "expires_at": iso(issued.expires_ms),
                "issued_at": iso(issued.issued_ms),
                "methods": ["password"],
                "project": {"id": cfg.project_id, "name": cfg.region, "domain": domain_obj},
                "user": {
                    "id": hashlib.md5(cfg.iam_user.encode()).hexdigest(),
                    "name": cfg.iam_user,
                    "domain": domain_obj,
                    "password_expires_at": "",
                },
                "roles": [{"id": "0", "name": "te_admin"}],
                "catalog": [],
            }
        }
        return json_response(201, body, headers={"X-Subject-Token": issued.value})

    return iam_tokens
