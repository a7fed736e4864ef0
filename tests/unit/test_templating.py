"""Job specs are rendered like any template field, validated afterwards, and their secrets masked."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import redact

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.models import CreateJobRequest
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationUpdateJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

PASSWORD = "TplPassw0rd-SECRET-4471"
ACCESS_KEY = "TplAccessKey-SECRET-1187"
SECRET_KEY = "TplSecretKey-SECRET-9920"


def _template() -> dict[str, Any]:
    return {
        "name": "migrate_{{ ds_nodash }}",
        "description": "run of {{ ds }}",
        "type": "METADATA_MIGRATION",
        "parameter": {
            "metadata_migration_parameter": {
                "datasource_type": "OPEN_FOR_MYSQL",
                "datasource_parameter": {
                    "jdbc_url": "jdbc:mysql://{{ conn.hive.host }}:3306/hive",
                    "username": "{{ conn.hive.login }}",
                    "password": "{{ conn.hive.password }}",
                    "access_key": "{{ conn.hive.extra_dejson.ak }}",
                    "secret_key": "{{ conn.hive.extra_dejson.sk }}",
                },
                "source_catalog": "hive",
                "target_catalog": "{{ params.catalog }}",
                "conflict_strategy": "UPSERT",
                "log_location": "obs://bucket/logs/{{ ds }}/",
                "sync_objects": ["DATABASE", "TABLE"],
                "locations": [],
            }
        },
    }


def _context() -> dict[str, Any]:
    hive = SimpleNamespace(
        host="10.1.2.3",
        login="hiveuser",
        password=PASSWORD,
        extra_dejson={"ak": ACCESS_KEY, "sk": SECRET_KEY},
    )
    return {
        "ds": "2024-05-01",
        "ds_nodash": "20240501",
        "conn": SimpleNamespace(hive=hive),
        "params": {"catalog": "lf_catalog"},
    }


def test_template_fields_declared() -> None:
    assert set(LakeFormationCreateJobOperator.template_fields) >= {"job", "project_id", "instance_id"}
    assert LakeFormationCreateJobOperator.template_fields_renderers == {"job": "json"}
    assert set(LakeFormationUpdateJobOperator.template_fields) >= {"job_id", "job"}
    assert LakeFormationUpdateJobOperator.template_fields_renderers == {"job": "json"}
    assert set(LakeFormationStartJobOperator.template_fields) >= {"job_id", "mode", "cascade"}
    for cls in (LakeFormationStopJobOperator, LakeFormationDeleteJobOperator, LakeFormationJobSensor):
        assert "job_id" in cls.template_fields


def test_job_spec_rendered_and_secrets_masked() -> None:
    op = LakeFormationCreateJobOperator(task_id="create", job=_template())
    op.render_template_fields(_context())
    spec = op.job
    assert isinstance(spec, dict)
    assert spec["name"] == "migrate_20240501"
    block = spec["parameter"]["metadata_migration_parameter"]
    assert block["log_location"] == "obs://bucket/logs/2024-05-01/"
    assert block["target_catalog"] == "lf_catalog"
    ds = block["datasource_parameter"]
    assert ds["jdbc_url"] == "jdbc:mysql://10.1.2.3:3306/hive"
    assert (ds["password"], ds["access_key"], ds["secret_key"]) == (PASSWORD, ACCESS_KEY, SECRET_KEY)
    # the rendered values are now known secrets: any log line or text shows *** instead
    for secret in (PASSWORD, ACCESS_KEY, SECRET_KEY):
        assert secret not in redact(f"connecting with {secret} now")
    # the rendered-field view Airflow stores for the UI hides them too
    shown = json.dumps(redact(spec, "job"))
    for secret in (PASSWORD, ACCESS_KEY, SECRET_KEY):
        assert secret not in shown
    assert "migrate_20240501" in shown
    # and the rendered spec is a valid request
    request = CreateJobRequest.model_validate(spec, context={"default_instance_id": "inst"})
    assert request.parameter.metadata_migration_parameter is not None
    assert request.parameter.metadata_migration_parameter.instance_id == "inst"


def test_update_operator_masks_rendered_secrets() -> None:
    secret = "UpdPassw0rd-SECRET-5521"
    tpl = _template()
    tpl["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["password"] = "{{ pw }}"
    op = LakeFormationUpdateJobOperator(task_id="update", job_id="{{ job }}", job=tpl)
    op.render_template_fields({**_context(), "pw": secret, "job": "job-123"})
    assert op.job_id == "job-123"
    assert secret not in redact(f"x {secret} y")


def test_model_spec_passes_through_rendering() -> None:
    secret = "ModelPassw0rd-SECRET-3310"
    spec = _template()
    spec["name"] = "model_spec_job"
    ds = spec["parameter"]["metadata_migration_parameter"]["datasource_parameter"]
    ds.update(username="hiveuser", password=secret, access_key="ak-plain", secret_key="sk-plain")
    request = CreateJobRequest.model_validate(spec, context={"default_instance_id": "inst"})
    op = LakeFormationCreateJobOperator(task_id="create", job=request)
    op.render_template_fields(_context())
    assert op.job is request
    assert secret not in redact(f"leak {secret}")
    assert secret not in repr(op.job)


def test_start_operator_mode_and_cascade_templated() -> None:
    op = LakeFormationStartJobOperator(
        task_id="start", job_id="{{ params.job }}", mode="{{ params.mode }}", cascade="{{ params.cascade }}"
    )
    op.render_template_fields({"params": {"job": "j-9", "mode": "comparison", "cascade": True}})
    assert op.job_id == "j-9"
    assert op._start_args() == ("COMPARISON", True)


def test_bad_mode_is_a_spec_error() -> None:
    op = LakeFormationStartJobOperator(task_id="start", job_id="j", mode="FAST")
    with pytest.raises(LakeFormationSpecError, match="mode: must be one of NORMAL, COMPARISON"):
        op._start_args()


def test_if_exists_is_checked_at_parse_time() -> None:
    with pytest.raises(LakeFormationSpecError, match="if_exists"):
        LakeFormationCreateJobOperator(task_id="c", job={}, if_exists="replace")  # type: ignore[arg-type]


def test_unmaskable_secret_is_reported_by_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rendered password with a lone surrogate (not UTF-8): masking must not fail the task with
    the masker's UnicodeEncodeError (as on Airflow 2.11); validation reports the field instead, before
    any HTTP call (the connection points at a closed port)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_LF_UNMASKABLE",
        json.dumps(
            {
                "conn_type": "lakeformation",
                "host": "http://127.0.0.1:9",
                "password": "token",
                "extra": {"auth_type": "token", "project_id": "p" * 32, "instance_id": "inst"},
            }
        ),
    )
    tpl = _template()
    tpl["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["password"] = "{{ pw }}"
    op = LakeFormationCreateJobOperator(task_id="create", job=tpl, lakeformation_conn_id="lf_unmaskable")
    context = {**_context(), "pw": "pw-\udcff-SECRET"}
    op.render_template_fields(context)  # masking never raises
    with pytest.raises(LakeFormationSpecError) as info:
        op.execute(context)  # type: ignore[arg-type]
    message = str(info.value)
    assert "password" in message
    assert "UTF-8" in message or "valid string" in message
    assert "SECRET" not in message
