"""ConnectionSettings / RetrySettings: endpoint, auth inference, coercion, validation, secrecy,
and connection lookup from ``AIRFLOW_CONN_*`` variables (sync and async) outside a task."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests_mock

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import (
    AuthType,
    ConnectionSettings,
    LakeFormationHook,
    RetrySettings,
)
from tests.compat import AIRFLOW_VERSION, HAS_AGET_CONNECTION

AK = "AKIDEXAMPLE0001"
SK = "sk-very-secret-0001"
TOKEN = "tok-very-secret-0001"
IAM_PASSWORD = "iam-pw-very-secret-0001"
SEC_TOKEN = "sts-very-secret-0001"
ALL_SECRETS = (SK, TOKEN, IAM_PASSWORD, SEC_TOKEN)

BASE_EXTRA = {"project_id": "proj1", "instance_id": "inst1"}


def build(**kw: Any) -> ConnectionSettings:
    extra = {**BASE_EXTRA, **kw.pop("extra", {})}
    kw.setdefault("login", AK)
    kw.setdefault("password", SK)
    return ConnectionSettings.from_fields(conn_id="lf_test", extra=extra, **kw)


def problems(**kw: Any) -> str:
    with pytest.raises(LakeFormationSpecError) as info:
        build(**kw)
    return str(info.value)


# ---------------------------------------------------------------------------- endpoint


@pytest.mark.parametrize(
    ("kw", "endpoint"),
    [
        ({"extra": {"region": "cn-north-4"}}, "https://lakeformation.cn-north-4.myhuaweicloud.com"),
        ({"extra": {"region": " CN-North-4 "}}, "https://lakeformation.cn-north-4.myhuaweicloud.com"),
        ({"host": "http://127.0.0.1:8080/"}, "http://127.0.0.1:8080"),
        ({"host": "https://lf.example.com"}, "https://lf.example.com"),
        ({"host": "http://127.0.0.1", "port": 9000}, "http://127.0.0.1:9000"),
        ({"host": "127.0.0.1", "port": 8080, "extra": {"endpoint_scheme": "http"}}, "http://127.0.0.1:8080"),
        ({"host": "127.0.0.1", "port": "8080", "extra": {"scheme": "HTTP"}}, "http://127.0.0.1:8080"),
        ({"host": "lf.example.com"}, "https://lf.example.com"),
        ({"host": "lf.example.com:8443", "port": 1}, "https://lf.example.com:8443"),
        ({"host": "http://h:1", "extra": {"region": "cn-north-4"}}, "http://h:1"),  # host wins
    ],
)
def test_endpoint(kw: dict[str, Any], endpoint: str) -> None:
    assert build(**kw).endpoint == endpoint


def test_region_is_derived_from_a_cloud_host() -> None:
    s = build(host="https://lakeformation.cn-east-3.myhuaweicloud.com")
    assert s.region == "cn-east-3"
    assert s.is_cloud_endpoint
    assert not build(host="http://127.0.0.1:8080").is_cloud_endpoint


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({}, "region: required when the connection has no host"),
        ({"extra": {"region": "cn north"}}, "region: must look like cn-north-4"),
        ({"host": "ftp://h"}, "host: must be an http(s) URL"),
        ({"host": "h", "extra": {"scheme": "ftp"}}, "scheme: must be http or https"),
        ({"host": "http://h:99999"}, "host: the port must be a number"),
        ({"host": "http://h/?a=1"}, "host: must not carry a query string"),
    ],
)
def test_endpoint_errors(kw: dict[str, Any], message: str) -> None:
    assert message in problems(**kw)


# ----------------------------------------------------------------------- required fields


@pytest.mark.parametrize("field", ["project_id", "instance_id"])
def test_ids_are_required(field: str) -> None:
    extra = {**BASE_EXTRA, "region": "cn-north-4"}
    del extra[field]
    with pytest.raises(LakeFormationSpecError) as info:
        ConnectionSettings.from_fields(conn_id="c", login=AK, password=SK, extra=extra)
    assert f"{field}: required (connection extra {field!r} or the hook's {field} argument)" in str(info.value)
    assert "'c'" in str(info.value)


def test_ids_must_be_path_safe() -> None:
    assert "project_id: must not contain" in problems(extra={"region": "r-1", "project_id": "a/b"})
    assert "instance_id: must not contain" in problems(extra={"region": "r-1", "instance_id": "a b"})


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(LakeFormationSpecError) as info:
        ConnectionSettings.from_fields(conn_id="c", extra={})
    fields = [p.split(":")[0] for p in info.value.problems]
    assert fields == ["region", "project_id", "instance_id", "password"]


def test_overrides_win_over_extras() -> None:
    s = ConnectionSettings.from_fields(
        login=AK,
        password=SK,
        extra={"region": "cn-north-4", "project_id": "p-extra", "instance_id": "i-extra"},
        project_id="p-arg",
        instance_id="i-arg",
        region="cn-east-3",
    )
    assert (s.project_id, s.instance_id, s.region) == ("p-arg", "i-arg", "cn-east-3")
    assert s.endpoint == "https://lakeformation.cn-east-3.myhuaweicloud.com"
    assert s.api_root == "https://lakeformation.cn-east-3.myhuaweicloud.com/v1/p-arg"


# ----------------------------------------------------------------------------------- auth


def test_auth_type_inference() -> None:
    assert build(extra={"region": "r-1"}).auth_type is AuthType.AKSK
    token = build(extra={"region": "r-1"}, login=None, password=TOKEN)
    assert token.auth_type is AuthType.TOKEN
    assert token.token is not None
    assert token.token.get_secret_value() == TOKEN
    assert "password: credentials are required" in problems(
        extra={"region": "r-1"}, login=None, password=None
    )


@pytest.mark.parametrize(
    ("auth_type", "kw", "message"),
    [
        ("aksk", {"login": None}, "login: the access key (AK) is required for auth_type aksk"),
        ("aksk", {"password": ""}, "password: the secret key (SK) is required for auth_type aksk"),
        ("token", {"password": None}, "password: the X-Auth-Token is required for auth_type token"),
        ("iam", {"login": None}, "login: the IAM user name is required for auth_type iam"),
        ("iam", {"password": None}, "password: the IAM user's password is required for auth_type iam"),
        ("iam", {}, "domain_name: the account (domain) name is required for auth_type iam"),
        ("kerberos", {}, "auth_type: must be one of aksk, iam, token"),
    ],
)
def test_credentials_for_the_auth_type(auth_type: str, kw: dict[str, Any], message: str) -> None:
    assert message in problems(extra={"region": "r-1", "auth_type": auth_type}, **kw)


def test_iam_settings() -> None:
    s = build(
        extra={"region": "cn-north-4", "auth_type": "IAM", "domain_name": "acct"},
        login="alice",
        password=IAM_PASSWORD,
    )
    assert s.auth_type is AuthType.IAM
    assert s.iam_endpoint == "https://iam.cn-north-4.myhuaweicloud.com"
    assert (s.user_name, s.domain_name) == ("alice", "acct")
    custom = build(
        host="http://127.0.0.1:8080",
        extra={"auth_type": "iam", "domain_name": "acct", "iam_endpoint": "http://127.0.0.1:8080/"},
        login="alice",
        password=IAM_PASSWORD,
    )
    assert custom.iam_endpoint == "http://127.0.0.1:8080"
    assert "iam_endpoint: required for auth_type iam when no region is known" in problems(
        host="http://127.0.0.1:8080", extra={"auth_type": "iam", "domain_name": "acct"}
    )


def test_security_token_and_project_name() -> None:
    s = build(extra={"region": "r-1", "security_token": SEC_TOKEN, "project_name": "cn-north-4"})
    assert s.security_token is not None
    assert s.security_token.get_secret_value() == SEC_TOKEN
    assert s.project_name == "cn-north-4"


# ------------------------------------------------------------------------- coercion / TLS


def test_string_extras_are_coerced() -> None:
    s = build(
        extra={
            "region": "r-1",
            "verify": "false",
            "connect_timeout": "3.5",
            "read_timeout": "7",
            "max_retries": "2",
            "retry_min_wait": "0.5",
            "retry_max_wait": "4",
            "retry_after_cap": "9",
            "ca_bundle": "",
            "security_token": "  ",
        }
    )
    assert s.verify is False
    assert s.timeout == (3.5, 7.0)
    assert s.retry == RetrySettings(max_retries=2, min_wait=0.5, max_wait=4, retry_after_cap=9)
    assert s.ca_bundle is None
    assert s.security_token is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, True),
        ({"verify": True}, True),
        ({"verify": "False"}, False),
        ({"verify": "no"}, False),
        ({"verify": "1"}, True),
        ({"ca_bundle": "{tmp}/ca.pem"}, "{tmp}/ca.pem"),
        ({"verify": "{tmp}/other.pem"}, "{tmp}/other.pem"),  # requests-style verify=<path>
        ({"verify": "false", "ca_bundle": "{tmp}/ca.pem"}, False),
    ],
)
def test_verify_and_ca_bundle(extra: dict[str, Any], expected: bool | str, tmp_path: Any) -> None:
    for name in ("ca.pem", "other.pem"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    extra = {k: v.replace("{tmp}", str(tmp_path)) if isinstance(v, str) else v for k, v in extra.items()}
    if isinstance(expected, str):
        expected = expected.replace("{tmp}", str(tmp_path))
    assert build(extra={"region": "r-1", **extra}).requests_verify == expected


def test_ca_bundle_must_exist() -> None:
    with pytest.raises(LakeFormationSpecError, match="ca_bundle: file not found"):
        build(extra={"region": "r-1", "ca_bundle": "/nonexistent/ca.pem"})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"connect_timeout": "soon"}, "connect_timeout: Input should be a valid number"),
        ({"read_timeout": 0}, "read_timeout: Input should be greater than 0"),
        ({"max_retries": -1}, "retry.max_retries: Input should be greater than or equal to 0"),
        ({"max_retries": "2.5"}, "retry.max_retries: Input should be a valid integer"),
        ({"retry_min_wait": 0}, "retry.min_wait: Input should be greater than 0"),
        ({"retry_min_wait": 5, "retry_max_wait": 1}, "max_wait: must be greater than or equal to min_wait"),
        ({"verify": "perhaps-not", "ca_bundle": "/x"}, "verify: must be true or false when ca_bundle is set"),
        ({"verify": 3}, "verify: Input should be a valid boolean"),
    ],
)
def test_invalid_extras(extra: dict[str, Any], message: str) -> None:
    text = problems(extra={"region": "r-1", **extra})
    assert message in text
    assert SK not in text


def test_retry_settings_rules() -> None:
    assert RetrySettings().attempts == 6
    assert RetrySettings(max_retries=0).attempts == 1
    assert RetrySettings(max_wait=10, retry_after_cap=60).retry_after_limit == 60
    assert RetrySettings(max_wait=100, retry_after_cap=60).retry_after_limit == 100
    for bad in (
        {"max_retries": -1},
        {"min_wait": 0},
        {"min_wait": 2, "max_wait": 1},
        {"retry_after_cap": -1},
    ):
        with pytest.raises(ValueError, match=r"max_retries|min_wait|max_wait|retry_after_cap"):
            RetrySettings(**bad)


def test_retry_and_timeout_overrides() -> None:
    s = ConnectionSettings.from_fields(
        login=AK,
        password=SK,
        extra={**BASE_EXTRA, "region": "r-1", "max_retries": 9, "connect_timeout": 1},
        retry={"max_retries": 1, "min_wait": 0.1, "max_wait": 0.2},
        timeout=(2, 30),
    )
    assert s.retry.max_retries == 1
    assert s.timeout == (2.0, 30.0)
    assert build(extra={"region": "r-1"}, timeout=5).timeout == (5.0, 5.0)
    with pytest.raises(LakeFormationSpecError, match="max_wait: must be greater than or equal to min_wait"):
        build(extra={"region": "r-1"}, retry={"min_wait": 3, "max_wait": 1})


# -------------------------------------------------------------------------------- secrecy


def test_secrets_never_shown() -> None:
    settings = [
        build(extra={"region": "r-1", "security_token": SEC_TOKEN}),
        build(extra={"region": "r-1"}, login=None, password=TOKEN),
        build(
            extra={"region": "r-1", "auth_type": "iam", "domain_name": "d"}, login="u", password=IAM_PASSWORD
        ),
    ]
    for s in settings:
        for text in (repr(s), str(s), s.model_dump_json(), json.dumps(s.model_dump(mode="json"))):
            for secret in ALL_SECRETS:
                assert secret not in text


# ------------------------------------------------------------------- Airflow connections


def _set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: dict[str, Any] | str) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", text)


def test_hook_reads_a_json_env_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(
        monkeypatch,
        "lf_json",
        {
            "conn_type": "lakeformation",
            "host": "http://127.0.0.1:8080",
            "login": AK,
            "password": SK,
            "extra": {**BASE_EXTRA, "verify": "false", "max_retries": "3"},
        },
    )
    hook = LakeFormationHook("lf_json", instance_id="override")
    s = hook.settings
    assert (s.endpoint, s.project_id, s.instance_id, s.verify, s.retry.max_retries) == (
        "http://127.0.0.1:8080",
        "proj1",
        "override",
        False,
        3,
    )
    assert hook.settings is s  # cached
    assert s.conn_id == "lf_json"


def test_hook_reads_a_uri_env_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(
        monkeypatch,
        "lf_uri",
        "lakeformation://AK%2F1:SK%2B%3D@127.0.0.1:8080/?endpoint_scheme=http&project_id=P&instance_id=I",
    )
    s = LakeFormationHook("lf_uri").settings
    assert s.endpoint == "http://127.0.0.1:8080"
    assert s.access_key is not None
    assert s.secret_key is not None
    assert (s.access_key.get_secret_value(), s.secret_key.get_secret_value()) == ("AK/1", "SK+=")
    _set_conn(monkeypatch, "lf_uri2", "lakeformation://AK:SK@/?region=cn-north-4&project_id=P&instance_id=I")
    assert (
        LakeFormationHook("lf_uri2").settings.endpoint == "https://lakeformation.cn-north-4.myhuaweicloud.com"
    )


async def _async_settings_and_sync_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``aget_settings()`` of a token connection; the conn ids the sync ``get_connection`` saw."""
    _set_conn(
        monkeypatch,
        "lf_async",
        {"conn_type": "lakeformation", "password": TOKEN, "extra": {**BASE_EXTRA, "region": "cn-north-4"}},
    )
    calls: list[str] = []
    original = LakeFormationHook.get_connection.__func__  # type: ignore[attr-defined]

    def counting(cls: type, conn_id: str) -> Any:
        calls.append(conn_id)
        return original(cls, conn_id)

    monkeypatch.setattr(LakeFormationHook, "get_connection", classmethod(counting))
    hook = LakeFormationHook("lf_async")
    s = await hook.aget_settings()
    assert s.auth_type is AuthType.TOKEN
    assert hook.settings is s
    return calls


@pytest.mark.skipif(not HAS_AGET_CONNECTION, reason=f"no aget_connection on Airflow {AIRFLOW_VERSION}")
async def test_async_settings_use_aget_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await _async_settings_and_sync_lookups(monkeypatch) == []  # the sync lookup was not used


@pytest.mark.skipif(HAS_AGET_CONNECTION, reason=f"Airflow {AIRFLOW_VERSION} has aget_connection")
async def test_async_settings_fall_back_to_sync_lookup_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 2.11: the documented fallback, ``sync_to_async(get_connection)``, once."""
    assert await _async_settings_and_sync_lookups(monkeypatch) == ["lf_async"]


def test_invalid_connection_fails_before_any_http(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "lf_bad", {"conn_type": "lakeformation", "login": AK, "password": SK, "extra": {}})
    hook = LakeFormationHook("lf_bad")
    with requests_mock.Mocker() as m:
        with pytest.raises(LakeFormationSpecError) as info:
            hook.get_job("j1")
        assert m.call_count == 0
    assert "project_id: required" in str(info.value)
    assert "'lf_bad'" in str(info.value)
    assert SK not in str(info.value)
