"""The emulator's own request schema over raw HTTP: every documented length, pattern, enumeration
and limit of the create/modify pages is enforced (400 naming the field), the boundaries the pages
allow are accepted, and the pages' tolerances (all three blocks optional, UPDATE for a migration,
integers for the schedule fields) hold."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_lakeformation.emulator import EmulatorServer

Mutation = Callable[[dict[str, Any]], None]


def spec() -> dict[str, Any]:
    """A job with all three blocks filled in (type METADATA_MIGRATION)."""
    return {
        "name": "schema_job",
        "type": "METADATA_MIGRATION",
        "parameter": {
            "metadata_migration_parameter": {
                "datasource_type": "MRS_RDS_FOR_MYSQL",
                "datasource_parameter": {"jdbc_url": "jdbc:mysql://h:3306/hive", "username": "hive"},
                "source_catalog": "src",
                "target_catalog": "dst",
                "conflict_strategy": "UPSERT",
                "log_location": "obs://logs",
                "sync_objects": ["DATABASE"],
                "locations": [{"key": "a", "value": "b"}],
                "instance_id": "i1",
            },
            "permission_migration_parameter": {
                "location": "obs://p",
                "log_location": "obs://logs",
                "policy_type": "RANGER",
                "instance_id": "i1",
            },
            "metadata_discovery_parameter": {
                "data_location": "obs://d",
                "target_catalog": "c",
                "target_database": "d",
                "conflict_strategy": "INSERT",
                "file_discovery_type": "CSV",
                "log_location": "obs://logs",
                "instance_id": "i1",
                "principals": [{"principal_type": "USER", "principal_source": "IAM", "principal_name": "u"}],
            },
        },
    }


def mig(**changes: Any) -> Mutation:
    return lambda s: s["parameter"]["metadata_migration_parameter"].update(changes)


def disc(**changes: Any) -> Mutation:
    return lambda s: s["parameter"]["metadata_discovery_parameter"].update(changes)


def perm(**changes: Any) -> Mutation:
    return lambda s: s["parameter"]["permission_migration_parameter"].update(changes)


def top(**changes: Any) -> Mutation:
    return lambda s: s.update(changes)


def principal(name: Any) -> Mutation:
    return disc(principals=[{"principal_type": "USER", "principal_source": "IAM", "principal_name": name}])


MIG = "parameter.metadata_migration_parameter."
DISC = "parameter.metadata_discovery_parameter."
PERM = "parameter.permission_migration_parameter."

REFUSED: list[tuple[str, Mutation, str]] = [
    ("name 3 characters", top(name="abc"), "name: String should have at least 4 characters"),
    ("name 256 characters", top(name="a" * 256), "name: String should have at most 255 characters"),
    ("name with a hyphen", top(name="bad-name"), "name: String should match pattern"),
    ("name not a string", top(name=12345), "name: Input should be a valid string"),
    (
        "description 4001 characters",
        top(description="d" * 4001),
        "description: String should have at most 4000",
    ),
    ("unknown type", top(type="DATA_MIGRATION"), "type: Input should be"),
    ("unknown field", top(colour="red"), "colour: Extra inputs are not permitted"),
    (
        "21 location rules",
        mig(locations=[{"key": "a", "value": "b"}] * 21),
        MIG + "locations: List should have at most 20",
    ),
    ("empty sync_objects", mig(sync_objects=[]), MIG + "sync_objects: List should have at least 1"),
    ("unknown sync object", mig(sync_objects=["VIEW"]), MIG + "sync_objects[0]: Input should be"),
    (
        "migration INSERT",
        mig(conflict_strategy="INSERT"),
        MIG + "conflict_strategy: Input should be 'UPSERT' or 'UPDATE'",
    ),
    ("datasource DLF (prose only)", mig(datasource_type="DLF"), MIG + "datasource_type: Input should be"),
    (
        "username with a dot",
        mig(datasource_parameter={"username": "hive.user"}),
        MIG + "datasource_parameter.username",
    ),
    (
        "username 256 characters",
        mig(datasource_parameter={"username": "u" * 256}),
        MIG + "datasource_parameter.username",
    ),
    ("network type", mig(network_type="VPN"), MIG + "network_type"),
    (
        "ignore_obs_checked as text",
        mig(ignore_obs_checked="false"),
        MIG + "ignore_obs_checked: Input should be a valid boolean",
    ),
    (
        "missing source_catalog",
        lambda s: s["parameter"]["metadata_migration_parameter"].pop("source_catalog"),
        MIG + "source_catalog: Field required",
    ),
    ("empty log_location", mig(log_location=""), MIG + "log_location: String should have at least 1"),
    ("file_name with *", perm(file_name="a*.json"), PERM + "file_name: String should match pattern"),
    ("file_name with a backslash", perm(file_name="a\\b.json"), PERM + "file_name"),
    ("policy type", perm(policy_type="IAM"), PERM + "policy_type"),
    (
        "ranger user_to",
        perm(ranger_permission_migration_principal_relas={"user_to": "USER"}),
        PERM + "ranger_permission_migration_principal_relas.user_to",
    ),
    (
        "principal name empty",
        principal(""),
        DISC + "principals[0].principal_name: String should have at least 1",
    ),
    (
        "principal name 50 characters",
        principal("p" * 50),
        DISC + "principals[0].principal_name: String should have at most 49",
    ),
    (
        "principal name with a space",
        principal("a b"),
        DISC + "principals[0].principal_name: String should match pattern",
    ),
    (
        "principal source",
        disc(principals=[{"principal_type": "USER", "principal_source": "AD", "principal_name": "u"}]),
        DISC + "principals[0].principal_source",
    ),
    (
        "file_sample_rate 101",
        disc(file_sample_rate=101),
        DISC + "file_sample_rate: Input should be less than or equal to 100",
    ),
    ("file_sample_rate -1", disc(file_sample_rate=-1), DISC + "file_sample_rate"),
    (
        "file_sample_rate true",
        disc(file_sample_rate=True),
        DISC + "file_sample_rate: Input should be a valid integer",
    ),
    ("file_sample_rate 50.5", disc(file_sample_rate=50.5), DISC + "file_sample_rate"),
    ("table_depth -1", disc(table_depth=-1), DISC + "table_depth"),
    ("quote", disc(quote="BACKTICK"), DISC + "quote"),
    ("file type", disc(file_discovery_type="XML"), DISC + "file_discovery_type"),
    ("discovery conflict", disc(conflict_strategy="REPLACE"), DISC + "conflict_strategy"),
    ("execute_strategy MANUAL", disc(execute_strategy="MANUAL"), DISC + "execute_strategy"),
    (
        "monthly day 32",
        disc(execute_frequency="MONTHLY", execute_day=32),
        DISC + "execute_day: must be a number from 1 to 31",
    ),
    (
        "weekly day 8",
        disc(execute_frequency="WEEKLY", execute_day="8"),
        DISC + "execute_day: must be a number from 1 to 7",
    ),
    ("daily day 3", disc(execute_frequency="DAILY", execute_day=3), DISC + "execute_day: must be '*'"),
    (
        "hour 24",
        disc(execute_frequency="DAILY", execute_hour=24),
        DISC + "execute_hour: must be a number from 0 to 23",
    ),
    ("hourly hour 5", disc(execute_frequency="HOURLY", execute_hour="5"), DISC + "execute_hour: must be '*'"),
    ("minute 60", disc(execute_minute=60), DISC + "execute_minute: must be a number from 0 to 59"),
    (
        "minute in Arabic-Indic digits",
        disc(execute_minute="\u0663"),
        DISC + "execute_minute: must be a number",
    ),
    ("day as a boolean", disc(execute_frequency="MONTHLY", execute_day=True), DISC + "execute_day"),
    (
        "smn types",
        lambda s: s["parameter"].update(smn_notify_types=["RUNNING"]),
        "parameter.smn_notify_types[0]",
    ),
    (
        "the type's block absent",
        lambda s: s["parameter"].pop("metadata_migration_parameter"),
        "parameter.metadata_migration_parameter: required for a METADATA_MIGRATION job",
    ),
]

ACCEPTED: list[tuple[str, Mutation]] = [
    ("name 4 characters", top(name="abcd")),
    ("name 255 characters", top(name="a" * 255)),
    ("description 4000 characters", top(description="d" * 4000)),
    ("20 location rules", mig(locations=[{"key": "a", "value": "b"}] * 20)),
    ("migration UPDATE (modify page example)", mig(conflict_strategy="UPDATE")),
    ("TEXT files (listed in the prose)", disc(file_discovery_type="TEXT")),
    ("principal name 49 characters with _ - .", principal("p_-." + "x" * 45)),
    ("file_sample_rate 0 and 100", disc(file_sample_rate=100, table_depth=0)),
    (
        "schedule as integers",
        disc(execute_frequency="MONTHLY", execute_day=31, execute_hour=0, execute_minute=59),
    ),
    (
        "schedule as strings",
        disc(execute_frequency="HOURLY", execute_day="*", execute_hour="*", execute_minute="5"),
    ),
    (
        "empty secrets (= none)",
        mig(datasource_parameter={"password": "", "access_key": "", "secret_key": ""}),
    ),
    (
        "smn notification fields",
        lambda s: s["parameter"].update(smn_notify=True, smn_notify_topic="t", smn_notify_types=["FAILED"]),
    ),
    ("only the type's block", lambda s: s["parameter"].pop("metadata_discovery_parameter")),
]


@pytest.fixture
def post(emulator: EmulatorServer) -> Iterator[Callable[[dict[str, Any]], requests.Response]]:
    with requests.Session() as session:
        session.headers["X-Auth-Token"] = emulator.token
        yield lambda body: session.post(emulator.api_url + "/lf-jobs", json=body, timeout=10)


@pytest.mark.parametrize(("case", "mutate", "fragment"), REFUSED, ids=[c[0] for c in REFUSED])
def test_documented_rules_are_enforced_naming_the_field(
    post: Callable[[dict[str, Any]], requests.Response], case: str, mutate: Mutation, fragment: str
) -> None:
    body = copy.deepcopy(spec())
    mutate(body)
    response = post(body)
    assert response.status_code == 400, (case, response.text)
    assert response.json()["error_code"] == "common.01000001"
    assert fragment in response.json()["error_msg"], (case, response.json()["error_msg"])


@pytest.mark.parametrize(("case", "mutate"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_what_the_pages_allow_is_accepted(
    post: Callable[[dict[str, Any]], requests.Response], case: str, mutate: Mutation
) -> None:
    body = copy.deepcopy(spec())
    mutate(body)
    response = post(body)
    assert response.status_code == 201, (case, response.text)


def test_modify_applies_the_same_rules(
    emulator: EmulatorServer, post: Callable[[dict[str, Any]], requests.Response]
) -> None:
    job = post(spec()).json()
    update = {k: v for k, v in spec().items() if k != "type"}
    headers = {"X-Auth-Token": emulator.token}
    url = emulator.api_url + f"/lf-jobs/{job['id']}"
    changes: list[tuple[dict[str, Any], str]] = [
        ({"name": "x" * 256}, "name: String should have at most 255"),
        ({"type": "METADATA_MIGRATION"}, "type: Extra inputs are not permitted"),
        (
            {
                "parameter": {
                    "permission_migration_parameter": spec()["parameter"]["permission_migration_parameter"]
                }
            },
            "parameter.metadata_migration_parameter: required for a METADATA_MIGRATION job",
        ),
    ]
    for change, fragment in changes:
        response = requests.put(url, json={**update, **change}, headers=headers, timeout=10)
        assert response.status_code == 400, response.text
        assert fragment in response.json()["error_msg"]
    ok = requests.put(url, json=update, headers=headers, timeout=10)
    assert ok.status_code == 200, ok.text
