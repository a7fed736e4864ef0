"""Server-side check of ``SDK-HMAC-SHA256`` signatures, written independently of ``auth/signer.py``.

The canonical request is rebuilt from what actually arrived on the wire (raw path, raw query
string, received header values, received body bytes), the way an API gateway must do it, so the
client signer can be tested against it:

* URI: the raw path percent-decoded, split on ``/``, each segment encoded again (only
  ``A-Za-z0-9-._~`` left as is), ``/`` appended unless already last.
* Query: ``&``-separated pairs split on the first ``=``, percent-decoded (``+`` stays ``+``),
  pairs with an empty name dropped, sorted by (name, value), re-encoded like the URI, ``k=v``
  joined with ``&``.
* Headers: exactly those named in ``SignedHeaders`` (lower case), ``name:value.strip()``, one per
  line, then a blank line; ``host`` and ``x-sdk-date`` must be among them, and so must
  ``x-security-token`` when the request carries one.
* Payload: SHA-256 hex of the body; an empty body always hashes as empty; otherwise an
  ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` header stands for the hash (any other value of that
  header must equal the real hash).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote

ALGORITHM = "SDK-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_EMPTY_HASH = hashlib.sha256(b"").hexdigest()
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_AUTH_RE = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<sh>[^,\s]+),\s*Signature=(?P<sig>[0-9a-fA-F]+)$"
)


class SignatureError(Exception):
    """The signature is missing, malformed, stale or wrong. ``reason`` is a short machine word."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class SigningKey:
    """A known access key: its secret and, for temporary credentials, the required security token."""

    access_key: str
    secret_key: str
    security_token: str | None = None


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def encode(text: str) -> str:
    """Percent-encode UTF-8 ``text`` leaving only unreserved characters as they are."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def canonical_uri(raw_path: str) -> str:
    segments = unquote(raw_path).split("/")
    uri = "/".join(encode(segment) for segment in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(raw_query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for item in raw_query.split("&"):
        name, _, value = item.partition("=")
        name = unquote(name)
        if name:
            pairs.append((name, unquote(value)))
    pairs.sort()
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)


def parse_authorization(value: str) -> ParsedAuthorization:
    match = _AUTH_RE.match(value.strip())
    if not match:
        raise SignatureError(
            "malformed_authorization",
            "Authorization must read 'SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<hex>'",
        )
    headers = tuple(match["sh"].split(";"))
    if any(not h or h != h.lower() for h in headers):
        raise SignatureError(
            "malformed_authorization", "SignedHeaders must be lower-case header names joined by ';'"
        )
    return ParsedAuthorization(match["ak"], headers, match["sig"].lower())


def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    if not body:
        return _EMPTY_HASH
    declared = headers.get("x-sdk-content-sha256")
    actual = hashlib.sha256(body).hexdigest()
    if declared is None or declared == "":
        return actual
    if declared == UNSIGNED:
        return UNSIGNED
    if declared.lower() != actual:
        raise SignatureError("bad_payload_hash", "X-Sdk-Content-Sha256 does not match the request body")
    return declared


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str:
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            lines,
            ";".join(signed_headers),
            _payload_hash(headers, body),
        ]
    )


def compute_signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PendingSignature:
    """What :func:`check_headers` accepted; the signature itself needs the body."""

    parsed: ParsedAuthorization
    key: SigningKey
    sdk_date: str


def _check_date(sdk_date: str | None, max_skew_seconds: float, now: datetime | None) -> str:
    if not sdk_date:
        raise SignatureError("missing_date", "X-Sdk-Date header is required for AK/SK authentication")
    try:
        signed_at = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise SignatureError("bad_date", f"X-Sdk-Date must be formatted as {DATE_FORMAT}") from None
    current = now or datetime.now(timezone.utc)
    skew = abs((current - signed_at).total_seconds())
    if skew > max_skew_seconds:
        raise SignatureError(
            "clock_skew",
            f"X-Sdk-Date is {skew:.0f}s away from the server time (limit {max_skew_seconds:.0f}s)",
        )
    return sdk_date


def _check_signed_headers(parsed: ParsedAuthorization, headers: Mapping[str, str]) -> None:
    for required in ("host", "x-sdk-date"):
        if required not in parsed.signed_headers:
            raise SignatureError("unsigned_header", f"header {required!r} must be signed")
    if "x-security-token" in headers and "x-security-token" not in parsed.signed_headers:
        raise SignatureError("unsigned_header", "header 'x-security-token' must be signed")
    missing = [name for name in parsed.signed_headers if name not in headers]
    if missing:
        raise SignatureError("missing_signed_header", f"signed headers absent from the request: {missing}")


def _check_security_token(key: SigningKey, presented: str | None) -> None:
    if key.security_token is not None:
        if presented is None or not hmac.compare_digest(presented.encode(), key.security_token.encode()):
            raise SignatureError("bad_security_token", "temporary credentials need a valid X-Security-Token")
    elif presented is not None:
        raise SignatureError("bad_security_token", "X-Security-Token sent with a permanent access key")


def check_headers(
    headers: Mapping[str, str],
    lookup: Callable[[str], SigningKey | None],
    max_skew_seconds: float,
    now: datetime | None = None,
) -> PendingSignature:
    """Everything that can be checked before the body is read (``headers``: lower-case names)."""
    parsed = parse_authorization(headers.get("authorization", ""))
    sdk_date = _check_date(headers.get("x-sdk-date"), max_skew_seconds, now)
    _check_signed_headers(parsed, headers)
    key = lookup(parsed.access_key)
    if key is None:
        raise SignatureError("unknown_ak", "the access key is unknown")
    _check_security_token(key, headers.get("x-security-token"))
    return PendingSignature(parsed, key, sdk_date)


def check_signature(
    pending: PendingSignature,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
) -> SigningKey:
    """Compare the signature with the one computed from what arrived; return the key."""
    parsed = pending.parsed
    canonical = canonical_request(method, raw_path, raw_query, headers, parsed.signed_headers, body)
    expected = compute_signature(pending.key.secret_key, pending.sdk_date, canonical)
    if not hmac.compare_digest(expected, parsed.signature):
        raise SignatureError("bad_signature", "the request signature does not match")
    return pending.key


def verify_request(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    lookup: Callable[[str], SigningKey | None],
    max_skew_seconds: float,
    now: datetime | None = None,
) -> SigningKey:
    """Check a received request in one go; returns the key that signed it or raises
    :class:`SignatureError`."""
    pending = check_headers(headers, lookup, max_skew_seconds, now)
    return check_signature(
        pending, method=method, raw_path=raw_path, raw_query=raw_query, headers=headers, body=body
    )
