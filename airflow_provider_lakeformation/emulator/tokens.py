"""IAM tokens issued by the emulator: self-contained and HMAC-sealed, so they need no storage,
stay valid across restarts on the same state file and are accepted by every worker process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from enum import Enum

PREFIX = "lfemu1"


class TokenCheck(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True)
class IssuedToken:
    value: str
    issued_ms: int
    expires_ms: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seal(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def issue(secret: bytes, *, user: str, project_id: str, now_ms: int, ttl_ms: int) -> IssuedToken:
    claims = {"u": user, "p": project_id, "iat": now_ms, "exp": now_ms + ttl_ms, "n": secrets.token_hex(8)}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return IssuedToken(f"{PREFIX}.{payload}.{_seal(secret, payload)}", now_ms, now_ms + ttl_ms)


def check(secret: bytes, token: str, *, project_id: str, now_ms: int) -> TokenCheck:
    """VALID, EXPIRED (well-formed and sealed by us, but past its expiry) or INVALID."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return TokenCheck.INVALID
    _, payload, seal = parts
    if not hmac.compare_digest(_seal(secret, payload), seal):
        return TokenCheck.INVALID
    try:
        claims = json.loads(_unb64(payload))
        expires = int(claims["exp"])
        project = str(claims["p"])
    except (ValueError, KeyError, TypeError):
        return TokenCheck.INVALID
    if project != project_id:
        return TokenCheck.INVALID
    return TokenCheck.VALID if now_ms < expires else TokenCheck.EXPIRED
