"""The connection form metadata Airflow reads from ``get_provider_info()`` (what the UI renders).

The browser test (tests/e2e/test_ui.py) shows the rendered form; these check the rules behind it
fast: no ``null`` offered, defaults that are real values and match what the hook does, hints where
Airflow 3.3 shows them, required ids.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.get_provider_info import (
    CONN_FIELDS,
    TEXT_FIELD_HINTS,
    UI_FIELD_BEHAVIOUR,
    get_provider_info,
)
from airflow_provider_lakeformation.hooks._settings import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    AuthType,
    ConnectionSettings,
    RetrySettings,
)

STANDARD_FIELDS = {"host", "port", "login", "password", "schema", "description", "extra"}


def _types(field: dict[str, Any]) -> list[str]:
    kind = field["schema"]["type"]
    return [kind] if isinstance(kind, str) else list(kind)


def test_connection_type_carries_the_form() -> None:
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "lakeformation"
    assert conn_type["conn-fields"] is CONN_FIELDS
    assert conn_type["ui-field-behaviour"] is UI_FIELD_BEHAVIOUR


@pytest.mark.parametrize("name", sorted(CONN_FIELDS))
def test_every_field_has_a_label_and_a_hint(name: str) -> None:
    field = CONN_FIELDS[name]
    assert field["label"].strip()
    assert len(field["label"]) <= 24, "long labels wrap and misalign the input"
    assert field.get("description", "").strip(), f"{name}: the form shows hints only as descriptions"


@pytest.mark.parametrize("name", sorted(n for n, f in CONN_FIELDS.items() if "enum" in f["schema"]))
def test_enums_offer_real_values_with_a_real_default(name: str) -> None:
    schema = CONN_FIELDS[name]["schema"]
    assert None not in schema["enum"], "Airflow shows None as the option 'null'"
    assert all(isinstance(v, str) and v for v in schema["enum"])
    assert schema["default"] in schema["enum"]


def test_enum_values_are_the_ones_the_hook_accepts() -> None:
    assert CONN_FIELDS["auth_type"]["schema"]["enum"] == [a.value for a in AuthType]
    assert CONN_FIELDS["scheme"]["schema"]["enum"] == ["https", "http"]


def test_form_defaults_are_what_the_hook_does_without_them() -> None:
    """A saved form stores its defaults; they must not change behaviour (AK/SK given)."""
    base = {"project_id": "p", "instance_id": "i"}
    implicit = ConnectionSettings.from_fields(host="lf.example", login="AK", password="SK", extra=base)
    stored_defaults = {
        name: field["schema"]["default"]
        for name, field in CONN_FIELDS.items()
        if "default" in field["schema"]
    }
    explicit = ConnectionSettings.from_fields(
        host="lf.example", login="AK", password="SK", extra={**base, **stored_defaults}
    )
    assert explicit == implicit
    assert implicit.verify is True
    assert implicit.endpoint.startswith("https://")


def test_numeric_hints_state_the_real_defaults() -> None:
    retry = RetrySettings()
    real = {
        "connect_timeout": DEFAULT_CONNECT_TIMEOUT,
        "read_timeout": DEFAULT_READ_TIMEOUT,
        "max_retries": retry.max_retries,
        "retry_min_wait": retry.min_wait,
        "retry_max_wait": retry.max_wait,
        "retry_after_cap": retry.retry_after_cap,
    }
    for name, value in real.items():
        match = re.search(r"default (\d+(?:\.\d+)?)", CONN_FIELDS[name]["description"])
        assert match, name
        assert float(match[1]) == value, name


def test_ids_required_and_everything_else_optional() -> None:
    required = {name for name, field in CONN_FIELDS.items() if "null" not in _types(field)}
    assert required == {"project_id", "instance_id"}
    for name in required:
        assert CONN_FIELDS[name]["schema"].get("minLength") == 1


def test_secrets_are_password_fields() -> None:
    assert CONN_FIELDS["security_token"]["schema"]["format"] == "password"
    assert "password" not in UI_FIELD_BEHAVIOUR["hidden-fields"]


def test_verify_is_a_switch_on_by_default_with_switch_help() -> None:
    verify = CONN_FIELDS["verify"]
    assert _types(verify) == ["boolean", "null"]
    assert verify["schema"]["default"] is True
    assert "true (default), false" not in verify["description"]


def test_placeholders_and_relabels_only_for_standard_fields() -> None:
    """Airflow 3.3 ignores placeholders of extra fields: their hints live in descriptions."""
    assert set(UI_FIELD_BEHAVIOUR["placeholders"]) <= STANDARD_FIELDS
    assert set(UI_FIELD_BEHAVIOUR["relabeling"]) <= STANDARD_FIELDS
    assert UI_FIELD_BEHAVIOUR["relabeling"]["host"] == "Endpoint URL"
    assert "port" in UI_FIELD_BEHAVIOUR["placeholders"]


def test_text_field_hints_cover_the_non_text_inputs() -> None:
    """Airflow 2.11/3.1 render every extra as a text box: switches and dropdowns name their values."""
    non_text = {n for n, f in CONN_FIELDS.items() if "enum" in f["schema"] or "boolean" in _types(f)}
    assert set(TEXT_FIELD_HINTS) | {"auth_type"} == non_text  # auth_type's hint already lists them
    assert "true (default) or false" in TEXT_FIELD_HINTS["verify"]
    assert "https (default) or http" in TEXT_FIELD_HINTS["scheme"]
    for value in CONN_FIELDS["auth_type"]["schema"]["enum"]:
        assert value in CONN_FIELDS["auth_type"]["description"]


def test_provider_info_follows_airflows_schema() -> None:
    """Airflow validates provider info against this schema when it loads providers."""
    import importlib.resources

    import jsonschema

    schema_file = importlib.resources.files("airflow").joinpath("provider_info.schema.json")
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_config_options_are_the_ones_the_provider_reads() -> None:
    """Every ``[lakeformation]`` option the package reads is declared (``airflow config list``), and
    each declared default is what the code falls back to."""
    import airflow_provider_lakeformation as package
    from airflow_provider_lakeformation.models.arguments import MIN_DEFERRAL_SECONDS, MIN_POLL_INTERVAL
    from airflow_provider_lakeformation.triggers.job_runs import DEFAULT_POLL_INTERVAL

    read = set()
    for path in Path(package.__file__).parent.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        read |= set(re.findall(r'conf\.get\w*\(\s*"lakeformation",\s*"(\w+)"', source))
    options = get_provider_info()["config"]["lakeformation"]["options"]
    assert read == set(options)
    assert float(options["min_poll_interval"]["default"]) == MIN_POLL_INTERVAL
    assert float(options["min_deferral_seconds"]["default"]) == MIN_DEFERRAL_SECONDS
    assert options["status_feed"]["default"] == "True"
    assert float(options["watcher_poll_interval"]["default"]) == DEFAULT_POLL_INTERVAL
