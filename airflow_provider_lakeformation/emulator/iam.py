"""IAM: ``POST /v3/auth/tokens`` issues tokens for the configured IAM user (password method)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import tokens
from .common import Emu, Emulator, body_bytes, json_response, now_ms, parse_json

router = APIRouter()


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


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _token_body(emu: Emulator, issued: tokens.IssuedToken) -> dict[str, Any]:
    cfg = emu.config
    domain_obj = {"id": hashlib.md5(cfg.domain_name.encode()).hexdigest(), "name": cfg.domain_name}
    return {
        "token": {
            "expires_at": _iso(issued.expires_ms),
            "issued_at": _iso(issued.issued_ms),
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


def _known_user(emu: Emulator, domain: str, user: str, password: str) -> bool:
    cfg = emu.config
    return (
        hmac.compare_digest(domain.encode(), cfg.domain_name.encode())
        and hmac.compare_digest(user.encode(), cfg.iam_user.encode())
        and hmac.compare_digest(password.encode(), cfg.iam_password.encode())
    )


@router.post("/v3/auth/tokens", name="iam_tokens")
async def iam_tokens(request: Request, emu: Emu) -> Response:
    try:
        domain, user, password, project = _iam_identity(parse_json(await body_bytes(request)))
    except ValueError as exc:
        return _iam_error(400, f"The request body is invalid: {exc}")
    if not _known_user(emu, domain, user, password):
        emu.stats.add("auth_failures", "authfail:iam_password")
        return _iam_error(401, "The username or password is wrong.")
    cfg = emu.config
    if project.get("id", cfg.project_id) != cfg.project_id or project.get("name", cfg.region) != cfg.region:
        return _iam_error(400, "The project in auth.scope does not exist in this account.")
    issued = tokens.issue(
        emu.store.token_secret,
        user=user,
        project_id=cfg.project_id,
        now_ms=now_ms(),
        ttl_ms=round(cfg.token_ttl * 1000),
    )
    emu.stats.add("iam_tokens_issued")
    return json_response(201, _token_body(emu, issued), headers={"X-Subject-Token": issued.value})
