"""LakeFormationJobTrigger kwargs survive Airflow's serde round trip (worker -> DB -> triggerer)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.models.status import resolve_states
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.compat import encrypt_decrypt_trigger_kwargs, import_string, trigger_kwargs_roundtrip

CLASSPATH = "airflow_provider_lakeformation.triggers.lakeformation.LakeFormationJobTrigger"
KEYS = {
    "job_id",
    "lakeformation_conn_id",
    "project_id",
    "instance_id",
    "poll_interval",
    "end_time",
    "fail_on_partial_success",
    "max_transient_errors",
    "cancel_on_kill",
    "target_states",
    "failure_states",
    "hold_until",
}


def _roundtrip(trigger: LakeFormationJobTrigger) -> LakeFormationJobTrigger:
    classpath, kwargs = trigger.serialize()
    json.dumps(kwargs)  # must be plain JSON
    rebuilt = import_string(classpath)(**trigger_kwargs_roundtrip(kwargs))
    assert isinstance(rebuilt, LakeFormationJobTrigger)
    return rebuilt


@pytest.mark.parametrize(
    "kwargs",
    [
        {"job_id": "j-1"},
        {
            "job_id": "j-2",
            "lakeformation_conn_id": "lf_prod",
            "project_id": "p" * 32,
            "instance_id": "inst-1",
            "poll_interval": 0.2,
            "end_time": 1_900_000_000.25,
            "fail_on_partial_success": False,
            "max_transient_errors": 3,
            "cancel_on_kill": False,
        },
        {"job_id": "j-3", "target_states": ["running", "SUCCESS"], "failure_states": ["FAILED"]},
        {"job_id": "j-4", "target_states": [JobStatus.SUCCESS, JobStatus.PARTIAL_SUCCESS]},
    ],
)
def test_serialize_roundtrip(kwargs: dict[str, object]) -> None:
    trigger = LakeFormationJobTrigger(**kwargs)  # type: ignore[arg-type]
    classpath, serialized = trigger.serialize()
    assert classpath == CLASSPATH
    assert set(serialized) == KEYS
    json.dumps(serialized)  # plain JSON, no enums / objects
    assert _roundtrip(trigger).serialize() == (classpath, serialized)


def test_serialized_kwargs_hold_no_secrets() -> None:
    _, serialized = LakeFormationJobTrigger(job_id="j", lakeformation_conn_id="c").serialize()
    text = json.dumps(serialized).lower()
    for word in ("password", "secret", "token", "access_key", "sk"):
        assert f'"{word}' not in text


def test_db_encryption_roundtrip(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    try:
        from airflow.models.crypto import get_fernet

        get_fernet.cache_clear()  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        pass
    _, kwargs = LakeFormationJobTrigger(job_id="j", end_time=123.5, target_states=["SUCCESS"]).serialize()
    assert encrypt_decrypt_trigger_kwargs(kwargs) == kwargs


def test_default_state_sets_follow_partial_success_flag() -> None:
    strict = resolve_states(fail_on_partial_success=True)
    lenient = resolve_states(fail_on_partial_success=False)
    assert JobStatus.PARTIAL_SUCCESS in strict[1]
    assert JobStatus.PARTIAL_SUCCESS in lenient[0]
    # a target set that claims PARTIAL_SUCCESS takes it out of the defaulted failure set
    success, failure = resolve_states([JobStatus.PARTIAL_SUCCESS])
    assert success == {JobStatus.PARTIAL_SUCCESS}
    assert JobStatus.PARTIAL_SUCCESS not in failure


@pytest.mark.parametrize(
    ("target", "failure", "needle"),
    [
        (["DONE"], None, "target_states"),
        (["SUCCESS"], ["SUCCESS"], "overlaps"),
        (None, ["nope"], "failure_states"),
        ([], None, "at least one"),
    ],
)
def test_bad_state_sets(target: list[str] | None, failure: list[str] | None, needle: str) -> None:
    with pytest.raises(LakeFormationSpecError, match=needle):
        LakeFormationJobTrigger(job_id="j", target_states=target, failure_states=failure)


#: Kwargs as the previous release serialised them (before the shared trigger base): what a
#: triggerer finds in the database after an upgrade and re-creates the triggers from.
OLD_JOB_TRIGGER_KWARGS = {
    "job_id": "j-old",
    "lakeformation_conn_id": "lakeformation_default",
    "project_id": None,
    "instance_id": None,
    "poll_interval": 30.0,
    "end_time": 1_900_000_000.0,
    "fail_on_partial_success": True,
    "max_transient_errors": 10,
    "cancel_on_kill": True,
    "target_states": None,
    "failure_states": None,
}
OLD_WATCHER_KWARGS = {
    "job_id": None,
    "job_type": "METADATA_DISCOVERY",
    "name_pattern": "ext_*",
    "statuses": ["SUCCESS"],
    "lakeformation_conn_id": "lakeformation_default",
    "project_id": None,
    "instance_id": None,
    "poll_interval": 60.0,
    "history_limit": 20,
    "handoff_seconds": 5.0,
    "state_asset_name": None,
}


@pytest.mark.parametrize(
    ("classpath", "old"),
    [
        (CLASSPATH, OLD_JOB_TRIGGER_KWARGS),
        ("airflow_provider_lakeformation.triggers.job_runs.LakeFormationJobRunTrigger", OLD_WATCHER_KWARGS),
    ],
)
def test_kwargs_of_the_previous_release_still_rebuild(classpath: str, old: dict[str, object]) -> None:
    rebuilt = import_string(classpath)(**trigger_kwargs_roundtrip(old))
    again_classpath, kwargs = rebuilt.serialize()
    assert again_classpath == classpath
    assert {k: kwargs[k] for k in old} == old  # the same names and values; new kwargs only added
