"""Templating of the create and update operators' ``job`` spec: the datasource secrets of the
rendered spec (also those inside URLs, and a JSON key given twice) are masked, and a string spec that
is not valid JSON is never shown."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.models.arguments import spec_mapping
from airflow_provider_lakeformation.models.jobs import WireModel
from airflow_provider_lakeformation.models.redaction import is_secret_name, url_credentials

if TYPE_CHECKING:
    import jinja2

    from airflow_provider_lakeformation._compat import Context

__all__: list[str] = []


def collect_secrets(value: Any) -> list[str]:
    """Every secret in a job spec (dict, JSON string or model): the values under secret-named keys
    (``password``, ``access_key``, ``secret_key``... :func:`is_secret_name`) and the credentials
    written inside any URL (:func:`url_credentials`); in a JSON string, a key given twice yields both
    values.

    :param value: the spec, or a part of it.
    :return: the secret values found.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value, object_pairs_hook=_Pairs)
        except ValueError:
            return list(url_credentials(value)[1])
    if isinstance(value, WireModel):
        value = value.to_wire()
    elif isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    pairs = value if isinstance(value, _Pairs) else value.items() if isinstance(value, Mapping) else None
    found: list[str] = []
    if pairs is not None:
        for key, item in pairs:
            if isinstance(key, str) and is_secret_name(key) and isinstance(item, str) and item:
                found.append(item)
            else:
                found.extend(collect_secrets(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(collect_secrets(item))
    return found


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its ``(key, value)`` pairs: a key given twice keeps both values."""


def mask_job_secrets(job: Any) -> None:
    """Register the datasource secrets of a (rendered) job spec with Airflow's secrets masker; for a
    JSON-string spec also the secrets as written in its text (``\\"`` for ``"``), which is what the
    rendered field shows."""
    from airflow_provider_lakeformation._compat import mask_secret

    for secret in collect_secrets(job):
        mask_secret(secret)
        if isinstance(job, str):
            escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
            if escaped != secret:
                mask_secret(escaped)


#: What the rendered ``job`` field shows when a string spec is not valid JSON: its secrets cannot be
#: found to mask them, so the text itself is never shown (the task then fails naming the rule).
UNREADABLE_SPEC = "<not shown: the rendered job spec is not valid JSON and may hold a secret>"


def _unreadable_json(job: Any) -> bool:
    if not isinstance(job, str):
        return False
    try:
        json.loads(job)
    except ValueError:
        return True
    return False


class _JobSpecTemplatingMixin:
    """Masks the datasource secrets of the rendered ``job`` spec in logs. A string spec that is not
    valid JSON (e.g. a password with a ``"`` or ``\\`` pasted into a JSON template unescaped) is
    replaced by :data:`UNREADABLE_SPEC`, so neither the rendered field nor a log shows it."""

    job: Any

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]
        if _unreadable_json(self.job):
            self.job = UNREADABLE_SPEC
        mask_job_secrets(self.job)

    def spec(self) -> dict[str, Any]:
        """The rendered spec as a dict (:func:`spec_mapping`), never echoing unreadable text."""
        if _unreadable_json(self.job):
            self.job = UNREADABLE_SPEC
            raise LakeFormationSpecError(
                "job spec",
                [
                    "job: a string spec must be a JSON object; this one is not valid JSON (not shown: it "
                    "may hold a secret): build it as a dict, or escape values such as passwords with "
                    "the tojson filter"
                ],
            )
        return spec_mapping(self.job)
