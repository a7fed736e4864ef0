"""Models: every request rule with a failing and a passing case, response tolerance, secrecy."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.models import (
    FAILED_STATUSES,
    IN_PROGRESS_STATUSES,
    SECRET_FIELDS,
    SUCCESSFUL_STATUSES,
    TERMINAL_STATUSES,
    CreateJobRequest,
    DataSourceParameter,
    ErrorBody,
    IamTokenBody,
    Instance,
    InstancePage,
    Job,
    JobLog,
    JobPage,
    JobParameter,
    JobStatus,
    JobType,
    LocationReplaceRule,
    MetaDataDiscoveryParameter,
    MetaDataMigrationParameter,
    PermissionMigrationParameter,
    Principal,
    UpdateJobRequest,
    failed_statuses,
    parse_status,
    successful_statuses,
)
from airflow_provider_lakeformation.models.status import known_status

DS_PASSWORD = "ds-Pa55word-zz"
DS_AK = "LTAI-access-key-qq"
DS_SK = "aliyun-secret-key-ww"
SECRETS = (DS_PASSWORD, DS_AK, DS_SK)


def migration_block(**over: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "datasource_type": "ALIYUN_DLF",
        "datasource_parameter": {
            "jdbc_url": "jdbc:mysql://host:3306/db",
            "username": "root",
            "password": DS_PASSWORD,
            "endpoint": "dlf.example.com",
            "access_key": DS_AK,
            "secret_key": DS_SK,
            "subnet_ip": "127.0.0.1",
        },
        "source_catalog": "sourceCatalog1",
        "target_catalog": "targetCatalog1",
        "conflict_strategy": "UPSERT",
        "log_location": "obs://logStore/2023",
        "sync_objects": ["DATABASE", "TABLE"],
        "locations": [{"key": "test/test1", "value": "test2/db"}],
        "instance_id": "inst-1",
        "network_type": "EIP",
    }
    block.update(over)
    return block


def permission_block(**over: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "location": "obs://location/uri/",
        "file_name": "policies.json",
        "log_location": "obs://logStore/2023",
        "policy_type": "RANGER",
        "instance_id": "inst-1",
        "ranger_permission_migration_principal_relas": {"user_to": "IAM_USER", "user_prefix": "r_"},
    }
    block.update(over)
    return block


def discovery_block(**over: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "data_location": "obs://bucket/data",
        "target_catalog": "hive",
        "target_database": "db1",
        "conflict_strategy": "UPDATE",
        "file_discovery_type": "PARQUET",
        "log_location": "obs://logStore/2023",
        "instance_id": "inst-1",
    }
    block.update(over)
    return block


def create_spec(job_type: str = "METADATA_MIGRATION", **over: Any) -> dict[str, Any]:
    blocks = {
        "METADATA_MIGRATION": ("metadata_migration_parameter", migration_block()),
        "PERMISSION_MIGRATION": ("permission_migration_parameter", permission_block()),
        "METADATA_DISCOVERY": ("metadata_discovery_parameter", discovery_block()),
    }
    key, block = blocks[job_type]
    spec: dict[str, Any] = {
        "name": "test_job_1",
        "description": "d",
        "type": job_type,
        "parameter": {key: block},
    }
    spec.update(over)
    return spec


def errors_of(exc: ValidationError) -> str:
    return str(LakeFormationSpecError.from_validation_error("job spec", exc))


# ---------------------------------------------------------------------------- field rules

# (model, valid base, field, bad value, good value, words expected in the error)
FIELD_RULES: list[tuple[Any, dict[str, Any], str, Any, Any, str]] = [
    (CreateJobRequest, create_spec(), "name", "abc", "abcd", "at least 4"),
    (CreateJobRequest, create_spec(), "name", "x" * 256, "x" * 255, "at most 255"),
    (CreateJobRequest, create_spec(), "name", "bad-name", "good_name_1", "pattern"),
    (CreateJobRequest, create_spec(), "description", "d" * 4001, "d" * 4000, "at most 4000"),
    (CreateJobRequest, create_spec(), "description", "bad \ud800", "ok é", "UTF-8|valid string"),
    (CreateJobRequest, create_spec(), "type", "NOT_A_TYPE", "METADATA_MIGRATION", "type"),
    (MetaDataMigrationParameter, migration_block(), "source_catalog", "", "c1", "at least 1"),
    (MetaDataMigrationParameter, migration_block(), "target_catalog", "", "c2", "at least 1"),
    (MetaDataMigrationParameter, migration_block(), "log_location", "", "obs://x", "at least 1"),
    (
        MetaDataMigrationParameter,
        migration_block(),
        "datasource_type",
        "ORACLE",
        "OPEN_FOR_MYSQL",
        "datasource",
    ),
    (MetaDataMigrationParameter, migration_block(), "conflict_strategy", "MERGE", "UPDATE", "UPSERT"),
    (MetaDataMigrationParameter, migration_block(), "sync_objects", [], ["TABLE"], "at least 1"),
    (
        MetaDataMigrationParameter,
        migration_block(),
        "sync_objects",
        ["string"],
        ["PARTITION"],
        "sync_objects",
    ),
    (
        MetaDataMigrationParameter,
        migration_block(),
        "locations",
        [{"key": "a", "value": "b"}] * 21,
        [{"key": "a", "value": "b"}] * 20,
        "at most 20",
    ),
    (MetaDataMigrationParameter, migration_block(), "network_type", "VPN", "VPC_PEERING", "network_type"),
    (MetaDataMigrationParameter, migration_block(), "ignore_obs_checked", "maybe", False, "boolean"),
    (
        MetaDataMigrationParameter,
        migration_block(),
        "default_owner",
        "x\udfff",
        "owner",
        "UTF-8|valid string",
    ),
    (PermissionMigrationParameter, permission_block(), "location", "", "obs://l", "at least 1"),
    (
        PermissionMigrationParameter,
        permission_block(),
        "file_name",
        "a/b.json",
        "a_b.json",
        "must not contain",
    ),
    (PermissionMigrationParameter, permission_block(), "file_name", "a?b", "ab", "must not contain"),
    (PermissionMigrationParameter, permission_block(), "file_name", "", "f", "at least 1"),
    (PermissionMigrationParameter, permission_block(), "policy_type", "IAM", "LAKEFORMATION", "policy_type"),
    (
        PermissionMigrationParameter,
        permission_block(),
        "ranger_permission_migration_principal_relas",
        {"user_to": "ADMIN"},
        {"role_to": "ROLE"},
        "user_to",
    ),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "file_sample_rate",
        101,
        100,
        "less than or equal to 100",
    ),
    (MetaDataDiscoveryParameter, discovery_block(), "file_sample_rate", -1, 0, "greater than or equal to 0"),
    (MetaDataDiscoveryParameter, discovery_block(), "table_depth", -1, 3, "greater than or equal to 0"),
    (MetaDataDiscoveryParameter, discovery_block(), "file_sample_rate", True, 1, "valid integer"),
    (MetaDataDiscoveryParameter, discovery_block(), "file_sample_rate", "50", 50, "valid integer"),
    (MetaDataDiscoveryParameter, discovery_block(), "table_depth", False, 0, "valid integer"),
    (MetaDataDiscoveryParameter, discovery_block(), "header", "false", False, "valid boolean"),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "file_discovery_type",
        "XML",
        "TEXT",
        "file_discovery_type",
    ),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "conflict_strategy",
        "MERGE",
        "INSERT",
        "conflict_strategy",
    ),
    (MetaDataDiscoveryParameter, discovery_block(), "quote", "BACKTICK", "SINGLE_QUOTE", "quote"),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "rediscovery_policy",
        "SOME",
        "FULL_DISCOVERY",
        "rediscovery",
    ),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "execute_strategy",
        "MANUAL",
        "MANNUAL",
        "execute_strategy",
    ),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "principals",
        [{"principal_type": "USER", "principal_source": "IAM", "principal_name": "bad name"}],
        [{"principal_type": "USER", "principal_source": "IAM", "principal_name": "alice.b-1"}],
        "pattern",
    ),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "principals",
        [{"principal_type": "USER", "principal_source": "IAM", "principal_name": "a" * 50}],
        [{"principal_type": "USER", "principal_source": "IAM", "principal_name": "a" * 49}],
        "at most 49",
    ),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "principals",
        [{"principal_type": "ADMIN", "principal_source": "IAM", "principal_name": "a"}],
        [{"principal_type": "ROLE", "principal_source": "LDAP", "principal_name": "a"}],
        "principal_type",
    ),
    (
        MetaDataDiscoveryParameter,
        discovery_block(),
        "principals",
        [{"principal_type": "USER", "principal_source": "AD", "principal_name": "a"}],
        [{"principal_type": "USER", "principal_source": "AGENTTENANT", "principal_name": "a"}],
        "principal_source",
    ),
    (DataSourceParameter, {}, "username", "ro-ot", "root1", "pattern"),
    (DataSourceParameter, {}, "username", "u" * 256, "u" * 255, "at most 255"),
    (DataSourceParameter, {}, "password", "bad\ud800", "fine", "UTF-8|valid string"),
    (DataSourceParameter, {}, "secret_key", "bad\ud800", "fine", "UTF-8|valid string"),
    (LocationReplaceRule, {"key": "a", "value": "b"}, "key", "", "k", "at least 1"),
    (LocationReplaceRule, {"key": "a", "value": "b"}, "value", "", "v", "at least 1"),
    (JobParameter, {}, "smn_notify_types", ["RUNNING"], ["SUCCESS", "FAILED"], "smn_notify_types"),
]


def _with(base: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data[field] = value
    return data


@pytest.mark.parametrize(
    ("model", "base", "field", "bad", "good", "words"),
    FIELD_RULES,
    ids=[f"{m.__name__}.{f}-{i}" for i, (m, _, f, *_rest) in enumerate(FIELD_RULES)],
)
def test_field_rule(model: Any, base: dict[str, Any], field: str, bad: Any, good: Any, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(_with(base, field, bad))
    text = errors_of(info.value)
    assert field in text
    assert any(word.lower() in text.lower() for word in words.split("|"))
    model.model_validate(_with(base, field, good))


@pytest.mark.parametrize(
    ("model", "base", "field"),
    [
        (CreateJobRequest, create_spec(), "name"),
        (CreateJobRequest, create_spec(), "type"),
        (CreateJobRequest, create_spec(), "parameter"),
        (MetaDataMigrationParameter, migration_block(), "datasource_parameter"),
        (MetaDataMigrationParameter, migration_block(), "instance_id"),
        (MetaDataMigrationParameter, migration_block(), "locations"),
        (PermissionMigrationParameter, permission_block(), "log_location"),
        (PermissionMigrationParameter, permission_block(), "policy_type"),
        (MetaDataDiscoveryParameter, discovery_block(), "target_database"),
        (MetaDataDiscoveryParameter, discovery_block(), "file_discovery_type"),
    ],
)
def test_required_fields(model: Any, base: dict[str, Any], field: str) -> None:
    data = copy.deepcopy(base)
    del data[field]
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    assert f"{field}: Field required" in errors_of(info.value)
    model.model_validate(base)


@pytest.mark.parametrize("model", [CreateJobRequest, UpdateJobRequest, DataSourceParameter, Principal])
def test_unknown_request_fields_are_rejected(model: Any) -> None:
    base = {
        CreateJobRequest: create_spec(),
        UpdateJobRequest: {k: v for k, v in create_spec().items() if k != "type"},
        DataSourceParameter: {},
        Principal: {"principal_type": "USER", "principal_source": "IAM", "principal_name": "a"},
    }[model]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**base, "nmae": "typo"})
    model.model_validate(base)


# ------------------------------------------------------------------------- parameter blocks


@pytest.mark.parametrize("job_type", [t.value for t in JobType])
def test_parameter_block_must_match_type(job_type: str) -> None:
    CreateJobRequest.model_validate(create_spec(job_type))
    other = next(t.value for t in JobType if t.value != job_type)
    wrong = create_spec(job_type, parameter=create_spec(other)["parameter"])
    with pytest.raises(ValidationError) as info:
        CreateJobRequest.model_validate(wrong)
    assert f"a {job_type} job needs parameter." in errors_of(info.value)


def test_extra_blocks_are_kept_and_no_block_is_rejected() -> None:
    spec = create_spec()
    spec["parameter"]["permission_migration_parameter"] = permission_block()
    request = CreateJobRequest.model_validate(spec)
    assert request.parameter.check_type(JobType.METADATA_MIGRATION) == ["permission_migration_parameter"]
    assert "permission_migration_parameter" in request.to_wire()["parameter"]
    with pytest.raises(ValidationError, match="found: none"):
        CreateJobRequest.model_validate(create_spec(parameter={}))


def test_check_type_on_job_parameter() -> None:
    param = JobParameter.model_validate({"metadata_discovery_parameter": discovery_block()})
    assert param.check_type(JobType.METADATA_DISCOVERY) == []
    with pytest.raises(ValueError, match="METADATA_MIGRATION job needs parameter"):
        param.check_type(JobType.METADATA_MIGRATION)


def test_update_request_rules() -> None:
    ok = {"name": "job_1_x", "parameter": {"metadata_discovery_parameter": discovery_block()}}
    request = UpdateJobRequest.model_validate(ok)
    assert "type" not in request.to_wire()
    with pytest.raises(ValidationError, match="a parameter block is needed"):
        UpdateJobRequest.model_validate({**ok, "parameter": {}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        UpdateJobRequest.model_validate({**ok, "type": "METADATA_DISCOVERY"})
    create = CreateJobRequest.model_validate(create_spec())
    update = UpdateJobRequest.from_create(create)
    assert update.to_wire() == {k: v for k, v in create.to_wire().items() if k != "type"}


def test_pages_silent_rules_are_tolerated() -> None:
    """No page states these dependencies: each field is checked on its own (docs/emulator.md)."""
    JobParameter.model_validate({"smn_notify": True})
    JobParameter.model_validate({"smn_notify": True, "smn_notify_topic": "urn:smn:topic"})
    block = migration_block()
    block["sync_objects"] = ["TABLE", "TABLE"]
    block["datasource_parameter"] = {"username": ""}
    sent = MetaDataMigrationParameter.model_validate(block).to_wire()
    assert sent["sync_objects"] == ["TABLE", "TABLE"]
    assert sent["datasource_parameter"] == {"username": ""}


# --------------------------------------------------------------------- instance_id default


@pytest.mark.parametrize("job_type", [t.value for t in JobType])
def test_instance_id_default_from_context(job_type: str) -> None:
    spec = create_spec(job_type)
    block = next(iter(spec["parameter"].values()))
    del block["instance_id"]
    with pytest.raises(ValidationError, match="instance_id"):
        CreateJobRequest.model_validate(spec)
    request = CreateJobRequest.model_validate(spec, context={"default_instance_id": "from-conn"})
    assert next(iter(request.to_wire()["parameter"].values()))["instance_id"] == "from-conn"
    block["instance_id"] = "explicit"
    request = CreateJobRequest.model_validate(spec, context={"default_instance_id": "from-conn"})
    assert next(iter(request.to_wire()["parameter"].values()))["instance_id"] == "explicit"


# ------------------------------------------------------------------ schedule (discovery jobs)

SCHEDULE_CASES: list[tuple[dict[str, Any], str | None]] = [
    ({"execute_strategy": "MANNUAL"}, None),
    ({"execute_strategy": "SCHEDULE"}, None),
    ({"execute_day": "1", "execute_hour": 23, "execute_minute": "*"}, None),
    ({"execute_day": 31}, None),
    ({"execute_day": 32}, "execute_day: must be an integer from 1 to 31 when execute_frequency is not set"),
    ({"execute_minute": 60}, "execute_minute: must be an integer from 0 to 59"),
    ({"execute_strategy": "SCHEDULE", "execute_frequency": "DAILY", "execute_hour": "1"}, None),
    ({"execute_frequency": "MONTHLY", "execute_day": 31, "execute_hour": 23, "execute_minute": 59}, None),
    ({"execute_frequency": "MONTHLY", "execute_day": 0}, "execute_day: must be an integer from 1 to 31"),
    ({"execute_frequency": "MONTHLY", "execute_day": "32"}, "execute_day: must be an integer from 1 to 31"),
    ({"execute_frequency": "MONTHLY", "execute_day": "*"}, "execute_day: must be an integer from 1 to 31"),
    ({"execute_frequency": "WEEKLY", "execute_day": 7, "execute_hour": 0, "execute_minute": 0}, None),
    ({"execute_frequency": "WEEKLY", "execute_day": 8}, "execute_day: must be an integer from 1 to 7"),
    ({"execute_frequency": "WEEKLY", "execute_hour": 24}, "execute_hour: must be an integer from 0 to 23"),
    ({"execute_frequency": "DAILY", "execute_day": "*", "execute_hour": 5, "execute_minute": 30}, None),
    (
        {"execute_frequency": "DAILY", "execute_day": 1},
        "execute_day: must be '*' when execute_frequency is DAILY",
    ),
    ({"execute_frequency": "DAILY", "execute_hour": "*"}, "execute_hour: must be an integer from 0 to 23"),
    ({"execute_frequency": "HOURLY", "execute_day": "*", "execute_hour": "*", "execute_minute": 15}, None),
    (
        {"execute_frequency": "HOURLY", "execute_hour": 3},
        "execute_hour: must be '*' when execute_frequency is HOURLY",
    ),
    (
        {"execute_frequency": "HOURLY", "execute_minute": 60},
        "execute_minute: must be an integer from 0 to 59",
    ),
    (
        {"execute_frequency": "HOURLY", "execute_minute": "*"},
        "execute_minute: must be an integer from 0 to 59",
    ),
    ({"execute_frequency": "DAILY", "execute_minute": True}, "not a boolean"),
    ({"execute_frequency": "DAILY", "execute_minute": "123"}, "ASCII digits"),
    ({"execute_frequency": "DAILY", "execute_minute": "\u0663"}, "ASCII digits"),
    ({"execute_frequency": "DAILY", "execute_minute": "\uff15"}, "ASCII digits"),
    ({"execute_frequency": "DAILY", "execute_minute": " 5"}, "ASCII digits"),
    ({"execute_frequency": "DAILY", "execute_minute": 5.0}, "ASCII digits"),
    ({"execute_frequency": "MONTHLY", "execute_day": 0}, "execute_day: must be an integer from 1 to 31"),
    ({"execute_frequency": "MONTHLY", "execute_day": "00"}, "execute_day: must be an integer from 1 to 31"),
    ({"execute_frequency": "MONTHLY", "execute_day": 100}, "execute_day: must be an integer from 1 to 31"),
    ({"execute_frequency": "MONTHLY", "execute_day": "09", "execute_hour": "00"}, None),
]


@pytest.mark.parametrize(("fields", "error"), SCHEDULE_CASES)
def test_schedule_rules_by_frequency(fields: dict[str, Any], error: str | None) -> None:
    data = discovery_block(**fields)
    if error is None:
        MetaDataDiscoveryParameter.model_validate(data)
        return
    with pytest.raises(ValidationError) as info:
        MetaDataDiscoveryParameter.model_validate(data)
    assert error in errors_of(info.value)


def test_schedule_values_are_sent_as_given() -> None:
    block = MetaDataDiscoveryParameter.model_validate(
        discovery_block(
            execute_strategy="SCHEDULE",
            execute_frequency="MONTHLY",
            execute_day=5,
            execute_hour=0,
            execute_minute="7",
        )
    )
    wire = block.to_wire()
    assert (wire["execute_day"], wire["execute_hour"], wire["execute_minute"]) == (5, 0, "7")
    assert wire["execute_strategy"] == "MANNUAL" or wire["execute_strategy"] == "SCHEDULE"


# ------------------------------------------------------------------------------- secrets


def test_secrets_are_masked_everywhere_but_to_wire() -> None:
    request = CreateJobRequest.model_validate(create_spec())
    ds = request.parameter.metadata_migration_parameter.datasource_parameter  # type: ignore[union-attr]
    assert isinstance(ds.password, SecretStr)
    shown = [
        repr(request),
        str(request),
        request.model_dump_json(),
        json.dumps(request.model_dump(mode="json")),
    ]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text
    wire = request.to_wire()
    wire_ds = wire["parameter"]["metadata_migration_parameter"]["datasource_parameter"]
    assert (wire_ds["password"], wire_ds["access_key"], wire_ds["secret_key"]) == SECRETS
    assert set(SECRET_FIELDS) == {"password", "access_key", "secret_key"}


def test_validation_errors_never_echo_input_values() -> None:
    spec = create_spec()
    spec["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["username"] = DS_PASSWORD
    spec["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["bogus"] = DS_SK
    with pytest.raises(ValidationError) as info:
        CreateJobRequest.model_validate(spec)
    for text in (str(info.value), errors_of(info.value)):
        for secret in SECRETS:
            assert secret not in text


def test_to_wire_is_the_exact_body() -> None:
    spec = create_spec()
    wire = CreateJobRequest.model_validate(spec).to_wire()
    assert wire == spec  # round trip: nothing added, nothing dropped, secrets revealed


def test_spec_error_lists_field_paths() -> None:
    spec = create_spec()
    spec["parameter"]["metadata_migration_parameter"]["sync_objects"] = []
    spec["name"] = "x"
    with pytest.raises(ValidationError) as info:
        CreateJobRequest.model_validate(spec)
    err = LakeFormationSpecError.from_validation_error("job spec", info.value)
    assert err.problems[0].startswith("name:")
    assert any(p.startswith("parameter.metadata_migration_parameter.sync_objects:") for p in err.problems)
    assert str(err).startswith("invalid job spec: ")


# ------------------------------------------------------------------------------ responses


@pytest.mark.parametrize("shape", ["RUNNING", {"status": "RUNNING"}, "running", {"status": " Running "}])
def test_job_status_both_shapes(shape: Any) -> None:
    job = Job.model_validate({"id": "j1", "status": shape})
    assert job.status is JobStatus.RUNNING


def test_job_tolerates_unknown_fields_and_missing_optionals() -> None:
    job = Job.model_validate({"id": "j1", "brand_new_field": {"x": 1}, "type": "FUTURE_TYPE"})
    assert job.status is None
    assert job.type == "FUTURE_TYPE"
    assert job.model_extra == {"brand_new_field": {"x": 1}}
    full = Job.model_validate(
        {
            "id": "j2",
            "name": "n",
            "type": "METADATA_DISCOVERY",
            "status": "SUCCESS",
            "parameter": {"metadata_discovery_parameter": discovery_block(), "smn_notify": False},
            "start_time": 1700000000000,
        }
    )
    assert full.type == JobType.METADATA_DISCOVERY  # a str (smart union) or the enum: compare by value
    assert isinstance(full.parameter, JobParameter)


def test_job_parameter_falls_back_to_plain_dict() -> None:
    job = Job.model_validate({"id": "j", "parameter": {"metadata_discovery_parameter": {"odd": 1}}})
    assert job.parameter == {"metadata_discovery_parameter": {"odd": 1}}


@pytest.mark.parametrize(
    "bad", [{"id": "j", "status": 3}, {"id": "j", "status": {"state": "X"}}, {"status": "SUCCESS"}]
)
def test_job_rejects_malformed_status_and_missing_id(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Job.model_validate(bad)


def test_pages_logs_instances() -> None:
    page = JobPage.model_validate({"total": 2, "jobs": [{"id": "a", "status": "SUCCESS"}], "extra": 1})
    assert page.total == 2
    assert page.jobs[0].status is JobStatus.SUCCESS
    assert JobPage.model_validate({}).jobs == []
    assert JobLog.model_validate({"log": "a\nb\nc"}).tail(2) == "b\nc"
    assert JobLog.model_validate({"log": "a"}).tail(0) == ""
    assert JobLog.model_validate({}).log == ""
    inst = InstancePage.model_validate(
        {"instances": [{"id": "i", "status": "RUNNING", "new": True}], "total": 1}
    )
    assert inst.instances[0].status == "RUNNING"
    with pytest.raises(ValidationError):
        Instance.model_validate({"name": "no id"})


def test_error_body_code_and_message_precedence() -> None:
    flat = ErrorBody.model_validate(
        {"error_code": "common.01000001", "error_msg": "bad", "solution_msg": "fix"}
    )
    assert (flat.code, flat.message, flat.solution_msg) == ("common.01000001", "bad", "fix")
    nested = ErrorBody.model_validate({"error": {"code": "403", "message": "X-Auth-Token is invalid"}})
    assert (nested.code, nested.message) == ("403", "X-Auth-Token is invalid")
    common = ErrorBody.model_validate({"common_error_code": "CBC.0150", "unknown": 1})
    assert common.code == "CBC.0150"
    assert common.message is None


def test_iam_token_body() -> None:
    body = IamTokenBody.model_validate(
        {"token": {"expires_at": "2026-11-26T10:00:00.000000Z", "catalog": []}}
    )
    assert body.token.expires_at.startswith("2026")
    with pytest.raises(ValidationError):
        IamTokenBody.model_validate({"token": {}})


# --------------------------------------------------------------------------------- status


def test_parse_status() -> None:
    assert parse_status("SUCCESS") is JobStatus.SUCCESS
    assert parse_status({"status": "FAILED"}) is JobStatus.FAILED
    assert parse_status(JobStatus.STOPPED) is JobStatus.STOPPED
    unknown = parse_status({"status": "QUEUED"})
    assert (unknown.name, unknown.value) == ("UNKNOWN", "QUEUED")
    assert (unknown.is_known, unknown.is_terminal, unknown.is_in_progress) == (False, False, False)
    assert unknown == "QUEUED"
    assert parse_status("queued") == "queued"
    with pytest.raises(ValueError, match="unknown job status 'NOPE'"):
        known_status("NOPE")
    with pytest.raises(ValueError, match="must be a string"):
        parse_status({"state": "SUCCESS"})
    with pytest.raises(ValueError, match="must be a string"):
        parse_status(None)


def test_status_sets() -> None:
    assert {
        JobStatus.SUCCESS,
        JobStatus.FAILED,
        JobStatus.STOPPED,
        JobStatus.PARTIAL_SUCCESS,
    } == TERMINAL_STATUSES
    assert {JobStatus.SUBMITTED, JobStatus.RUNNING} == IN_PROGRESS_STATUSES
    assert JobStatus.CREATED not in TERMINAL_STATUSES | IN_PROGRESS_STATUSES
    assert {JobStatus.SUCCESS} == SUCCESSFUL_STATUSES
    assert JobStatus.PARTIAL_SUCCESS in FAILED_STATUSES
    assert JobStatus.PARTIAL_SUCCESS in successful_statuses(partial_success_ok=True)
    assert JobStatus.PARTIAL_SUCCESS not in failed_statuses(partial_success_ok=True)
    assert JobStatus.RUNNING.is_in_progress
    assert JobStatus.SUCCESS.is_terminal
    assert str(JobStatus.RUNNING) == "RUNNING"
