"""Provider registration read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_lakeformation import __version__

#: Connection form fields stored in the connection's ``extra`` (shown in the UI by Airflow).
CONN_FIELDS: dict[str, Any] = {
    "region": {
        "label": "Region",
        "schema": {"type": ["string", "null"]},
        "description": "e.g. cn-north-4; builds https://lakeformation.{region}.myhuaweicloud.com",
    },
    "project_id": {"label": "Project ID", "schema": {"type": ["string", "null"]}},
    "instance_id": {"label": "LakeFormation instance ID", "schema": {"type": ["string", "null"]}},
    "auth_type": {
        "label": "Auth type",
        "schema": {"type": ["string", "null"], "enum": ["aksk", "iam", "token", None]},
        "description": "aksk: Login = AK, Password = SK; iam: Login = IAM user, Password = its password; "
        "token: Password = X-Auth-Token",
    },
    "domain_name": {
        "label": "IAM account (domain) name",
        "schema": {"type": ["string", "null"]},
        "description": "for auth_type iam",
    },
    "project_name": {
        "label": "Project name (IAM scope)",
        "schema": {"type": ["string", "null"]},
        "description": "for auth_type iam when project_id is not given, e.g. cn-north-4",
    },
    "scheme": {
        "label": "Scheme",
        "schema": {"type": ["string", "null"], "enum": ["https", "http", None]},
        "description": "with a bare host in Host; default https",
    },
    "iam_endpoint": {
        "label": "IAM endpoint",
        "schema": {"type": ["string", "null"]},
        "description": "default https://iam.{region}.myhuaweicloud.com",
    },
    "security_token": {
        "label": "Security token (temporary AK/SK)",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "verify": {
        "label": "Verify TLS",
        "schema": {"type": ["boolean", "null"], "default": True},
        "description": "true (default), false, or use CA bundle",
    },
    "ca_bundle": {"label": "CA bundle path", "schema": {"type": ["string", "null"]}},
    "connect_timeout": {"label": "Connect timeout (s)", "schema": {"type": ["number", "null"]}},
    "read_timeout": {"label": "Read timeout (s)", "schema": {"type": ["number", "null"]}},
    "max_retries": {"label": "Max retries", "schema": {"type": ["integer", "null"]}},
    "retry_min_wait": {"label": "Retry min wait (s)", "schema": {"type": ["number", "null"]}},
    "retry_max_wait": {"label": "Retry max wait (s)", "schema": {"type": ["number", "null"]}},
    "retry_after_cap": {
        "label": "Retry-After cap (s)",
        "schema": {"type": ["number", "null"]},
        "description": "longest Retry-After honoured (default 120)",
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema"],
    "relabeling": {
        "host": "Endpoint URL (optional, overrides region)",
        "login": "AK or IAM user name",
        "password": "SK, IAM password or token",
    },
    "placeholders": {
        "host": "https://lakeformation.cn-north-4.myhuaweicloud.com",
        "login": "AK (aksk) / IAM user (iam)",
        "region": "cn-north-4",
        "auth_type": "aksk",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: package, integration, hooks, operators, sensors, triggers, links, connection."""
    return {
        "package-name": "airflow-provider-lakeformation",
        "name": "Huawei Cloud LakeFormation",
        "description": "Create, modify, start, stop and wait for Huawei Cloud LakeFormation jobs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Huawei Cloud LakeFormation",
                "external-doc-url": "https://support.huaweicloud.com/intl/en-us/lakeformation/index.html",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Huawei Cloud LakeFormation",
                "python-modules": ["airflow_provider_lakeformation.hooks.lakeformation"],
            }
        ],
        "operators": [
            {
                "integration-name": "Huawei Cloud LakeFormation",
                "python-modules": ["airflow_provider_lakeformation.operators.lakeformation"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Huawei Cloud LakeFormation",
                "python-modules": ["airflow_provider_lakeformation.sensors.lakeformation"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Huawei Cloud LakeFormation",
                "python-modules": [
                    "airflow_provider_lakeformation.triggers.lakeformation",
                    "airflow_provider_lakeformation.triggers.job_runs",
                ],
            }
        ],
        "extra-links": ["airflow_provider_lakeformation.links.lakeformation.LakeFormationJobLink"],
        "connection-types": [
            {
                "connection-type": "lakeformation",
                "hook-class-name": "airflow_provider_lakeformation.hooks.lakeformation.LakeFormationHook",
                "hook-name": "Huawei Cloud LakeFormation",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
