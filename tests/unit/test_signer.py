"""SDK-HMAC-SHA256 signer: checked against the official huaweicloudsdkcore signer and literals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_lakeformation.auth import signer
from airflow_provider_lakeformation.auth.signer import (
    canonical_query_string,
    canonical_request,
    canonical_uri,
    host_from_url,
    parse_authorization,
    sign_request,
    signed_header_names,
    string_to_sign,
    verify_signature,
)

AK = "HPUAEXAMPLEACCESSKEY"
SK = "s3cr3t-Example-Secret-Key-Do-Not-Use-0123456789"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
INSTANCE = "6f1b0b1e-3c2a-4d4e-9b8a-1c2d3e4f5a6b"
NOW = datetime(2026, 11, 26, 10, 0, 0, tzinfo=timezone.utc)
SDK_DATE = "20261126T100000Z"
HOST = "lakeformation.cn-north-4.myhuaweicloud.com"
JOBS = f"/v1/{PROJECT}/instances/{INSTANCE}/lf-jobs"


def _url(host: str, path: str, query: list[tuple[str, str]] | None = None) -> str:
    """A URL as an HTTP client would build it (RFC 3986 encoding, pairs in the given order)."""
    url = f"https://{host}{path}"
    if query:
        url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    return url


def _official(
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    *,
    project_id: str | None = None,
    security_token: str | None = None,
) -> dict[str, str]:
    """Sign with huaweicloudsdkcore, the date pinned through the X-Sdk-Date header."""
    credentials_mod = pytest.importorskip("huaweicloudsdkcore.auth.credentials")
    request_mod = pytest.importorskip("huaweicloudsdkcore.sdk_request")
    credentials = credentials_mod.BasicCredentials(AK, SK, project_id)
    if security_token:
        credentials = credentials.with_security_token(security_token)
    request = request_mod.SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params={**headers, "X-Sdk-Date": SDK_DATE},
        body=body,
    )
    signed = credentials.sign_request(request)
    return dict(signed.header_params)


# (id, method, host, path, query, headers, body, project_id, security_token)
CASES: list[tuple[str, str, str, str, list[tuple[str, str]], dict[str, str], bytes | None, Any, Any]] = [
    (
        "get-query-unsorted-encoded-tilde",
        "GET",
        HOST,
        JOBS,
        [
            ("type", "METADATA_MIGRATION"),
            ("name_pattern", "nightly job*/ü+x"),
            ("offset", "0"),
            ("limit", "10"),
            ("a~b", "c~d e"),
            ("empty", ""),
            ("status", "RUNNING"),
            ("status", "FAILED"),
        ],
        {"Content-Type": "application/json"},
        None,
        PROJECT,
        None,
    ),
    (
        "post-json-body",
        "POST",
        HOST,
        JOBS,
        [],
        {"Content-Type": "application/json;charset=UTF-8", "X-Client": "  padded value  "},
        json.dumps({"name": "job-ü", "type": "METADATA_MIGRATION", "parameter": {"x": [1, 2]}}).encode(),
        PROJECT,
        None,
    ),
    (
        "path-segments-need-encoding",
        "POST",
        HOST,
        f"{JOBS}/{quote('job name@ü:1~x', safe='')}/start",
        [("mode", "NORMAL"), ("cascade", "true")],
        {"Content-Type": "application/json"},
        b"",
        PROJECT,
        None,
    ),
    (
        "security-token",
        "PUT",
        HOST,
        f"{JOBS}/job-1",
        [],
        {"Content-Type": "application/json", "X_Trace_Id": "not-signed"},
        b'{"name":"renamed","description":"d"}',
        PROJECT,
        "gQpjbi1ub3J0aC00jXjd-temporary-security-token==",
    ),
    (
        "host-with-port",
        "DELETE",
        "lakeformation.example.internal:8443",
        f"{JOBS}/job-2",
        [],
        {},
        None,
        None,
        None,
    ),
    (
        "non-json-content-type-unsigned-payload",
        "POST",
        HOST,
        f"{JOBS}/job-3/upload",
        [],
        {"Content-Type": "text/plain"},
        b"plain text body",
        PROJECT,
        None,
    ),
    (
        "root-path",
        "GET",
        HOST,
        "/",
        [("k", "v")],
        {},
        None,
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("method", "host", "path", "query", "headers", "body", "project_id", "token"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_matches_official_signer(
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    project_id: str | None,
    token: str | None,
) -> None:
    expected = _official(
        method, host, path, query, headers, body, project_id=project_id, security_token=token
    )
    # shuffle the order the pairs appear in the URL: the canonical form must not depend on it
    ours = sign_request(
        method,
        _url(host, path, list(reversed(query))),
        headers,
        body,
        AK,
        SK,
        security_token=token,
        project_id=project_id,
        now=NOW,
    )
    assert ours["Authorization"] == expected["Authorization"]
    assert ours == expected


def test_matches_official_signer_with_preset_date_header_and_unsigned_payload() -> None:
    headers = {"Content-Type": "application/octet-stream", "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
    expected = _official("POST", HOST, f"{JOBS}/j", [], headers, b"\x00\x01binary", project_id=PROJECT)
    ours = sign_request(
        "post",
        _url(HOST, f"{JOBS}/j"),
        {**headers, "X-Sdk-Date": SDK_DATE},
        b"\x00\x01binary",
        AK,
        SK,
        project_id=PROJECT,
        now=NOW + timedelta(hours=5),  # an explicit X-Sdk-Date header wins, as in the SDK
        unsigned_payload=True,
    )
    assert ours == expected


# Computed once with huaweicloudsdkcore 3.1.219 (BasicCredentials(AK, SK, PROJECT).sign_request)
# for: GET {JOBS}?type=METADATA_MIGRATION&limit=10&name_pattern=a b~c, X-Sdk-Date 20261126T100000Z.
HARDCODED_SIGNATURE = "e9f38c656d57bf7fcbfebd02021387d35dbb49482bc261274c2304c2b3290404"


def test_hardcoded_vector() -> None:
    url = f"https://{HOST}{JOBS}?type=METADATA_MIGRATION&limit=10&name_pattern=a%20b~c"
    headers = sign_request(
        "GET", url, {"Content-Type": "application/json"}, None, AK, SK, project_id=PROJECT, now=NOW
    )
    assert headers["X-Sdk-Date"] == SDK_DATE
    assert headers["Host"] == HOST
    assert headers["X-Project-Id"] == PROJECT
    assert headers["Authorization"] == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        f"Signature={HARDCODED_SIGNATURE}"
    )


def test_canonical_request_literal() -> None:
    headers = {"Host": HOST, "X-Sdk-Date": SDK_DATE, "Content-Type": " application/json "}
    names = signed_header_names(headers)
    assert names == ["content-type", "host", "x-sdk-date"]
    canonical = canonical_request("get", f"https://{HOST}/v1/p/a%20b?b=2&a=1&c", headers, b"", names)
    assert canonical == (
        "GET\n/v1/p/a%20b/\na=1&b=2&c=\n"
        f"content-type:application/json\nhost:{HOST}\nx-sdk-date:{SDK_DATE}\n\n"
        "content-type;host;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    sts = string_to_sign(canonical, SDK_DATE)
    assert sts.startswith(f"SDK-HMAC-SHA256\n{SDK_DATE}\n")
    assert string_to_sign(canonical, NOW) == sts


def test_canonical_pieces() -> None:
    assert canonical_uri("") == "/"
    assert canonical_uri("/v1/x/") == "/v1/x/"
    assert canonical_uri("/v1/a b/%7Ec") == "/v1/a%20b/~c/"
    assert canonical_query_string("z=1&a=2&a=1&&=x&k") == "a=1&a=2&k=&z=1"
    assert canonical_query_string("q=a+b") == "q=a%2Bb"  # '+' is a literal plus
    assert canonical_query_string([("b", "/"), ("a", "~ ")]) == "a=~%20&b=%2F"
    assert signed_header_names({"B": "1", "a": "2", "X_Skip": "3"}) == ["a", "b"]


def test_host_from_url() -> None:
    assert host_from_url("https://h.example.com/x") == "h.example.com"
    assert host_from_url("https://h.example.com:443/x") == "h.example.com"
    assert host_from_url("http://h.example.com:80/x") == "h.example.com"
    assert host_from_url("http://user:pw@h.example.com:8080/x") == "h.example.com:8080"
    assert host_from_url("https://127.0.0.1:9443") == "127.0.0.1:9443"
    with pytest.raises(ValueError, match="no host"):
        host_from_url("/relative/path")


def _auth(headers: dict[str, str]) -> str:
    return headers["Authorization"]


def test_tampering_changes_signature() -> None:
    base = {"Content-Type": "application/json"}
    url = _url(HOST, f"{JOBS}/j", [("mode", "NORMAL")])
    body = b'{"a":1}'
    later = NOW + timedelta(seconds=1)
    reference = _auth(sign_request("POST", url, base, body, AK, SK, project_id=PROJECT, now=NOW))
    variants = [
        sign_request("POST", url, base, b'{"a":2}', AK, SK, project_id=PROJECT, now=NOW),
        sign_request(
            "POST", url.replace("NORMAL", "COMPARISON"), base, body, AK, SK, project_id=PROJECT, now=NOW
        ),
        sign_request("POST", url + "&cascade=true", base, body, AK, SK, project_id=PROJECT, now=NOW),
        sign_request("PUT", url, base, body, AK, SK, project_id=PROJECT, now=NOW),
        sign_request("POST", url.replace("/j", "/k"), base, body, AK, SK, project_id=PROJECT, now=NOW),
        sign_request("POST", url, base, body, AK, SK, project_id="other", now=NOW),
        sign_request("POST", url, base, body, AK, SK + "x", project_id=PROJECT, now=NOW),
        sign_request("POST", url, base, body, AK, SK, project_id=PROJECT, now=later),
        sign_request("POST", url, {**base, "X-Extra": "1"}, body, AK, SK, project_id=PROJECT, now=NOW),
    ]
    signatures = {_auth(v).rsplit("=", 1)[1] for v in variants}
    assert reference.rsplit("=", 1)[1] not in signatures
    assert len(signatures) == len(variants)


def test_query_order_and_encoding_do_not_change_signature() -> None:
    one = sign_request("GET", f"https://{HOST}/p?b=2&a=%7E", {}, None, AK, SK, now=NOW)
    two = sign_request("GET", f"https://{HOST}/p?a=~&b=2", {}, None, AK, SK, now=NOW)
    assert one == two


def test_returns_new_dict_and_adds_headers() -> None:
    given = {"Content-Type": "application/json", "authorization": "stale", "x-sdk-date": SDK_DATE}
    out = sign_request("GET", f"https://{HOST}/p", given, None, AK, SK, security_token="tok", project_id="p1")
    assert given == {"Content-Type": "application/json", "authorization": "stale", "x-sdk-date": SDK_DATE}
    assert "authorization" not in out
    assert out["x-sdk-date"] == SDK_DATE
    assert out["X-Security-Token"] == "tok"
    assert out["X-Project-Id"] == "p1"
    access, names, _ = parse_authorization(out["Authorization"])
    assert access == AK
    assert names == ["content-type", "host", "x-project-id", "x-sdk-date", "x-security-token"]


def test_now_default_and_naive_now() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    out = sign_request("GET", f"https://{HOST}/p", {}, None, AK, SK)
    stamped = datetime.strptime(out["X-Sdk-Date"], signer.SDK_DATE_FORMAT).replace(tzinfo=timezone.utc)
    assert before <= stamped <= datetime.now(timezone.utc)
    naive = sign_request("GET", f"https://{HOST}/p", {}, None, AK, SK, now=NOW.replace(tzinfo=None))
    beijing = NOW.astimezone(timezone(timedelta(hours=8)))
    aware = sign_request("GET", f"https://{HOST}/p", {}, None, AK, SK, now=beijing)
    assert naive == aware
    assert naive["X-Sdk-Date"] == SDK_DATE


def test_verify_signature_round_trip() -> None:
    url = _url(HOST, f"{JOBS}/j", [("mode", "NORMAL")])
    body = b'{"a":1}'
    headers = sign_request("POST", url, {"Content-Type": "application/json"}, body, AK, SK, now=NOW)
    assert verify_signature("POST", url, headers, body, SK)
    assert not verify_signature("POST", url, headers, b'{"a":2}', SK)
    assert not verify_signature("POST", url, headers, body, "wrong")
    assert not verify_signature("POST", url, {**headers, "Authorization": "garbage"}, body, SK)
    assert not verify_signature("POST", url, {k: v for k, v in headers.items() if k != "Host"}, body, SK)


def test_errors_never_contain_secret() -> None:
    for access_key, secret_key in (("", SK), (AK, "")):
        with pytest.raises(ValueError, match="required") as info:
            sign_request("GET", f"https://{HOST}/p", {}, None, access_key, secret_key)
        assert SK not in str(info.value)
    with pytest.raises(ValueError, match="twice") as dup:
        sign_request("GET", f"https://{HOST}/p", {"A": "1", "a": "2"}, None, AK, SK)
    assert SK not in str(dup.value)
    with pytest.raises(ValueError, match="X-Sdk-Date") as bad_date:
        sign_request("GET", f"https://{HOST}/p", {"X-Sdk-Date": "yesterday"}, None, AK, SK)
    assert SK not in str(bad_date.value)
    with pytest.raises(TypeError):
        sign_request("POST", f"https://{HOST}/p", {}, "text", AK, SK)  # type: ignore[arg-type]
