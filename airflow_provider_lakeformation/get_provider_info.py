"""Provider registration read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_lakeformation import __version__

#: Connection form fields stored in the connection's ``extra`` (shown in the UI by Airflow).
#:
#: Airflow 3.2+ renders these from here (``conn-fields``): a ``string``/``integer``/``number`` schema is
#: a text or number input, ``boolean`` a switch, ``enum`` a dropdown, ``format: password`` a masked
#: input; a type without ``"null"`` is marked required; ``default`` is preselected and saved. It
#: applies ``ui-field-behaviour`` placeholders to the standard fields only, so every hint for an extra
#: field lives in its ``description`` (Airflow 2.11 and 3.0/3.1 take the same labels and descriptions
#: through ``LakeFormationHook.get_connection_form_widgets``). Enums list real values only: a
#: ``None`` would be offered, and preselected, as the word "null".
CONN_FIELDS: dict[str, Any] = {
    "region": {
        "label": "Region",
        "schema": {"type": ["string", "null"]},
        "description": "e.g. cn-north-4: the endpoint is then "
        "https://lakeformation.cn-north-4.myhuaweicloud.com (not needed when Endpoint URL is set)",
    },
    "project_id": {
        "label": "Project ID",
        "schema": {"type": "string", "minLength": 1},
        "description": "The project the instance belongs to (My Credentials > API Credentials)",
    },
    "instance_id": {
        "label": "Instance ID",
        "schema": {"type": "string", "minLength": 1},
        "description": "The LakeFormation instance that runs the jobs",
    },
    "auth_type": {
        "label": "Auth type",
        "schema": {"type": ["string", "null"], "enum": ["aksk", "iam", "token"], "default": "aksk"},
        "description": "aksk (default): Login = AK, Password = SK. iam: Login = IAM user, Password = its "
        "password, plus IAM account name. token: Password = an X-Auth-Token",
    },
    "domain_name": {
        "label": "IAM account name",
        "schema": {"type": ["string", "null"]},
        "description": "The account (domain) of the IAM user; required for auth type iam",
    },
    "project_name": {
        "label": "IAM project name",
        "schema": {"type": ["string", "null"]},
        "description": "Token scope for auth type iam when Project ID is empty, e.g. cn-north-4",
    },
    "scheme": {
        "label": "Scheme",
        "schema": {"type": ["string", "null"], "enum": ["https", "http"], "default": "https"},
        "description": "Used when Endpoint URL is a bare host name (host + Port); a URL keeps its own",
    },
    "iam_endpoint": {
        "label": "IAM endpoint",
        "schema": {"type": ["string", "null"]},
        "description": "For auth type iam; default https://iam.{region}.myhuaweicloud.com",
    },
    "security_token": {
        "label": "Security token",
        "schema": {"type": ["string", "null"], "format": "password"},
        "description": "Only with a temporary AK/SK (auth type aksk)",
    },
    "verify": {
        "label": "Verify TLS",
        "schema": {"type": ["boolean", "null"], "default": True},
        "description": "On (default): check the server's certificate. For a private CA keep it on and set "
        "CA bundle path; turn it off only for a test endpoint",
    },
    "ca_bundle": {
        "label": "CA bundle path",
        "schema": {"type": ["string", "null"]},
        "description": "PEM file of a private CA, on the workers and the triggerer, e.g. /etc/ssl/my-ca.pem",
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "schema": {"type": ["number", "null"]},
        "description": "default 10",
    },
    "read_timeout": {
        "label": "Read timeout (s)",
        "schema": {"type": ["number", "null"]},
        "description": "default 60",
    },
    "max_retries": {
        "label": "Max retries",
        "schema": {"type": ["integer", "null"]},
        "description": "retries of a transient error (429, 5xx, network); default 5",
    },
    "retry_min_wait": {
        "label": "Retry min wait (s)",
        "schema": {"type": ["number", "null"]},
        "description": "first backoff; default 1",
    },
    "retry_max_wait": {
        "label": "Retry max wait (s)",
        "schema": {"type": ["number", "null"]},
        "description": "longest backoff; default 30",
    },
    "allow_insecure_transport": {
        "label": "Allow insecure transport",
        "schema": {"type": ["boolean", "null"], "default": False},
        "description": "accept an http:// IAM endpoint next to an https API host or on another machine "
        "(test setups only)",
    },
    "max_response_bytes": {
        "label": "Max reply size (bytes)",
        "schema": {"type": ["integer", "null"]},
        "description": "cap of a decompressed reply body (default 8388608)",
    },
    "retry_after_cap": {
        "label": "Retry-After cap (s)",
        "schema": {"type": ["number", "null"]},
        "description": "longest Retry-After honoured; default 120",
    },
}

#: Hints for the Airflow lines that render every extra field as a text input (2.11 and 3.0/3.1 read
#: ``LakeFormationHook.get_connection_form_widgets``): there a switch or dropdown is a text box, so
#: its hint names the values to type.
TEXT_FIELD_HINTS: dict[str, str] = {
    "verify": "true (default) or false. For a private CA keep true and set CA bundle path",
    "scheme": "https (default) or http; used when Endpoint URL is a bare host name (host + Port)",
    "allow_insecure_transport": "false (default) or true; true accepts an http:// IAM endpoint next to "
    "an https API host or on another machine (test setups only)",
}

#: Relabelled standard fields and their placeholders (Airflow applies placeholders to these only).
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema"],
    "relabeling": {
        "host": "Endpoint URL",
        "login": "AK or IAM user",
        "password": "SK, IAM password or token",
    },
    "placeholders": {
        "host": "optional, overrides Region: https://host, or a host name with Port and Scheme",
        "port": "443 for https; keep a port set (the Test button of Airflow 3.3 needs one)",
        "login": "AK (aksk) or IAM user name (iam); empty for token",
        "password": "SK (aksk), the IAM user's password (iam) or an X-Auth-Token (token)",
    },
}


def _option(description: str, kind: str, default: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "version_added": "0.1.0",
        "type": kind,
        "example": example,
        "default": default,
    }


#: The ``[lakeformation]`` options (``airflow config list`` shows them; each is read in ``config.py``).
CONFIG: dict[str, Any] = {
    "lakeformation": {
        "description": "Options of the Huawei Cloud LakeFormation provider.",
        "options": {
            "min_poll_interval": _option(
                "The shortest poll interval (seconds) any wait of the provider accepts: operators, "
                "sensor and triggers refuse a shorter one. Never below 0.01.",
                "float",
                "1",
                "5",
            ),
            "min_deferral_seconds": _option(
                "Default of the operators' and the sensor's min_deferral_seconds: seconds after a "
                "deferral before the trigger's event is sent (Airflow's deferral race), 0 to 300.",
                "float",
                "10",
                "0",
            ),
            "watcher_poll_interval": _option(
                "Default poll interval (seconds) of LakeFormationJobRunTrigger, the asset run watcher.",
                "float",
                "60",
                "300",
            ),
            "status_feed": _option(
                "Whether the job triggers of one connection, project and instance in a triggerer share "
                "one status feed (a few list requests per interval instead of one request per job; on "
                "Airflow 3.3+ the run watchers share their polls too). False: each polls alone.",
                "boolean",
                "True",
                "False",
            ),
        },
    }
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
        "config": CONFIG,
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
