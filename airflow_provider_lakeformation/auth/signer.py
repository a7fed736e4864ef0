"""Huawei Cloud AK/SK request signing (``SDK-HMAC-SHA256``).

Pure functions over (method, url, headers, body); standard library only, no Airflow import.
The output matches ``huaweicloudsdkcore.signer.Signer`` byte for byte, with these documented
differences (all of which only matter for inputs the official SDK never produces):

* ``Host`` is taken from the URL without user info and without a default port (``:443`` for
  https, ``:80`` for http), i.e. the value an HTTP client sends; the SDK copies the netloc verbatim.
* Header names are matched case-insensitively everywhere (``Content-Type``, ``X-Sdk-Date``...);
  headers given twice with different case raise ``ValueError`` instead of being signed twice.
* A pre-existing ``Authorization`` header is replaced, never signed; the SDK skips signing.
* An empty path signs as ``/`` (the SDK raises ``IndexError``).

The query string is parsed from the URL: pairs split on ``&`` and the first ``=``, decoded with
``urllib.parse.unquote`` (a literal ``+`` stays ``+``: encode spaces as ``%20``), empty names
dropped, a name without ``=`` signs as ``name=``. :func:`canonical_query_string` is also the
safest query string to send.

The secret key never appears in an exception, a log record or a return value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "ALGORITHM",
    "EMPTY_BODY_SHA256",
    "HEADER_AUTHORIZATION",
    "HEADER_CONTENT_SHA256",
    "HEADER_HOST",
    "HEADER_PROJECT_ID",
    "HEADER_SDK_DATE",
    "HEADER_SECURITY_TOKEN",
    "SDK_DATE_FORMAT",
    "UNSIGNED_PAYLOAD",
    "authorization_header",
    "canonical_headers",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "format_sdk_date",
    "host_from_url",
    "parse_authorization",
    "parse_query",
    "payload_hash",
    "sign_request",
    "sign_string",
    "signed_header_names",
    "string_to_sign",
    "verify_signature",
]

SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
ALGORITHM = "SDK-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()

HEADER_SDK_DATE = "X-Sdk-Date"
HEADER_HOST = "Host"
HEADER_AUTHORIZATION = "Authorization"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
HEADER_PROJECT_ID = "X-Project-Id"
HEADER_SECURITY_TOKEN = "X-Security-Token"

_SIGNED_CONTENT_TYPES = ("application/json", "application/bson")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _encode(value: str) -> str:
    """Percent-encode everything except unreserved characters (``A-Za-z0-9-._~``)."""
    return quote(value, safe="~")


def _get_header(headers: Mapping[str, str], name: str) -> str | None:
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set ``name`` replacing any differently-cased spelling already present."""
    lname = name.lower()
    for key in [k for k in headers if k.lower() == lname]:
        del headers[key]
    headers[name] = value


def format_sdk_date(moment: datetime) -> str:
    """Format ``moment`` as an ``X-Sdk-Date`` value (naive datetimes are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(SDK_DATE_FORMAT)


def host_from_url(url: str) -> str:
    """The ``Host`` header for ``url``: hostname plus port unless it is the scheme's default."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if not netloc:
        raise ValueError(f"URL has no host: {url!r}")
    port = parts.port
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        netloc = netloc.rsplit(":", 1)[0]
    return netloc


def canonical_uri(path: str) -> str:
    """Decode ``path``, re-encode each segment (safe ``~``) and always end with ``/``."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def parse_query(query: str) -> list[tuple[str, str]]:
    """Decode a raw query string into (name, value) pairs, in order, keeping blank values."""
    pairs: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        if not name:
            continue
        pairs.append((unquote(name), unquote(value)))
    return pairs


def canonical_query_string(query: str | list[tuple[str, str]]) -> str:
    """Sort decoded pairs by name then value, encode both (safe ``~``) and join ``k=v`` by ``&``."""
    pairs = parse_query(query) if isinstance(query, str) else list(query)
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Lower-cased names of the headers that get signed (names without ``_``), sorted."""
    return sorted(key.lower() for key in headers if "_" not in key)


def canonical_headers(headers: Mapping[str, str], signed_headers: list[str]) -> str:
    """``name:value.strip()`` per signed header, each followed by ``\\n``."""
    by_name = {key.lower(): str(value).strip() for key, value in headers.items()}
    missing = [name for name in signed_headers if name not in by_name]
    if missing:
        raise ValueError(f"signed headers missing from the request: {missing}")
    return "".join(f"{name}:{by_name[name]}\n" for name in signed_headers)


def payload_hash(headers: Mapping[str, str], body: bytes | None) -> str:
    """Hex SHA-256 of ``body``; an empty body always hashes as empty, else the
    ``X-Sdk-Content-Sha256`` header value (``UNSIGNED-PAYLOAD``) wins when present."""
    if not body:
        return EMPTY_BODY_SHA256
    declared = _get_header(headers, HEADER_CONTENT_SHA256)
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    signed_headers: list[str],
) -> str:
    """METHOD, URI, QUERY, HEADERS, SIGNED_HEADERS and payload hash joined by ``\\n``."""
    parts = urlsplit(url)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            canonical_query_string(parts.query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash(headers, body),
        ]
    )


