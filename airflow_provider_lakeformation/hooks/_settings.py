"""Connection settings of the LakeFormation hook: one validated, immutable model built from an
Airflow Connection plus the hook's overrides.

Everything is checked here, before any HTTP call: a missing ``project_id``, ``instance_id``,
endpoint (``region`` or ``host``) or the credentials of the chosen auth type raise
:class:`~airflow_provider_lakeformation.exceptions.LakeFormationSpecError` naming the field and the
rule. Extras typed into the UI or a URI arrive as strings (``"false"``, ``"5"``) and are coerced.
Credentials are ``SecretStr``: never shown by ``repr``/``str``/``model_dump_json``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.models.arguments import (
    FALSE_WORDS,
    TRUE_WORDS,
    flag_arg,
    path_segment_arg,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "AuthType",
    "ConnectionSettings",
    "RetrySettings",
    "cloud_endpoint",
]

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
#: Default cap of a reply body after decompression (connection extra ``max_response_bytes``).
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
#: Largest ``max_response_bytes`` accepted (1 GiB).
MAX_RESPONSE_BYTES_LIMIT = 1024 * 1024 * 1024
#: Longest connect/read timeout accepted, in seconds (1 hour).
MAX_TIMEOUT_SECONDS = 3600.0
CLOUD_DOMAIN = "myhuaweicloud.com"

_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CLOUD_HOST_RE = re.compile(r"^lakeformation\.(?P<region>[a-z0-9-]+)\.myhuaweicloud\.com$")


def cloud_endpoint(region: str) -> str:
    """``https://lakeformation.{region}.myhuaweicloud.com``."""
    return f"https://lakeformation.{region}.{CLOUD_DOMAIN}"


class AuthType(str, Enum):
    """How requests are authenticated."""

    AKSK = "aksk"  #: AK/SK request signing (SDK-HMAC-SHA256); login = AK, password = SK
    IAM = "iam"  #: IAM user token fetched from IAM; login = user, password = its password
    TOKEN = "token"  #: a ready X-Auth-Token; password = token

    def __str__(self) -> str:
        return self.value


