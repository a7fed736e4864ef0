"""The hook's face in the Airflow UI: the connection test and its verdict's texts and the connection
form (for Airflow versions that read the form from the hook rather than from ``get_provider_info``).
"""

from __future__ import annotations

from typing import Any, Protocol

from airflow_provider_lakeformation.exceptions import (
    LakeFormationApiError,
    LakeFormationAuthError,
    LakeFormationConnectionError,
    LakeFormationNotFoundError,
    LakeFormationSpecError,
)
from airflow_provider_lakeformation.hooks._retry import quick_policy
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings, RetrySettings
from airflow_provider_lakeformation.models.jobs import Instance, JobType


class ConnectionProbe(Protocol):
    """What the connection test reads through the hook (``LakeFormationHook`` is one)."""

    @property
    def settings(self) -> ConnectionSettings: ...

    def get_instance(self, *, retry: RetrySettings | None) -> Instance: ...

    def list_jobs(self, job_type: JobType, *, limit: int, retry: RetrySettings | None) -> object: ...


def reply_facts(exc: LakeFormationApiError) -> str:
    """``HTTP 403, error_code X: error_msg (request_id R)``: the reply in one line."""
    code = f", error_code {exc.error_code}" if exc.error_code else ""
    msg = f": {exc.error_msg}" if exc.error_msg else ""
    return f"HTTP {exc.status_code}{code}{msg} (request_id {exc.request_id or 'unknown'})"


def auth_verdict(s: ConnectionSettings, exc: LakeFormationAuthError) -> str:
    """A rejected signature or token told apart from a permission problem (by the error code)."""
    if not exc.credentials_rejected:
        return (
            f"LakeFormation at {s.endpoint} accepted the credentials, but they lack permission to read "
            f"instance {s.instance_id}: grant the user LakeFormation access"
        )
    if s.auth_type is AuthType.AKSK:
        return (
            f"LakeFormation at {s.endpoint} rejected the AK/SK signature: check that the SK belongs to "
            "the AK (and the security token of a temporary AK/SK)"
        )
    what = "IAM user's token" if s.auth_type is AuthType.IAM else "token"
    return f"LakeFormation at {s.endpoint} rejected the {what}: check it is valid and not expired"


def _jobs_api_answers(hook: ConnectionProbe, quick: RetrySettings) -> bool:
    try:
        hook.list_jobs(JobType.METADATA_MIGRATION, limit=1, retry=quick)
    except Exception:
        return False
    return True


def connection_verdict(hook: ConnectionProbe) -> tuple[bool, str]:
    """Check the settings and reach the instance (falling back to listing jobs); never raises.

    The messages name no connection id: in the UI, Airflow tests a copy of the connection under a
    temporary id the user never saw. A failure reads in one or two lines: what is wrong, then the
    service's status, error code, message and request id.

    :param hook: the hook of the connection under test.
    :return: ``(ok, message)`` for the Airflow UI's "Test" button.
    """
    try:
        s = hook.settings
        quick = quick_policy(s.retry)
        instance = hook.get_instance(retry=quick)
    except LakeFormationSpecError as exc:
        return False, "Invalid connection: " + "; ".join(exc.problems)
    except LakeFormationNotFoundError as exc:
        if not _jobs_api_answers(hook, quick):
            return False, (
                f"LakeFormation instance {s.instance_id} not found at {s.endpoint}: check project_id "
                f"and instance_id.\n{reply_facts(exc)}"
            )
        return True, (
            f"Connected to LakeFormation at {s.endpoint}: the jobs API of instance {s.instance_id} "
            "answers (the instance itself could not be read)"
        )
    except LakeFormationAuthError as exc:
        return False, f"{auth_verdict(s, exc)}.\n{reply_facts(exc)}"
    except LakeFormationApiError as exc:
        return False, f"LakeFormation at {s.endpoint} refused the request.\n{reply_facts(exc)}"
    except LakeFormationConnectionError as exc:
        return False, f"Could not reach LakeFormation at {s.endpoint}: {exc}"
    except Exception as exc:
        return False, f"LakeFormation connection test failed: {type(exc).__name__}: {exc}"
    if instance.status and instance.status.upper() != "RUNNING":
        return (
            False,
            f"LakeFormation instance {instance.id} is {instance.status}, not RUNNING: it cannot run jobs",
        )
    label = f" ({instance.name})" if instance.name else ""
    return True, f"Connected to LakeFormation instance {instance.id}{label} at {s.endpoint}"


def ui_field_behaviour() -> dict[str, Any]:
    """Custom field behaviour of the connection form.

    :return: hidden fields, relabeling and placeholders.
    """
    from airflow_provider_lakeformation.get_provider_info import UI_FIELD_BEHAVIOUR

    return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}


def connection_form_widgets() -> dict[str, Any]:
    """Extra-field widgets of the connection form. ``verify`` is a text field (true/false/CA path):
    an unticked checkbox would silently disable TLS checks.

    :return: the widgets by extra-field name.
    """
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, PasswordField, StringField

    from airflow_provider_lakeformation.get_provider_info import CONN_FIELDS, TEXT_FIELD_HINTS

    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        schema = field.get("schema", {})
        types = schema.get("type", "string")
        types = [types] if isinstance(types, str) else list(types)
        label = lazy_gettext(field["label"])
        description = TEXT_FIELD_HINTS.get(name, field.get("description"))
        if field.get("sensitive") or schema.get("format") == "password":
            widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=description)
        elif "integer" in types:
            widgets[name] = IntegerField(label, widget=BS3TextFieldWidget(), description=description)
        else:
            widgets[name] = StringField(label, widget=BS3TextFieldWidget(), description=description)
    return widgets
