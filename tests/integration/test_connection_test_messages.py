"""What the UI's Test button (``LakeFormationHook.test_connection``) tells a user, against the
emulator over real HTTP: one or two lines, the cause named (a rejected signature or token told apart
from a permission problem), no doubled prefix, no connection id, no secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

FAST = {"max_retries": 1, "retry_min_wait": 0.01, "retry_max_wait": 0.05, "read_timeout": 5}
CONN_ID = "lf_user_conn"


def hook_for(monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any]) -> LakeFormationHook:
    conn.setdefault("extra", {}).update(FAST)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return LakeFormationHook(CONN_ID)


def check_shape(message: str, *secrets: str) -> None:
    assert 1 <= len(message.splitlines()) <= 2, message
    assert CONN_ID not in message
    for secret in secrets:
        assert secret not in message


def test_wrong_secret_key_is_a_rejected_signature(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = emulator.connection("aksk")
    conn["password"] = "not-the-secret-key"
    ok, message = hook_for(monkeypatch, conn).test_connection()
    assert not ok
    check_shape(message, "not-the-secret-key", emulator.sk)
    first, second = message.splitlines()
    assert first == (
        f"LakeFormation at {emulator.url} rejected the AK/SK signature: check that the SK belongs to "
        "the AK (and the security token of a temporary AK/SK)."
    )
    assert second.startswith("HTTP 403, error_code 403: Incorrect IAM authentication information")
    assert "request_id " in second
    assert "permission" not in message


def test_wrong_token_is_a_rejected_token(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = emulator.connection("token")
    conn["password"] = "not-a-valid-token"
    ok, message = hook_for(monkeypatch, conn).test_connection()
    assert not ok
    check_shape(message, "not-a-valid-token", emulator.token)
    assert message.splitlines()[0].endswith("rejected the token: check it is valid and not expired.")
    assert "permission" not in message


def test_missing_ids_named_once_without_an_id(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = emulator.connection("aksk")
    conn["extra"].pop("project_id")
    conn["extra"].pop("instance_id")
    ok, message = hook_for(monkeypatch, conn).test_connection()
    assert not ok
    check_shape(message, emulator.sk)
    assert message.startswith("Invalid connection: project_id: required")
    assert "instance_id: required" in message
    assert message.lower().count("invalid") == 1, message


def test_unknown_instance_says_which(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = emulator.connection("token")
    conn["extra"]["project_id"] = "ffffffffffffffffffffffffffffffff"
    ok, message = hook_for(monkeypatch, conn).test_connection()
    assert not ok
    check_shape(message, emulator.token)
    assert message.splitlines()[0].startswith(f"LakeFormation instance {emulator.instance_id} not found")


def test_good_connection_in_one_line(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    ok, message = hook_for(monkeypatch, emulator.connection("aksk")).test_connection()
    assert ok, message
    check_shape(message, emulator.sk)
    assert message.startswith(f"Connected to LakeFormation instance {emulator.instance_id}")