class RetrySettings(BaseModel):
    """Retry policy: exponential backoff with jitter, honouring ``Retry-After``.

    The n-th retry waits a random time in ``[min_wait, min(max_wait, min_wait * 2**n)]``. A
    ``Retry-After`` header (seconds or HTTP date) is obeyed instead, up to
    ``max(max_wait, retry_after_cap)`` seconds (longer values are cut to that cap).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    max_retries: int = Field(default=5, ge=0, le=100)
    min_wait: float = Field(default=1.0, gt=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False)
    max_wait: float = Field(default=30.0, gt=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False)
    retry_after_cap: float = Field(default=120.0, ge=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.max_wait < self.min_wait:
            raise ValueError("max_wait: must be greater than or equal to min_wait")
        return self

    @classmethod
    def from_extras(
        cls, extras: Mapping[str, Any], *, base: RetrySettings | None = None, what: str = "hook_params"
    ) -> RetrySettings:
        """``base`` with settings given under their connection-extra names (:data:`RETRY_EXTRAS`;
        a task's ``hook_params``) applied, under the connection's rules. Without ``base`` the values
        are checked alone: each value, and the order of the two waits only when both are given.

        :param extras: ``max_retries``, ``retry_min_wait``, ``retry_max_wait``, ``retry_after_cap``.
        :param base: the policy they override (the connection's).
        :param what: named in the error.
        :return: the resulting policy.
        :raises LakeFormationSpecError: an unknown name, or a value the connection would refuse.
        """
        unknown = sorted(str(name) for name in extras if name not in RETRY_EXTRAS)
        if unknown:
            names = ", ".join(RETRY_EXTRAS)
            raise LakeFormationSpecError(
                what, [f"{name}: not a retry setting (one of {names})" for name in unknown]
            )
        fields = _retry_fields({str(k): _blank_to_none(v) for k, v in extras.items()})
        if base is None:  # any value of the other bound (the connection's, later) must not fail here
            base = cls.model_construct(min_wait=0.001, max_wait=MAX_TIMEOUT_SECONDS)
        try:
            return cls.model_validate({**base.model_dump(), **fields})
        except ValidationError as exc:
            raise LakeFormationSpecError.from_validation_error(what, exc) from None

    @property
    def attempts(self) -> int:
        """Total number of attempts (first try plus retries)."""
        return self.max_retries + 1

    @property
    def retry_after_limit(self) -> float:
        """The longest ``Retry-After`` that is obeyed as given."""
        return max(self.max_wait, self.retry_after_cap)


class ConnectionSettings(BaseModel):
    """Everything the hook needs to talk to one LakeFormation instance."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    conn_id: str | None = None
    endpoint: str
    region: str | None = None
    project_id: str
    instance_id: str
    auth_type: AuthType
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    user_name: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    security_token: SecretStr | None = None
    domain_name: str | None = None
    project_name: str | None = None
    iam_endpoint: str | None = None
    verify: bool = True
    ca_bundle: str | None = None
    allow_insecure_transport: bool = False
    connect_timeout: float = Field(
        default=DEFAULT_CONNECT_TIMEOUT, gt=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False
    )
    read_timeout: float = Field(
        default=DEFAULT_READ_TIMEOUT, gt=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False
    )
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1024, le=MAX_RESPONSE_BYTES_LIMIT)
    retry: RetrySettings = Field(default_factory=RetrySettings)

    # ------------------------------------------------------------------ derived values

    @property
    def requests_verify(self) -> bool | str:
        """``verify`` for requests: the CA bundle path when given, else the boolean."""
        if self.verify and self.ca_bundle:
            return self.ca_bundle
        return self.verify

    @property
    def attempt_seconds(self) -> float:
        """The longest one attempt may take, dripping server or not: connect + read timeout."""
        return self.connect_timeout + self.read_timeout

    def secret_values(self) -> tuple[str, ...]:
        """Every credential value of the connection (AK, SK, IAM password, token, security token)."""
        secrets = (self.access_key, self.secret_key, self.password, self.token, self.security_token)
        return tuple(s.get_secret_value() for s in secrets if s is not None and s.get_secret_value())

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) timeouts in seconds."""
        return (self.connect_timeout, self.read_timeout)

    @property
    def api_root(self) -> str:
        """``{endpoint}/v1/{project_id}``."""
        return f"{self.endpoint}/v1/{quote(self.project_id, safe='~')}"

    @property
    def is_cloud_endpoint(self) -> bool:
        """True when the endpoint is a Huawei Cloud host (``*.myhuaweicloud.com``)."""
        host = (urlsplit(self.endpoint).hostname or "").lower()
        return host == CLOUD_DOMAIN or host.endswith("." + CLOUD_DOMAIN)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_connection(
        cls,
        conn: Any,
        *,
        extra: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        instance_id: str | None = None,
        region: str | None = None,
        retry: RetrySettings | Mapping[str, Any] | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> ConnectionSettings:
        """Build from an Airflow ``Connection`` (``extra`` defaults to ``conn.extra_dejson``)."""
        return cls.from_fields(
            conn_id=getattr(conn, "conn_id", None),
            host=getattr(conn, "host", None),
            port=getattr(conn, "port", None),
            login=getattr(conn, "login", None),
            password=getattr(conn, "password", None),
            extra=conn.extra_dejson if extra is None else extra,
            project_id=project_id,
            instance_id=instance_id,
            region=region,
            retry=retry,
            timeout=timeout,
        )

    @classmethod
    def from_fields(
        cls,
        *,
        conn_id: str | None = None,
        host: str | None = None,
        port: int | str | None = None,
        login: str | None = None,
        password: str | None = None,
        extra: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        instance_id: str | None = None,
        region: str | None = None,
        retry: RetrySettings | Mapping[str, Any] | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> ConnectionSettings:
        """Build from connection fields; hook overrides (``project_id``... ``timeout``) win over extras.

        Every problem is collected first and reported in one :class:`LakeFormationSpecError`.
        """
        what = f"LakeFormation connection {conn_id!r}" if conn_id else "LakeFormation connection"
        ex = {str(k): _blank_to_none(v) for k, v in (extra or {}).items()}
        problems: list[str] = []
        region_v, endpoint = _location(_text(host), port, ex, _text(region), problems)
        project = _required_id("project_id", _text(project_id) or _text(ex.get("project_id")), problems)
        instance = _required_id("instance_id", _text(instance_id) or _text(ex.get("instance_id")), problems)
        creds = _credentials(_text(login), _raw_secret(password), ex, region_v, problems)
        tls = _tls(ex, problems)
        _check_iam_transport(endpoint, creds.get("iam_endpoint"), tls["allow_insecure_transport"], problems)
        if problems:
            raise LakeFormationSpecError(what, problems)
        try:
            return cls.model_validate(
                {
                    "conn_id": conn_id,
                    "endpoint": endpoint,
                    "region": region_v,
                    "project_id": project,
                    "instance_id": instance,
                    **creds,
                    **tls,
                    **_timeouts(ex, timeout),
                    **_size_cap(ex),
                    "retry": _retry_fields(ex) if retry is None else retry,
                }
            )
        except ValidationError as exc:
            raise LakeFormationSpecError.from_validation_error(what, exc) from None


# ------------------------------------------------------------------------- settings parts


def _location(
    host: str | None, port: int | str | None, ex: Mapping[str, Any], region: str | None, problems: list[str]
) -> tuple[str | None, str | None]:
    """``(region, endpoint)``: the region (argument or extra; else read from a cloud host name) and
    the endpoint URL (``host``, or the region's cloud endpoint)."""
    region_v = region or _text(ex.get("region"))
    if region_v is not None:
        region_v = region_v.lower()
        if not _REGION_RE.match(region_v):
            problems.append("region: must look like cn-north-4 (lower-case letters, digits and '-')")
    endpoint = _endpoint(host, port, ex, region_v, problems)
    if region_v is None and endpoint:
        match = _CLOUD_HOST_RE.match((urlsplit(endpoint).hostname or "").lower())
        region_v = match["region"] if match else None
    return region_v, endpoint


def _credentials(
    login: str | None, password: str | None, ex: Mapping[str, Any], region: str | None, problems: list[str]
) -> dict[str, Any]:
    """The auth type and the credentials it needs (AK/SK, IAM user + password, or token)."""
    auth = _auth_type(_text(ex.get("auth_type")), login, password, problems)
    common: dict[str, Any] = {
        "auth_type": auth,
        "security_token": _raw_secret(ex.get("security_token")),
        "domain_name": _text(ex.get("domain_name")),
        "project_name": _text(ex.get("project_name")),
        "iam_endpoint": _text(ex.get("iam_endpoint")),
    }
    if auth is AuthType.AKSK:
        if not login:
            problems.append("login: the access key (AK) is required for auth_type aksk")
        if not password:
            problems.append("password: the secret key (SK) is required for auth_type aksk")
        return {**common, "access_key": login, "secret_key": password}
    if auth is AuthType.IAM:
        common["iam_endpoint"] = _iam_endpoint(login, password, common, region, problems)
        return {**common, "user_name": login, "password": password}
    if auth is AuthType.TOKEN:
        if not password:
            problems.append("password: the X-Auth-Token is required for auth_type token")
        return {**common, "token": password}
    return common


def _iam_endpoint(
    login: str | None,
    password: str | None,
    common: Mapping[str, Any],
    region: str | None,
    problems: list[str],
) -> str | None:
    """The checks of IAM auth; returns the IAM endpoint (given, or the region's)."""
    if not login:
        problems.append("login: the IAM user name is required for auth_type iam")
    if not password:
        problems.append("password: the IAM user's password is required for auth_type iam")
    if not common["domain_name"]:
        problems.append("domain_name: the account (domain) name is required for auth_type iam")
    iam_endpoint: str | None = common["iam_endpoint"]
    if iam_endpoint is None and region:
        iam_endpoint = f"https://iam.{region}.{CLOUD_DOMAIN}"
    if iam_endpoint is None:
        problems.append("iam_endpoint: required for auth_type iam when no region is known")
        return None
    return _url("iam_endpoint", iam_endpoint, problems)


def _is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (``localhost``, 127.0.0.0/8, ``::1``): traffic that never
    leaves it."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_iam_transport(
    endpoint: str | None, iam_endpoint: str | None, allow_insecure: Any, problems: list[str]
) -> None:
    """An ``http://`` IAM endpoint (the IAM password in clear) is refused next to an HTTPS API host,
    and anywhere but on this machine (loopback: the emulator), unless the connection sets
    ``allow_insecure_transport``."""
    if not endpoint or not iam_endpoint or allow_insecure is True:
        return
    if urlsplit(iam_endpoint).scheme != "http":
        return
    if urlsplit(endpoint).scheme == "https":
        problems.append(
            "iam_endpoint: plain http while the API host is https would send the IAM password in "
            "clear; use https (or set the extra allow_insecure_transport=true for a test endpoint)"
        )
    elif not _is_loopback(iam_endpoint):
        problems.append(
            "iam_endpoint: plain http to a host other than this machine would send the IAM password "
            "in clear; use https (or set the extra allow_insecure_transport=true for a test endpoint)"
        )