def string_to_sign(canonical: str, sdk_date: str | datetime) -> str:
    """``SDK-HMAC-SHA256\\n{X-Sdk-Date}\\n{hex(sha256(canonical request))}``."""
    date = format_sdk_date(sdk_date) if isinstance(sdk_date, datetime) else sdk_date
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def sign_string(secret_key: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of ``to_sign`` keyed with the secret key."""
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(access_key: str, signed_headers: list[str], signature: str) -> str:
    """``SDK-HMAC-SHA256 Access={AK}, SignedHeaders={h1;h2}, Signature={hex}``."""
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed_headers)}, Signature={signature}"


def _normalised_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key, value in headers.items():
        lname = key.lower()
        if lname in seen:
            raise ValueError(f"header {key!r} given twice (also as {seen[lname]!r})")
        seen[lname] = key
        if lname != HEADER_AUTHORIZATION.lower():
            out[key] = str(value).strip()
    return out


def _sdk_date(headers: dict[str, str], now: datetime | None) -> str:
    existing = _get_header(headers, HEADER_SDK_DATE)
    if existing is not None:
        try:
            datetime.strptime(existing, SDK_DATE_FORMAT)
        except ValueError:
            raise ValueError(f"{HEADER_SDK_DATE} must match {SDK_DATE_FORMAT}, got {existing!r}") from None
        return existing
    date = format_sdk_date(now if now is not None else datetime.now(timezone.utc))
    headers[HEADER_SDK_DATE] = date
    return date


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    access_key: str,
    secret_key: str,
    *,
    security_token: str | None = None,
    project_id: str | None = None,
    now: datetime | None = None,
    unsigned_payload: bool = False,
) -> dict[str, str]:
    """Return a new header dict for the request: the input headers (values stripped) plus
    ``X-Sdk-Date`` (kept if already present, else ``now`` or the current UTC time), ``Host``
    (if missing), ``X-Project-Id``, ``X-Security-Token``, ``X-Sdk-Content-Sha256`` (when
    ``unsigned_payload`` or a non-JSON ``Content-Type``) and ``Authorization``.

    The URL carries the query string; ``body`` must be the exact bytes that will be sent.
    """
    if not access_key:
        raise ValueError("access_key is required for AK/SK signing")
    if not secret_key:
        raise ValueError("secret_key is required for AK/SK signing")
    if isinstance(body, str):
        raise TypeError("body must be bytes (the exact payload that will be sent), not str")

    out = _normalised_headers(headers)
    content_type = _get_header(out, "Content-Type")
    if unsigned_payload or (content_type and not content_type.startswith(_SIGNED_CONTENT_TYPES)):
        _set_header(out, HEADER_CONTENT_SHA256, UNSIGNED_PAYLOAD)
    sdk_date = _sdk_date(out, now)
    if _get_header(out, HEADER_HOST) is None:
        out[HEADER_HOST] = host_from_url(url)
    if project_id:
        _set_header(out, HEADER_PROJECT_ID, project_id)
    if security_token:
        _set_header(out, HEADER_SECURITY_TOKEN, security_token)

    names = signed_header_names(out)
    canonical = canonical_request(method, url, out, body, names)
    signature = sign_string(secret_key, string_to_sign(canonical, sdk_date))
    out[HEADER_AUTHORIZATION] = authorization_header(access_key, names, signature)
    return out


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """Split an ``SDK-HMAC-SHA256`` Authorization value into (access key, signed headers, signature)."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        raise ValueError(f"Authorization must start with {ALGORITHM!r}")
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        name, sep, field_value = part.strip().partition("=")
        if not sep:
            raise ValueError(f"malformed Authorization field {part.strip()!r}")
        fields[name] = field_value
    try:
        return fields["Access"], fields["SignedHeaders"].split(";"), fields["Signature"]
    except KeyError as exc:
        raise ValueError(f"Authorization lacks {exc.args[0]}") from None


def verify_signature(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    secret_key: str,
) -> bool:
    """Server side check: recompute the signature of a received request and compare it in
    constant time (does not check the access key or the ``X-Sdk-Date`` freshness)."""
    authorization = _get_header(headers, HEADER_AUTHORIZATION)
    sdk_date = _get_header(headers, HEADER_SDK_DATE)
    if not authorization or not sdk_date:
        return False
    try:
        _, names, signature = parse_authorization(authorization)
        canonical = canonical_request(method, url, headers, body, names)
    except ValueError:
        return False
    expected = sign_string(secret_key, string_to_sign(canonical, sdk_date))
    return hmac.compare_digest(expected, signature)
