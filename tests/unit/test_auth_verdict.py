"""A 401/403 told apart: credentials that did not verify (signature or token rejected) versus
verified credentials without permission, by the gateway's error code (or its documented wording when
the body carries only "403"); in the exception's hint and in the Test button's message."""

from __future__ import annotations

from typing import Any

import pytest
from requests_mock import Mocker

from airflow_provider_lakeformation.exceptions import LakeFormationAuthError, credentials_rejected
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from tests.unit.hook_settings import SK, TOKEN, conn_settings

ENDPOINT = "https://lf.test"
INSTANCE = f"{ENDPOINT}/v1/proj1/instances/inst1"


def hook(auth: str) -> LakeFormationHook:
    return LakeFormationHook.from_settings(conn_settings(ENDPOINT, "https://iam.test", auth, max_retries=0))


@pytest.mark.parametrize(
    ("status", "code", "msg", "rejected"),
    [
        (403, "APIG.0301", "Incorrect IAM authentication information: verify aksk signature fail", True),
        (403, "APIGW.0301", "Incorrect IAM authentication information: decrypt token fail", True),
        (401, "APIG.1002", "Incorrect token or token resolution failed", True),
        (401, None, None, True),
        (403, "403", "Incorrect IAM authentication information: the request signature does not match", True),
        (403, "403", "X-Auth-Token is invalid in the request", True),
        (403, "APIG.0302", "The IAM user is not authorized to access the API", False),
        (403, "LF.0403", "no permission to read the instance", False),
        (403, None, None, False),
    ],
)
def test_credentials_rejected(status: int, code: str | None, msg: str | None, rejected: bool) -> None:
    assert credentials_rejected(status, code, msg) is rejected


def _forbid(requests_mock: Mocker, code: str, msg: str) -> None:
    requests_mock.get(
        INSTANCE,
        status_code=403,
        json={"error_code": code, "error_msg": msg},
        headers={"X-Request-Id": "req-1"},
    )


def test_permission_problem_reads_as_one(requests_mock: Mocker) -> None:
    _forbid(requests_mock, "APIG.0302", "The IAM user is not authorized to access the API")
    with pytest.raises(LakeFormationAuthError) as info:
        hook("aksk").get_instance()
    assert not info.value.credentials_rejected
    assert "lack permission" in str(info.value)
    assert "rejected" not in str(info.value)

    ok, message = hook("aksk").test_connection()
    assert not ok
    first, second = message.splitlines()
    assert first == (
        f"LakeFormation at {ENDPOINT} accepted the credentials, but they lack permission to read "
        "instance inst1: grant the user LakeFormation access."
    )
    assert second == (
        "HTTP 403, error_code APIG.0302: The IAM user is not authorized to access the API (request_id req-1)"
    )


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("aksk", "rejected the AK/SK signature: check that the SK belongs to the AK"),
        ("token", "rejected the token: check it is valid and not expired."),
    ],
)
def test_rejected_credentials_read_as_such(requests_mock: Mocker, auth: str, expected: str) -> None:
    _forbid(
        requests_mock, "APIG.0301", "Incorrect IAM authentication information: verify aksk signature fail"
    )
    with pytest.raises(LakeFormationAuthError) as info:
        hook(auth).get_instance()
    assert "the signature or token was rejected" in str(info.value)
    assert "lack permission" not in str(info.value)

    ok, message = hook(auth).test_connection()
    assert not ok
    assert expected in message.splitlines()[0]
    assert message.splitlines()[1].startswith("HTTP 403, error_code APIG.0301: ")
    assert len(message.splitlines()) == 2
    for secret in (SK, TOKEN):
        assert secret not in message


def test_invalid_settings_said_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    conn: dict[str, Any] = {"conn_type": "lakeformation", "password": TOKEN, "host": ENDPOINT}
    monkeypatch.setenv("AIRFLOW_CONN_XYZTMPID", json.dumps(conn))
    ok, message = LakeFormationHook("xyztmpid").test_connection()
    assert not ok
    assert message.startswith("Invalid connection: project_id: required")
    assert "xyztmpid" not in message
    assert message.lower().count("invalid") == 1