def _size_cap(ex: Mapping[str, Any]) -> dict[str, Any]:
    """``max_response_bytes``: the cap of a decompressed reply body."""
    value = ex.get("max_response_bytes")
    return {} if value is None else {"max_response_bytes": value}


def _tls(ex: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """``verify``, ``ca_bundle`` and ``allow_insecure_transport``; a requests-style
    ``verify="/path/ca.pem"`` becomes the bundle."""
    verify_raw = ex.get("verify")
    ca_bundle = _text(ex.get("ca_bundle"))
    verify: Any = True if verify_raw is None else verify_raw
    if isinstance(verify_raw, str):
        word = verify_raw.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            if ca_bundle and ca_bundle != verify_raw.strip():
                problems.append("verify: must be true or false when ca_bundle is set")
            elif not os.path.isfile(verify_raw.strip()):
                problems.append(
                    f"verify: must be true or false (or the path of a CA bundle file); got "
                    f"{verify_raw.strip()!r}, which is neither a true/false word nor an existing file"
                )
                return {"verify": True, "ca_bundle": None, "allow_insecure_transport": False}
            ca_bundle = ca_bundle or verify_raw.strip()
            verify = True
    if ca_bundle and not os.path.isfile(ca_bundle):
        problems.append(f"ca_bundle: file not found: {ca_bundle}")
    insecure = _flag("allow_insecure_transport", ex.get("allow_insecure_transport"), problems)
    return {"verify": verify, "ca_bundle": ca_bundle, "allow_insecure_transport": insecure}


def _flag(name: str, value: Any, problems: list[str]) -> bool:
    """A boolean extra, read by :func:`~airflow_provider_lakeformation.models.arguments.flag_arg`
    (absent or ``""`` = False); a problem is added to ``problems``."""
    try:
        return flag_arg(value, name, False)
    except LakeFormationSpecError as exc:
        problems.extend(exc.problems)
        return False


def _timeouts(ex: Mapping[str, Any], timeout: float | tuple[float, float] | None) -> dict[str, Any]:
    """Connect and read timeouts: the hook's ``timeout`` (one number or a pair), else the extras."""
    connect_t: Any = ex.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    read_t: Any = ex.get("read_timeout", DEFAULT_READ_TIMEOUT)
    if timeout is not None:
        connect_t, read_t = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return {
        "connect_timeout": DEFAULT_CONNECT_TIMEOUT if connect_t is None else connect_t,
        "read_timeout": DEFAULT_READ_TIMEOUT if read_t is None else read_t,
    }


#: The connection extras of the retry policy, and the :class:`RetrySettings` field each sets.
RETRY_EXTRAS: dict[str, str] = {
    "max_retries": "max_retries",
    "retry_min_wait": "min_wait",
    "retry_max_wait": "max_wait",
    "retry_after_cap": "retry_after_cap",
}


def _retry_fields(ex: Mapping[str, Any]) -> dict[str, Any]:
    """The retry policy's fields given as connection extras."""
    return {field: ex[name] for name, field in RETRY_EXTRAS.items() if ex.get(name) is not None}


# ---------------------------------------------------------------------------------- helpers


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _raw_secret(value: Any) -> str | None:
    """Secrets keep inner characters but lose surrounding whitespace (a pasted newline)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _required_id(name: str, value: str | None, problems: list[str]) -> str | None:
    if not value:
        problems.append(f"{name}: required (connection extra {name!r} or the hook's {name} argument)")
        return None
    try:
        return path_segment_arg(name, value)
    except LakeFormationSpecError as exc:
        problems.extend(exc.problems)
        return None


def _url(name: str, value: str, problems: list[str]) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{name}: must be an http(s) URL with a host, e.g. https://host:port")
        return None
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        problems.append(f"{name}: the port must be a number from 0 to 65535")
        return None
    if parts.query or parts.fragment:
        problems.append(f"{name}: must not carry a query string or fragment")
        return None
    if "@" in parts.netloc:
        problems.append(
            f"{name}: must not carry credentials (user:password@); put them in the connection's "
            "login and password"
        )
        return None
    return _host_form(name, value, problems)


#: A host name (letters, digits, '-', '_' in dot-separated labels) or an IPv4 address.
_HOST_NAME_RE = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)


def _host_form(name: str, url: str, problems: list[str]) -> str | None:
    """The form of an endpoint URL's host, checked when the connection is read: no whitespace or
    control character anywhere, no empty port after ``:``, a host name or IP address. A typo like
    ``htp:/127.0.0.1 18080`` (read as host ``htp``) fails here, naming the value, instead of as a
    DNS failure at the first call."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    example = "e.g. http://127.0.0.1:18080 or https://lakeformation.cn-north-4.myhuaweicloud.com"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        problems.append(f"{name}: must not contain spaces or control characters: {url!r} ({example})")
    elif parts.netloc.endswith(":"):
        problems.append(f"{name}: the port after ':' is empty in {url!r} ({example})")
    elif not (_HOST_NAME_RE.fullmatch(hostname) or _is_ip(hostname)):
        problems.append(f"{name}: {hostname!r} is not a host name or IP address ({example})")
    else:
        return url.rstrip("/")
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _endpoint(
    host: str | None,
    port: int | str | None,
    extra: Mapping[str, Any],
    region: str | None,
    problems: list[str],
) -> str | None:
    """Explicit URL in ``host``; or bare host + port + extra ``scheme``/``endpoint_scheme``; or region."""
    if host:
        if "://" in host:
            url = host
            parts = urlsplit(host)
            if port not in (None, "") and parts.port is None and parts.hostname:
                url = f"{parts.scheme}://{parts.netloc}:{port}{parts.path}"
        else:
            scheme = (_text(extra.get("scheme")) or _text(extra.get("endpoint_scheme")) or "https").lower()
            if scheme not in ("http", "https"):
                problems.append("scheme: must be http or https")
                return None
            hostport = host.rstrip("/")
            if port not in (None, "") and ":" not in hostport.rsplit("]", 1)[-1]:
                hostport = f"{hostport}:{port}"
            url = f"{scheme}://{hostport}"
        return _url("host", url, problems)
    if region:
        return cloud_endpoint(region)
    problems.append("region: required when the connection has no host (endpoint URL)")
    return None


def _auth_type(
    given: str | None,
    login: str | None,
    password: str | None,
    problems: list[str],
) -> AuthType | None:
    if given is not None:
        try:
            return AuthType(given.lower())
        except ValueError:
            problems.append("auth_type: must be one of aksk, iam, token")
            return None
    if login and password:
        return AuthType.AKSK
    if password:
        return AuthType.TOKEN
    problems.append(
        "password: credentials are required (login + password = AK/SK, password alone = token, "
        "or set auth_type iam with the IAM user and password)"
    )
    return None
