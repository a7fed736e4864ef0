"""LakeFormationHook (sync path) against requests-mock: URLs, bodies, auth, retries, errors,
no double execution of non-idempotent calls, IAM token caching, secrecy."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import urllib3.exceptions as u3
from requests_mock import Mocker

from airflow_provider_lakeformation.auth import clear_shared_token_caches, verify_signature
from airflow_provider_lakeformation.exceptions import (
    LakeFormationApiError,
    LakeFormationAuthError,
    LakeFormationBadRequestError,
    LakeFormationConnectionError,
    LakeFormationNotFoundError,
    LakeFormationResponseError,
    LakeFormationRetryableError,
    LakeFormationSpecError,
)
from airflow_provider_lakeformation.hooks import _retry
from airflow_provider_lakeformation.hooks.lakeformation import (
    TERMINAL_STATUSES,
    ConnectionSettings,
    JobStatus,
    LakeFormationHook,
)
from airflow_provider_lakeformation.models import CreateJobRequest, Job, JobType
from tests.unit.hook_settings import AK, IAM_PASSWORD, SK, TOKEN, conn_settings

ENDPOINT = "https://lf.test"
JOBS = f"{ENDPOINT}/v1/proj1/instances/inst1/lf-jobs"
IAM = "https://iam.test"
IAM_URL = f"{IAM}/v3/auth/tokens"
SEC_TOKEN = "sts-very-secret-0001"
DS_PASSWORD = "ds-Pa55word-zz"
DS_SK = "aliyun-secret-key-ww"
SECRETS = (SK, TOKEN, IAM_PASSWORD, SEC_TOKEN, DS_PASSWORD, DS_SK)
LOGGER = "airflow_provider_lakeformation.hooks.base"  # the transport (retries) logs here


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry waits instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(_retry, "SLEEP", recorded.append)
    return recorded


@pytest.fixture(autouse=True)
def _fresh_token_caches() -> None:
    clear_shared_token_caches()


def settings(auth: str = "aksk", **extra: Any) -> ConnectionSettings:
    return conn_settings(ENDPOINT, IAM, auth, **extra)


def make_hook(auth: str = "aksk", **extra: Any) -> LakeFormationHook:
    return LakeFormationHook.from_settings(settings(auth, **extra))


def job_json(job_id: str = "j1", status: Any = "CREATED", **over: Any) -> dict[str, Any]:
    return {"id": job_id, "name": "test_job_1", "type": "METADATA_DISCOVERY", "status": status, **over}


def discovery_spec(**over: Any) -> dict[str, Any]:
    block = {
        "data_location": "obs://bucket/data",
        "target_catalog": "hive",
        "target_database": "db1",
        "conflict_strategy": "UPDATE",
        "file_discovery_type": "PARQUET",
        "log_location": "obs://logs",
    }
    return {
        "name": "test_job_1",
        "type": "METADATA_DISCOVERY",
        "parameter": {"metadata_discovery_parameter": block},
        **over,
    }


def migration_spec() -> dict[str, Any]:
    return {
        "name": "mig_job_1",
        "type": "METADATA_MIGRATION",
        "parameter": {
            "metadata_migration_parameter": {
                "datasource_type": "ALIYUN_DLF",
                "datasource_parameter": {"username": "root", "password": DS_PASSWORD, "secret_key": DS_SK},
                "source_catalog": "s",
                "target_catalog": "t",
                "conflict_strategy": "UPSERT",
                "log_location": "obs://logs",
                "sync_objects": ["TABLE"],
                "locations": [],
            }
        },
    }


def last(route: Any) -> Any:
    """The last request a requests-mock route received."""
    assert route.last_request is not None
    return route.last_request


def refused() -> requests.exceptions.ConnectionError:
    message = "Failed to establish a new connection: [Errno 111] Connection refused"
    reason = u3.NewConnectionError(None, message)  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(u3.MaxRetryError(None, JOBS, reason))  # type: ignore[arg-type]


def dropped() -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        u3.ProtocolError("Connection aborted.", ConnectionResetError(104))
    )


# -------------------------------------------------------------------------- the operations


def test_operations_use_the_documented_urls_and_codes(requests_mock: Mocker) -> None:
    hook = make_hook("token")
    m = requests_mock
    m.post(JOBS, status_code=201, json=job_json())
    m.get(f"{JOBS}/j1", json=job_json(status={"status": "SUCCESS"}))
    m.put(f"{JOBS}/j1", json=job_json(name="renamed_1"))
    m.delete(f"{JOBS}/j1", status_code=200, text="")
    m.post(f"{JOBS}/j1/start", status_code=202, text="run signal received")
    m.post(f"{JOBS}/j1/stop", status_code=202, json={})
    m.get(f"{JOBS}/j1/log", json={"log": "line1\nline2"})
    m.get(f"{JOBS}/j1/history", json={"total": 1, "jobs": [job_json(status="FAILED")]})
    m.get(JOBS, json={"total": 1, "jobs": [job_json()]})
    m.get(f"{ENDPOINT}/v1/proj1/instances", json={"total": 1, "instances": [{"id": "inst1"}]})
    m.get(f"{ENDPOINT}/v1/proj1/instances/inst1", json={"id": "inst1", "status": "RUNNING"})

    assert hook.create_job(discovery_spec()).id == "j1"
    assert hook.get_job("j1").status is JobStatus.SUCCESS
    assert hook.get_job_status("j1") is JobStatus.SUCCESS
    assert hook.update_job("j1", discovery_spec(), job_type="METADATA_DISCOVERY").name == "renamed_1"
    hook.delete_job("j1")
    hook.stop_job("j1")
    assert hook.get_job_log("j1").tail(1) == "line2"
    assert hook.list_job_history("j1", status="FAILED", offset=0, limit=5).jobs[0].status is JobStatus.FAILED
    page = hook.list_jobs(
        "metadata_discovery", name_pattern="test*", status=JobStatus.RUNNING, offset=10, limit=50
    )
    assert page.total == 1
    assert hook.list_instances(name="x").instances[0].id == "inst1"
    assert hook.get_instance().status == "RUNNING"

    listed = [
        r for r in m.request_history if r.method == "GET" and r.path == "/v1/proj1/instances/inst1/lf-jobs"
    ]
    assert listed[0].qs == {
        "type": ["metadata_discovery"],
        "name_pattern": ["test*"],
        "status": ["running"],
        "offset": ["10"],
        "limit": ["50"],
    }
    assert "type=METADATA_DISCOVERY" in listed[0].url
    history = next(r for r in m.request_history if r.path.endswith("/history"))
    assert history.qs == {"status": ["failed"], "offset": ["0"], "limit": ["5"]}
    for request in m.request_history:
        assert request.headers["X-Auth-Token"] == TOKEN
        assert request.verify not in (False, None)  # True, or the REQUESTS_CA_BUNDLE of the environment
        timeout: Any = request.timeout
        assert timeout == (10.0, 60.0)


def test_start_job_query_and_preread(requests_mock: Mocker) -> None:
    hook = make_hook("token")
    requests_mock.get(f"{JOBS}/j1", json=job_json())
    start = requests_mock.post(f"{JOBS}/j1/start", status_code=202)
    hook.start_job("j1", mode="comparison", cascade=True)
    assert start.call_count == 1
    assert last(start).qs == {"mode": ["comparison"], "cascade": ["true"]}
    assert "mode=COMPARISON" in last(start).url
    hook.start_job("j1")
    assert last(start).qs == {}


def test_one_session_per_hook_with_keepalive(requests_mock: Mocker) -> None:
    hook = make_hook("token", verify="false")
    requests_mock.get(f"{JOBS}/j1", json=job_json())
    session = hook.get_conn()
    hook.get_job("j1")
    hook.get_job("j1")
    assert hook.get_conn() is session
    assert last(requests_mock).verify is False
    hook.close()
    assert hook.get_conn() is not session


@pytest.mark.parametrize("auth", ["token", "aksk"])
def test_netrc_never_replaces_our_auth_headers(
    requests_mock: Mocker, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, auth: str
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine lf.test login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert requests.utils.get_netrc_auth(f"{JOBS}/j1") == ("someone", "other-secret")
    route = requests_mock.get(f"{JOBS}/j1", json=job_json())
    make_hook(auth).get_job("j1")
    headers = last(route).headers
    if auth == "token":
        assert headers["X-Auth-Token"] == TOKEN
        assert "Authorization" not in headers
    else:
        assert headers["Authorization"].startswith("SDK-HMAC-SHA256 ")


def test_ca_bundle_is_passed_as_verify(requests_mock: Mocker, tmp_path: Any) -> None:
    ca = tmp_path / "lf-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    hook = make_hook("token", ca_bundle=str(ca))
    requests_mock.get(f"{JOBS}/j1", json=job_json())
    hook.get_job("j1")
    assert last(requests_mock).verify == str(ca)


def test_job_ids_are_path_encoded(requests_mock: Mocker) -> None:
    hook = make_hook("token")
    route = requests_mock.get(f"{JOBS}/j%C3%B6b~1", json=job_json("jöb~1"))
    assert hook.get_job("jöb~1").id == "jöb~1"
    assert route.call_count == 1
    for bad in ("", "  ", "..", ".", "a b", "a/b", "a\x00b", "a\ud800", "x" * 257):
        with pytest.raises(LakeFormationSpecError, match="job_id"):
            hook.get_job(bad)


# --------------------------------------------------------------------------- spec checks


def test_create_job_validates_and_fills_instance_id(requests_mock: Mocker) -> None:
    hook = make_hook("token")
    route = requests_mock.post(JOBS, status_code=201, json=job_json())
    hook.create_job(discovery_spec(description="first"))
    body = last(route).json()
    assert body["parameter"]["metadata_discovery_parameter"]["instance_id"] == "inst1"
    assert body["description"] == "first"
    assert last(route).headers["Content-Type"] == "application/json;charset=UTF-8"
    model = CreateJobRequest.model_validate(discovery_spec(), context={"default_instance_id": "other"})
    hook.create_job(model)
    assert last(route).json()["parameter"]["metadata_discovery_parameter"]["instance_id"] == "other"


def test_create_job_sends_secrets_on_the_wire_only(
    requests_mock: Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = make_hook("token")
    route = requests_mock.post(JOBS, status_code=201, json=job_json("j9"))
    hook.create_job(migration_spec())
    ds = last(route).json()["parameter"]["metadata_migration_parameter"]["datasource_parameter"]
    assert (ds["password"], ds["secret_key"]) == (DS_PASSWORD, DS_SK)
    for secret in SECRETS:
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**discovery_spec(), "name": "x"}, "name: String should have at least 4 characters"),
        ({**discovery_spec(), "type": "METADATA_MIGRATION"}, "a METADATA_MIGRATION job needs parameter"),
        ({**discovery_spec(), "extra_key": 1}, "extra_key: Extra inputs are not permitted"),
        ("not a mapping", "must be a CreateJobRequest or a mapping"),
    ],
)
def test_create_job_spec_errors_before_http(requests_mock: Mocker, spec: Any, message: str) -> None:
    hook = make_hook("token")
    with pytest.raises(LakeFormationSpecError) as info:
        hook.create_job(spec)
    assert message in str(info.value)
    assert requests_mock.call_count == 0


def test_update_job_checks_the_block_against_the_job_type(requests_mock: Mocker) -> None:
    hook = make_hook("token")
    get = requests_mock.get(f"{JOBS}/j1", json=job_json(type="METADATA_MIGRATION"))
    put = requests_mock.put(f"{JOBS}/j1", json=job_json())
    update = {k: v for k, v in discovery_spec().items() if k != "type"}
    with pytest.raises(LakeFormationSpecError, match="a METADATA_MIGRATION job needs parameter"):
        hook.update_job("j1", update)  # type fetched with get_job
    assert (get.call_count, put.call_count) == (1, 0)
    with pytest.raises(LakeFormationSpecError, match="a PERMISSION_MIGRATION job needs parameter"):
        hook.update_job("j1", update, job_type="PERMISSION_MIGRATION")
    assert (get.call_count, put.call_count) == (1, 0)
    with pytest.raises(LakeFormationSpecError, match="type: the spec says METADATA_DISCOVERY"):
        hook.update_job("j1", discovery_spec(), job_type=JobType.METADATA_MIGRATION)
    with pytest.raises(LakeFormationSpecError, match="a parameter block is needed"):
        hook.update_job("j1", {"name": "abcd", "parameter": {}}, job_type="METADATA_DISCOVERY")
    assert put.call_count == 0
    gets = get.call_count
    hook.update_job("j1", discovery_spec())  # a create-style spec: its type is used, no GET
    assert get.call_count == gets
    assert "type" not in last(put).json()
    assert last(put).json()["parameter"]["metadata_discovery_parameter"]["instance_id"] == "inst1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_type": "NOPE"}, "job_type: must be one of"),
        ({"job_type": "METADATA_MIGRATION", "offset": 1001}, "offset: must be an integer from 0 to 1000"),
        ({"job_type": "METADATA_MIGRATION", "offset": -1}, "offset: must be an integer from 0 to 1000"),
        ({"job_type": "METADATA_MIGRATION", "limit": 0}, "limit: must be an integer from 1 to 1000"),
        ({"job_type": "METADATA_MIGRATION", "limit": 1001}, "limit: must be an integer from 1 to 1000"),
        ({"job_type": "METADATA_MIGRATION", "status": "DONE"}, "status: must be one of"),
    ],
)
def test_list_jobs_argument_errors(requests_mock: Mocker, kwargs: dict[str, Any], message: str) -> None:
    hook = make_hook("token")
    job_type = kwargs.pop("job_type")
    with pytest.raises(LakeFormationSpecError, match=message):
        hook.list_jobs(job_type, **kwargs)
    with pytest.raises(LakeFormationSpecError):
        hook.start_job("j1", mode="FAST")
    assert requests_mock.call_count == 0


# --------------------------------------------------------------------------- auth: AK/SK


def test_aksk_signature_covers_the_exact_request(requests_mock: Mocker) -> None:
    hook = make_hook("aksk", security_token=SEC_TOKEN)
    post = requests_mock.post(JOBS, status_code=201, json=job_json())
    lst = requests_mock.get(JOBS, json={"total": 0, "jobs": []})
    hook.create_job(discovery_spec(description="中文 description"))
    hook.list_jobs("METADATA_DISCOVERY", name_pattern="a b*", limit=3)
    for request in (last(post), last(lst)):
        headers = request.headers
        assert headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=")
        assert headers["X-Project-Id"] == "proj1"
        assert headers["X-Security-Token"] == SEC_TOKEN
        assert "x-security-token" in headers["Authorization"]
        assert verify_signature(request.method, request.url, headers, request.body or b"", SK)
        assert not verify_signature(request.method, request.url, headers, request.body or b"", "wrong")
        assert "X-Auth-Token" not in headers
    assert (
        last(post).body
        == json.dumps(json.loads(last(post).body), separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert last(lst).qs["name_pattern"] == ["a b*"]


# ----------------------------------------------------------------------------- auth: IAM


def iam_route(m: Mocker, tokens: list[str]) -> Any:
    expires = (datetime.now(timezone.utc) + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return m.post(
        IAM_URL,
        [
            {
                "status_code": 201,
                "headers": {"X-Subject-Token": t},
                "json": {"token": {"expires_at": expires}},
            }
            for t in tokens
        ],
    )


def test_iam_token_is_fetched_once_per_process(
    requests_mock: Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    iam = iam_route(requests_mock, ["iam-token-1"])
    get = requests_mock.get(f"{JOBS}/j1", json=job_json())
    first, second = make_hook("iam"), make_hook("iam")
    first.get_job("j1")
    second.get_job("j1")
    first.get_job("j1")
    assert iam.call_count == 1
    assert [r.headers["X-Auth-Token"] for r in get.request_history] == ["iam-token-1"] * 3
    body = last(iam).json()
    user = body["auth"]["identity"]["password"]["user"]
    assert (user["name"], user["domain"]["name"], user["password"]) == ("alice", "acct", IAM_PASSWORD)
    assert body["auth"]["scope"]["project"] == {"id": "proj1"}
    assert "Authorization" not in last(iam).headers
    for secret in (IAM_PASSWORD, "iam-token-1"):
        assert secret not in caplog.text


def test_iam_401_refreshes_the_token_once(requests_mock: Mocker) -> None:
    iam = iam_route(requests_mock, ["old-token", "new-token", "newer-token"])
    get = requests_mock.get(
        f"{JOBS}/j1",
        [
            {"status_code": 401, "json": {"error_code": "APIG.1002", "error_msg": "Incorrect token"}},
            {"json": job_json()},
        ],
    )
    hook = make_hook("iam")
    assert hook.get_job("j1").id == "j1"
    assert iam.call_count == 2
    assert [r.headers["X-Auth-Token"] for r in get.request_history] == ["old-token", "new-token"]
    # a second consecutive 401 is not refreshed again: it is an auth error
    get2 = requests_mock.get(
        f"{JOBS}/j2", status_code=401, json={"error_code": "APIG.1002", "error_msg": "no"}
    )
    with pytest.raises(LakeFormationAuthError) as info:
        hook.get_job("j2")
    assert get2.call_count == 2
    assert iam.call_count == 3
    assert info.value.status_code == 401


def test_iam_errors(requests_mock: Mocker) -> None:
    requests_mock.post(
        IAM_URL,
        status_code=401,
        json={"error": {"code": 401, "message": "The username or password is wrong."}},
    )
    hook = make_hook("iam")
    with pytest.raises(LakeFormationAuthError) as info:
        hook.get_job("j1")
    text = str(info.value)
    assert "IAM API error: HTTP 401" in text
    assert "The username or password is wrong." in text
    assert IAM_PASSWORD not in text
    assert info.value.path == "/v3/auth/tokens"
    requests_mock.post(IAM_URL, status_code=201, json={"token": {"expires_at": "2099-01-01T00:00:00Z"}})
    with pytest.raises(LakeFormationResponseError, match="no X-Subject-Token header"):
        make_hook("iam").get_job("j1")


def test_token_auth_401_is_not_retried(requests_mock: Mocker) -> None:
    route = requests_mock.get(
        f"{JOBS}/j1",
        status_code=401,
        text="{ \"error_code\": 'APIG.1002', \"error_msg\": 'Incorrect token or token resolution failed' }",
    )
    with pytest.raises(LakeFormationAuthError) as info:
        make_hook("token").get_job("j1")
    assert route.call_count == 1
    assert info.value.error_code == "APIG.1002"  # read from the docs' single-quoted example body
    assert info.value.error_msg == "Incorrect token or token resolution failed"


# ------------------------------------------------------------------------------- retries

RETRY_TABLE = [
    (400, LakeFormationBadRequestError, False),
    (401, LakeFormationAuthError, False),
    (403, LakeFormationAuthError, False),
    (404, LakeFormationNotFoundError, False),
    (405, LakeFormationApiError, False),
    (409, LakeFormationApiError, False),
    (408, LakeFormationRetryableError, True),
    (429, LakeFormationRetryableError, True),
    (500, LakeFormationRetryableError, True),
    (502, LakeFormationRetryableError, True),
    (503, LakeFormationRetryableError, True),
    (504, LakeFormationRetryableError, True),
    (501, LakeFormationRetryableError, False),
    (505, LakeFormationRetryableError, False),
]


@pytest.mark.parametrize(("status", "cls", "retried"), RETRY_TABLE)
def test_retry_table(
    requests_mock: Mocker, waits: list[float], status: int, cls: type[LakeFormationApiError], retried: bool
) -> None:
    route = requests_mock.get(
        f"{JOBS}/j1",
        status_code=status,
        json={"error_code": f"common.{status}", "error_msg": "boom", "solution_msg": "try later"},
        headers={"X-Request-Id": "req-42"},
    )
    with pytest.raises(cls) as info:
        make_hook("token").get_job("j1")
    exc = info.value
    assert type(exc) is cls
    assert route.call_count == (4 if retried else 1)
    assert len(waits) == (3 if retried else 0)
    assert (exc.status_code, exc.error_code, exc.error_msg, exc.solution_msg, exc.request_id) == (
        status,
        f"common.{status}",
        "boom",
        "try later",
        "req-42",
    )
    assert (exc.method, exc.path) == ("GET", "/v1/proj1/instances/inst1/lf-jobs/j1")
    text = str(exc)
    for part in (
        f"status: {status}",
        f"error_code: common.{status}",
        "error_msg: boom",
        "request_id: req-42",
    ):
        assert part in text
    if retried:
        assert "gave up after 4 attempts" in text
        assert exc.attempts == 4  # type: ignore[attr-defined]


def test_backoff_waits_are_bounded(requests_mock: Mocker, waits: list[float]) -> None:
    requests_mock.get(f"{JOBS}/j1", status_code=503, json={})
    hook = make_hook("token", max_retries=8, retry_min_wait=0.5, retry_max_wait=3)
    with pytest.raises(LakeFormationRetryableError):
        hook.get_job("j1")
    assert len(waits) == 8
    assert all(0.5 <= w <= 3 for w in waits)
    assert waits[0] <= 1.0  # first retry: between min_wait and 2 * min_wait


def test_retry_after_seconds_and_date(requests_mock: Mocker, waits: list[float]) -> None:
    date = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    requests_mock.get(
        f"{JOBS}/j1",
        [
            {"status_code": 429, "headers": {"Retry-After": "7"}, "json": {}},
            {"status_code": 503, "headers": {"Retry-After": date}, "json": {}},
            {"status_code": 503, "headers": {"Retry-After": "100000"}, "json": {}},
            {"json": job_json()},
        ],
    )
    hook = make_hook("token", retry_max_wait=4, retry_after_cap=60)
    assert hook.get_job("j1").id == "j1"
    assert 7 <= waits[0] <= 7.7
    assert 17 <= waits[1] <= 22
    assert waits[2] == 60  # capped at max(max_wait, retry_after_cap)


def test_retries_are_logged_once_each_without_secrets(
    requests_mock: Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requests_mock.get(
        f"{JOBS}/j1",
        [
            {"status_code": 502, "headers": {"X-Request-Id": "r1"}, "text": "<html>bad gateway</html>"},
            {"json": job_json()},
        ],
    )
    make_hook("aksk", security_token=SEC_TOKEN).get_job("j1")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == LOGGER]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert (
        "GET /v1/proj1/instances/inst1/lf-jobs/j1: attempt 1 of 4 failed (HTTP 502, request_id r1)" in message
    )
    assert "retrying in" in message
    for secret in SECRETS:
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (refused, "could not connect"),
        (dropped, "connection lost"),
        (requests.exceptions.ReadTimeout, "no response within the read timeout of 60 s"),
        (requests.exceptions.ConnectTimeout, "connect timeout after 10 s"),
    ],
)
def test_transport_errors_are_retried_then_raised(
    requests_mock: Mocker, waits: list[float], error: Any, reason: str
) -> None:
    route = requests_mock.get(
        f"{JOBS}/j1", exc=error() if callable(error) and not isinstance(error, type) else error
    )
    with pytest.raises(LakeFormationConnectionError) as info:
        make_hook("token").get_job("j1")
    assert route.call_count == 4
    assert len(waits) == 3
    assert reason in str(info.value)
    assert "gave up after 4 attempts" in str(info.value)
    assert info.value.attempts == 4  # type: ignore[attr-defined]
    assert TOKEN not in str(info.value)


def test_transport_error_then_success(requests_mock: Mocker) -> None:
    route = requests_mock.get(
        f"{JOBS}/j1", [{"exc": refused()}, {"exc": requests.exceptions.ReadTimeout}, {"json": job_json()}]
    )
    assert make_hook("token").get_job("j1").id == "j1"
    assert route.call_count == 3


def test_tls_failure_is_not_retried(requests_mock: Mocker) -> None:
    route = requests_mock.get(f"{JOBS}/j1", exc=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(LakeFormationConnectionError) as info:
        make_hook("token").get_job("j1")
    assert route.call_count == 1
    assert "ca_bundle" in str(info.value)


def test_max_retries_zero(requests_mock: Mocker) -> None:
    route = requests_mock.get(f"{JOBS}/j1", status_code=500, json={})
    with pytest.raises(LakeFormationRetryableError, match="gave up after 1 attempt;"):
        make_hook("token", max_retries=0).get_job("j1")
    assert route.call_count == 1


# ---------------------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"text": "<html><body>" + "x" * 500 + "</body></html>"}, "the body is not JSON"),
        ({"text": ""}, "empty body where a JSON object was expected"),
        ({"json": [1, 2]}, "expected a JSON object, got list"),
        ({"json": {"name": "no id"}}, "id: Field required"),
        ({"json": {"id": "j1", "status": 7}}, "status: status must be a string"),
        ({"json": {"error_code": "LF.001", "error_msg": "hidden failure"}}, "HTTP 200 with an error body"),
    ],
)
def test_unusable_success_bodies(requests_mock: Mocker, response: dict[str, Any], message: str) -> None:
    route = requests_mock.get(f"{JOBS}/j1", headers={"X-Request-Id": "rq"}, **response)
    with pytest.raises(LakeFormationResponseError) as info:
        make_hook("token").get_job("j1")
    assert route.call_count == 1  # not retried
    text = str(info.value)
    assert message in text
    assert "body: " in text
    snippet = text.split("body: ", 1)[1].split("; request:")[0]
    assert len(snippet) <= 203
    assert info.value.request_id == "rq"
    assert info.value.status_code == 200


def test_error_body_on_2xx_keeps_the_error_fields(requests_mock: Mocker) -> None:
    requests_mock.get(f"{JOBS}/j1", json={"error_code": "LF.001", "error_msg": "hidden failure"})
    with pytest.raises(LakeFormationResponseError) as info:
        make_hook("token").get_job("j1")
    assert (info.value.error_code, info.value.error_msg) == ("LF.001", "hidden failure")


def test_html_error_page_is_retried_with_a_snippet(requests_mock: Mocker) -> None:
    requests_mock.get(
        f"{JOBS}/j1", status_code=502, text="<html><h1>502 Bad Gateway</h1>" + " pad" * 200 + "</html>"
    )
    with pytest.raises(LakeFormationRetryableError) as info:
        make_hook("token").get_job("j1")
    assert "body: <html><h1>502 Bad Gateway</h1>" in str(info.value)
    assert info.value.error_code is None


def test_forbidden_nested_error_body(requests_mock: Mocker) -> None:
    requests_mock.get(
        f"{JOBS}/j1",
        status_code=403,
        json={
            "error": {
                "code": "403",
                "message": "X-Auth-Token is invalid in the request",
                "title": "Forbidden",
            }
        },
    )
    with pytest.raises(LakeFormationAuthError) as info:
        make_hook("token").get_job("j1")
    assert (info.value.error_code, info.value.error_msg) == ("403", "X-Auth-Token is invalid in the request")
    assert info.value.credentials_rejected
    assert "the signature or token was rejected" in str(info.value)
    assert "lack permission" not in str(info.value)


def test_secret_looking_values_are_masked_in_snippets(requests_mock: Mocker) -> None:
    requests_mock.get(f"{JOBS}/j1", text=f'not json "password": "{DS_PASSWORD}", secret_key={DS_SK}')
    with pytest.raises(LakeFormationResponseError) as info:
        make_hook("token").get_job("j1")
    assert DS_PASSWORD not in str(info.value)
    assert DS_SK not in str(info.value)


def test_status_shapes(requests_mock: Mocker) -> None:
    hook = make_hook("token")
    requests_mock.get(f"{JOBS}/a", json={"id": "a", "status": "RUNNING", "unknown_field": [1]})
    requests_mock.get(f"{JOBS}/b", json={"id": "b", "status": {"status": "PARTIAL_SUCCESS"}})
    requests_mock.get(f"{JOBS}/c", json={"id": "c"})
    assert hook.get_job_status("a") is JobStatus.RUNNING
    assert hook.get_job_status("b") is JobStatus.PARTIAL_SUCCESS
    assert JobStatus.PARTIAL_SUCCESS in TERMINAL_STATUSES
    with pytest.raises(LakeFormationResponseError, match="status: Field required"):
        hook.get_job_status("c")


# ------------------------------------------------------------ non-idempotent: start / create


def test_start_not_resent_when_the_job_is_running_after_an_ambiguous_failure(
    requests_mock: Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    get = requests_mock.get(
        f"{JOBS}/j1",
        [
            {"json": job_json(status="SUCCESS", start_time=1000, end_time=2000)},
            {"json": job_json(status="RUNNING", start_time=3000, end_time=2000)},
        ],
    )
    start = requests_mock.post(f"{JOBS}/j1/start", exc=requests.exceptions.ReadTimeout)
    make_hook("token").start_job("j1")
    assert start.call_count == 1
    assert get.call_count == 2
    assert "the start went through; not sending it again" in caplog.text


@pytest.mark.parametrize(
    "failure",
    [
        {"exc": requests.exceptions.ReadTimeout},
        {"exc": dropped()},
        {"status_code": 503, "json": {}},
        {"status_code": 500, "json": {}},
        {"status_code": 504, "json": {}},
        {"status_code": 408, "json": {}},
        {"status_code": 429, "json": {}},
    ],
)
@pytest.mark.parametrize(
    ("after", "resent"),
    [
        ({"status": "SUBMITTED"}, False),
        ({"status": "RUNNING"}, False),
        ({"status": {"status": "SUCCESS"}, "start_time": 5000, "end_time": 6000}, False),  # a whole fast run
        ({"status": "CREATED"}, True),
    ],
)
def test_start_after_ambiguous_failures(
    requests_mock: Mocker, failure: dict[str, Any], after: dict[str, Any], resent: bool
) -> None:
    requests_mock.get(f"{JOBS}/j1", [{"json": job_json(status="CREATED")}, {"json": job_json(**after)}])
    start = requests_mock.post(f"{JOBS}/j1/start", [failure, {"status_code": 202}])
    make_hook("token").start_job("j1")
    assert start.call_count == (2 if resent else 1)


def test_start_resent_after_connection_refused_without_rereading(requests_mock: Mocker) -> None:
    get = requests_mock.get(f"{JOBS}/j1", json=job_json(status="CREATED"))
    start = requests_mock.post(f"{JOBS}/j1/start", [{"exc": refused()}, {"status_code": 202}])
    make_hook("token").start_job("j1")
    assert (start.call_count, get.call_count) == (2, 1)


def test_start_final_check_when_retries_run_out(requests_mock: Mocker) -> None:
    requests_mock.get(
        f"{JOBS}/j1",
        [{"json": job_json(status="CREATED")}] * 4 + [{"json": job_json(status="RUNNING", start_time=1)}],
    )
    start = requests_mock.post(f"{JOBS}/j1/start", status_code=503, json={})
    make_hook("token").start_job("j1")  # the last re-read shows the run: success
    assert start.call_count == 4


def test_start_resent_after_a_late_start_gets_400_and_counts_as_started(requests_mock: Mocker) -> None:
    # 1st start: 503 but processed late; re-read still CREATED, so it is re-sent; the re-send gets
    # 400 "running"; the final re-read shows the run: no error, and never a third start.
    requests_mock.get(
        f"{JOBS}/j1",
        [
            {"json": job_json(status="CREATED")},
            {"json": job_json(status="CREATED")},
            {"json": job_json(status="RUNNING", start_time=9)},
        ],
    )
    start = requests_mock.post(
        f"{JOBS}/j1/start",
        [{"status_code": 503, "json": {}}, {"status_code": 400, "json": {"error_msg": "job is running"}}],
    )
    make_hook("token").start_job("j1")
    assert start.call_count == 2


def test_start_400_is_raised(requests_mock: Mocker) -> None:
    requests_mock.get(f"{JOBS}/j1", json=job_json(status="RUNNING"))
    start = requests_mock.post(
        f"{JOBS}/j1/start", status_code=400, json={"error_code": "LF.0400", "error_msg": "job is running"}
    )
    with pytest.raises(LakeFormationBadRequestError, match="job is running"):
        make_hook("token").start_job("j1")
    assert start.call_count == 1


def test_create_returns_the_existing_job_after_an_ambiguous_failure(
    requests_mock: Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    post = requests_mock.post(JOBS, exc=requests.exceptions.ReadTimeout)
    lst = requests_mock.get(
        JOBS,
        json={"total": 2, "jobs": [job_json("other", name="test_job_10"), job_json("j7", name="test_job_1")]},
    )
    job = make_hook("token").create_job(discovery_spec())
    assert isinstance(job, Job)
    assert job.id == "j7"
    assert post.call_count == 1
    assert last(lst).qs["name_pattern"] == ["test_job_1"]
    assert last(lst).qs["type"] == ["metadata_discovery"]
    assert "the create went through; not sending it again" in caplog.text


def test_create_is_resent_when_no_job_was_created(requests_mock: Mocker) -> None:
    post = requests_mock.post(
        JOBS, [{"status_code": 502, "json": {}}, {"status_code": 201, "json": job_json("j8")}]
    )
    lst = requests_mock.get(JOBS, json={"total": 1, "jobs": [job_json("x", name="test_job_1_old")]})
    assert make_hook("token").create_job(discovery_spec()).id == "j8"
    assert (post.call_count, lst.call_count) == (2, 1)


def test_create_400_is_not_retried(requests_mock: Mocker) -> None:
    post = requests_mock.post(
        JOBS, status_code=400, json={"error_code": "LF.DUP", "error_msg": "name exists"}
    )
    with pytest.raises(LakeFormationBadRequestError):
        make_hook("token").create_job(discovery_spec())
    assert post.call_count == 1


# ------------------------------------------------------------------- stop / delete decisions


@pytest.mark.parametrize(
    ("status", "raises"), [("STOPPED", False), ("SUCCESS", False), ("CREATED", False), ("RUNNING", True)]
)
def test_stop_400_depends_on_the_job(requests_mock: Mocker, status: str, raises: bool) -> None:
    requests_mock.post(
        f"{JOBS}/j1/stop", status_code=400, json={"error_code": "LF.01", "error_msg": "not running"}
    )
    requests_mock.get(f"{JOBS}/j1", json=job_json(status=status))
    hook = make_hook("token")
    if raises:
        with pytest.raises(LakeFormationBadRequestError):
            hook.stop_job("j1")
    else:
        hook.stop_job("j1")


def test_stop_is_resent_after_an_ambiguous_failure(requests_mock: Mocker) -> None:
    stop = requests_mock.post(
        f"{JOBS}/j1/stop", [{"exc": requests.exceptions.ReadTimeout}, {"status_code": 202}]
    )
    make_hook("token").stop_job("j1")
    assert stop.call_count == 2


def test_delete_404_after_an_ambiguous_failure_counts_as_deleted(requests_mock: Mocker) -> None:
    route = requests_mock.delete(
        f"{JOBS}/j1", [{"exc": requests.exceptions.ReadTimeout}, {"status_code": 404, "json": {}}]
    )
    make_hook("token").delete_job("j1")
    assert route.call_count == 2
    requests_mock.delete(f"{JOBS}/j2", status_code=404, json={"error_code": "common.01000001"})
    with pytest.raises(LakeFormationNotFoundError):
        make_hook("token").delete_job("j2")


# ------------------------------------------------------------------------------- listing


def test_iter_jobs_pages_through_everything(requests_mock: Mocker) -> None:
    def page(request: Any, context: Any) -> dict[str, Any]:
        offset, limit = int(request.qs["offset"][0]), int(request.qs["limit"][0])
        return {"total": 250, "jobs": [job_json(f"j{i}") for i in range(offset, min(offset + limit, 250))]}

    route = requests_mock.get(JOBS, json=page)
    jobs = list(make_hook("token").iter_jobs("METADATA_DISCOVERY", page_size=100))
    assert [j.id for j in jobs] == [f"j{i}" for i in range(250)]
    assert [r.qs["offset"] for r in route.request_history] == [["0"], ["100"], ["200"]]


def test_iter_jobs_stops_at_the_offset_limit(requests_mock: Mocker, caplog: pytest.LogCaptureFixture) -> None:
    def page(request: Any, context: Any) -> dict[str, Any]:
        offset, limit = int(request.qs["offset"][0]), int(request.qs["limit"][0])
        return {"total": 5000, "jobs": [job_json(f"j{i}") for i in range(offset, offset + limit)]}

    requests_mock.get(JOBS, json=page)
    hook = make_hook("token")
    with pytest.raises(LakeFormationSpecError, match="limit"):
        hook.iter_jobs("METADATA_DISCOVERY", page_size=0)
    jobs = list(hook.iter_jobs("METADATA_DISCOVERY", page_size=400))
    assert len(jobs) == 1200  # offsets 0, 400, 800 (1200 > 1000 cannot be asked for)
    assert "cannot page beyond offset 1000" in caplog.text


def test_find_job_by_name_is_exact(requests_mock: Mocker) -> None:
    requests_mock.get(
        JOBS, json={"total": 2, "jobs": [job_json("a", name="nightly_1"), job_json("b", name="nightly")]}
    )
    hook = make_hook("token")
    found = hook.find_job_by_name("METADATA_DISCOVERY", "nightly")
    assert found is not None
    assert found.id == "b"
    assert hook.find_job_by_name("METADATA_DISCOVERY", "nightly_2") is None


# ---------------------------------------------------------------- test_connection & misc


def test_test_connection(requests_mock: Mocker) -> None:
    inst = f"{ENDPOINT}/v1/proj1/instances/inst1"
    requests_mock.get(inst, json={"id": "inst1", "name": "lf1", "status": "RUNNING"})
    ok, message = make_hook("token").test_connection()
    assert ok
    assert "inst1 (lf1)" in message
    requests_mock.get(inst, json={"id": "inst1", "status": "FROZEN"})
    assert make_hook("token").test_connection() == (
        False,
        "LakeFormation instance inst1 is FROZEN, not RUNNING: it cannot run jobs",
    )
    requests_mock.get(inst, status_code=403, json={"error_code": "LF.403", "error_msg": "denied"})
    ok, message = make_hook("token").test_connection()
    assert not ok
    assert "denied" in message
    assert TOKEN not in message
    requests_mock.get(inst, status_code=404, json={})
    requests_mock.get(JOBS, json={"total": 0, "jobs": []})
    ok, message = make_hook("token").test_connection()
    assert ok
    assert "jobs API" in message
    requests_mock.get(JOBS, status_code=404, json={})
    ok, message = make_hook("token").test_connection()
    assert not ok
    assert "not found" in message
    requests_mock.get(inst, exc=refused())
    ok, message = make_hook("token").test_connection()
    assert not ok
    assert "Could not reach LakeFormation" in message
    assert "gave up after 2 attempts" in message  # a short retry budget for interactive use


def test_test_connection_with_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LF_INVALID", json.dumps({"conn_type": "lakeformation", "password": TOKEN})
    )
    ok, message = LakeFormationHook("lf_invalid").test_connection()
    assert not ok
    assert "project_id: required" in message
    assert TOKEN not in message


def test_job_console_url() -> None:
    cloud = LakeFormationHook.from_settings(
        ConnectionSettings.from_fields(
            login=AK, password=SK, extra={"region": "cn-north-4", "project_id": "p", "instance_id": "i-1"}
        )
    )
    assert cloud.job_console_url("jöb-1") == (
        "https://console.huaweicloud.com/lakeformation/?region=cn-north-4#/lakeformation/instance/i-1/jobs/j%C3%B6b-1"
    )
    assert make_hook("token").job_console_url("j1") == f"{ENDPOINT}/console/jobs/j1"


def test_ui_metadata_mirrors_provider_info() -> None:
    from airflow_provider_lakeformation.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR

    behaviour = LakeFormationHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == UI_FIELD_BEHAVIOUR["relabeling"]
    assert set(behaviour) == {k.replace("-", "_") for k in UI_FIELD_BEHAVIOUR}
    pytest.importorskip("wtforms")
    pytest.importorskip("flask_appbuilder")
    assert set(LakeFormationHook.get_connection_form_widgets()) == set(CONN_FIELDS)


def test_hook_identity_and_reexports() -> None:
    from airflow_provider_lakeformation import hooks
    from airflow_provider_lakeformation.hooks import lakeformation
    from airflow_provider_lakeformation.models import status

    assert LakeFormationHook.conn_name_attr == "lakeformation_conn_id"
    assert LakeFormationHook.default_conn_name == "lakeformation_default"
    assert LakeFormationHook.conn_type == "lakeformation"
    assert LakeFormationHook.hook_name == "Huawei Cloud LakeFormation"
    assert LakeFormationHook.default_conn_name == hooks.DEFAULT_CONN_ID
    assert not hasattr(hooks, "LakeFormationHook")  # one public path: hooks.lakeformation
    for name in (
        "JobStatus",
        "TERMINAL_STATUSES",
        "IN_PROGRESS_STATUSES",
        "SUCCESSFUL_STATUSES",
        "FAILED_STATUSES",
    ):
        assert getattr(lakeformation, name) is getattr(status, name)
        assert name in lakeformation.__all__
        assert not hasattr(hooks, name)
    assert "lf" in repr(make_hook("token"))
    assert SK not in repr(make_hook("aksk").settings)


@pytest.mark.parametrize(
    ("body", "common", "code"),
    [
        (
            {"error_code": "LF.0001", "error_msg": "bad", "common_error_code": "CBC.0150"},
            "CBC.0150",
            "LF.0001",
        ),
        ({"error_msg": "bad", "common_error_code": 150}, "150", "150"),
        ({"error_code": "LF.0001", "error_msg": "bad"}, None, "LF.0001"),
    ],
)
def test_errors_carry_common_error_code(
    requests_mock: Mocker, body: dict[str, Any], common: str | None, code: str
) -> None:
    requests_mock.get(f"{JOBS}/j1", status_code=400, json=body, headers={"X-Request-Id": "rq"})
    with pytest.raises(LakeFormationApiError) as info:
        make_hook("token").get_job("j1")
    assert (info.value.common_error_code, info.value.error_code) == (common, code)
    if common is not None and common != code:
        assert f"common_error_code: {common}" in str(info.value)


def test_unknown_fields_and_values_never_fail_a_read(requests_mock: Mocker) -> None:
    job = {
        "id": "j1",
        "type": "METADATA_SYNC",
        "status": {"status": "QUEUED", "since": 3},
        "parameter": {"metadata_migration_parameter": {"conflict_strategy": "MERGE", "new": [1]}},
        "owner": {"nested": True},
    }
    requests_mock.get(f"{JOBS}/j1", json=job)
    requests_mock.get(JOBS, json={"total": 2, "jobs": [job, {"id": "j2", "status": "SUCCESS"}], "next": 1})
    hook = make_hook("token")
    read = hook.get_job("j1")
    assert (read.type, read.status) == ("METADATA_SYNC", "QUEUED")
    assert read.status is not None
    assert not read.status.is_known
    assert hook.get_job_status("j1") == "QUEUED"
    page = hook.list_jobs("METADATA_MIGRATION")
    assert [j.status for j in page.jobs] == ["QUEUED", JobStatus.SUCCESS]


def test_extra_parameter_blocks_are_sent_with_one_warning(
    requests_mock: Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    spec = discovery_spec()
    spec["parameter"]["permission_migration_parameter"] = {
        "location": "obs://b/p/",
        "log_location": "obs://b/l/",
        "policy_type": "DLF",
        "instance_id": "inst1",
    }
    post = requests_mock.post(JOBS, status_code=201, json=job_json())
    caplog.set_level(logging.WARNING)
    make_hook("token").create_job(spec)
    assert post.last_request.json()["parameter"]["permission_migration_parameter"]["policy_type"] == "DLF"
    warned = [r.getMessage() for r in caplog.records if "beside its own block" in r.getMessage()]
    assert len(warned) == 1
    assert "parameter.permission_migration_parameter" in warned[0]
