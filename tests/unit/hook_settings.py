"""Connection settings and credentials shared by the sync and async hook unit tests."""

from __future__ import annotations

from typing import Any

from airflow_provider_lakeformation.hooks.lakeformation import ConnectionSettings

AK = "AKIDEXAMPLE0001"
SK = "sk-very-secret-0001"
TOKEN = "tok-very-secret-0001"
IAM_PASSWORD = "iam-pw-very-secret-0001"


def conn_settings(endpoint: str, iam_endpoint: str, auth: str, **extra: Any) -> ConnectionSettings:
    """Settings for project ``proj1`` / instance ``inst1`` with ``aksk``, ``token`` or ``iam`` auth
    and fast retries (3 retries, 0.5-4 s waits); ``extra`` overrides connection extras."""
    login: str | None = AK
    password: str | None = SK
    ex: dict[str, Any] = {
        "project_id": "proj1",
        "instance_id": "inst1",
        "max_retries": 3,
        "retry_min_wait": 0.5,
        "retry_max_wait": 4,
        **extra,
    }
    if auth == "token":
        login, password = None, TOKEN
    elif auth == "iam":
        login, password = "alice", IAM_PASSWORD
        ex.update({"auth_type": "iam", "domain_name": "acct", "iam_endpoint": iam_endpoint})
    return ConnectionSettings.from_fields(
        conn_id="lf", host=endpoint, login=login, password=password, extra=ex
    )
