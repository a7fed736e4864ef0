"""The bad-input table: invalid job specs and connection settings, each with the field and rule the
error must name. Used by ``test_bad_input.py`` (through the models, the hook and the operators)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.specs import discovery_spec, migration_spec, permission_spec

Spec = dict[str, Any]


@dataclass(frozen=True)
class SpecCase:
    """An invalid job spec: ``build()`` returns it; the error must match ``field`` and ``rule``."""

    id: str
    build: Callable[[], Any]
    field: str
    rule: str  # regex, searched case-insensitively in the error text
    update_too: bool = False  # also invalid as an UpdateJobRequest (no ``type`` key)


@dataclass(frozen=True)
class ConnCase:
    """Invalid connection settings: ``extra`` merged into (or ``drop`` removed from) a good connection."""

    id: str
    field: str
    rule: str
    extra: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    conn: dict[str, Any] = field(default_factory=dict)  # top-level Connection attributes (host, port...)
    xfail: str | None = None  # a known bug in code this suite does not own


def _mig(**block: Any) -> Spec:
    spec = migration_spec()
    spec["parameter"]["metadata_migration_parameter"].update(block)
    return spec


def _ds(**ds: Any) -> Spec:
    spec = migration_spec()
    spec["parameter"]["metadata_migration_parameter"]["datasource_parameter"].update(ds)
    return spec


def _perm(**block: Any) -> Spec:
    spec = permission_spec()
    spec["parameter"]["permission_migration_parameter"].update(block)
    return spec


def _disc(**block: Any) -> Spec:
    spec = discovery_spec()
    spec["parameter"]["metadata_discovery_parameter"].update(block)
    return spec


def _disc_sched(freq: str, day: Any = None, hour: Any = None, minute: Any = None) -> Spec:
    block = {"execute_strategy": "SCHEDULE", "execute_frequency": freq}
    block["execute_day"] = day if day is not None else ("1" if freq in ("MONTHLY", "WEEKLY") else "*")
    block["execute_hour"] = hour if hour is not None else ("*" if freq == "HOURLY" else "1")
    block["execute_minute"] = minute if minute is not None else "0"
    return _disc(**block)


def _top(spec: Spec, **changes: Any) -> Spec:
    out = copy.deepcopy(spec)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _without(spec: Spec, block: str, key: str) -> Spec:
    spec["parameter"][block].pop(key)
    return spec


def _principal(**p: Any) -> Spec:
    spec = discovery_spec()
    spec["parameter"]["metadata_discovery_parameter"]["principals"][0].update(p)
    return spec


_DROP = object()
M = "metadata_migration_parameter"
P = "permission_migration_parameter"
D = "metadata_discovery_parameter"
ENUM = r"input should be|not a valid|enum"

SPEC_CASES: list[SpecCase] = [
    # -- name: 4-255 chars of [A-Za-z0-9_]
    SpecCase("name_too_short", lambda: _top(migration_spec(), name="abc"), "name", "at least 4", True),
    SpecCase("name_too_long", lambda: _top(migration_spec(), name="a" * 256), "name", "at most 255", True),
    SpecCase("name_hyphen", lambda: _top(migration_spec(), name="bad-name"), "name", "pattern", True),
    SpecCase("name_space", lambda: _top(migration_spec(), name="bad name"), "name", "pattern", True),
    SpecCase("name_non_ascii", lambda: _top(migration_spec(), name="jöb_name"), "name", "pattern", True),
    SpecCase("name_empty", lambda: _top(migration_spec(), name=""), "name", "at least 4", True),
    SpecCase("name_wrong_type", lambda: _top(migration_spec(), name=12345), "name", "valid string", True),
    SpecCase("name_missing", lambda: _top(migration_spec(), name=_DROP), "name", "required", True),
    # -- description <= 4000, UTF-8
    SpecCase(
        "description_4001",
        lambda: _top(migration_spec(), description="d" * 4001),
        "description",
        "at most 4000",
        True,
    ),
    SpecCase(
        "description_lone_surrogate",
        lambda: _top(migration_spec(), description="bad \udcff"),
        "description",
        "utf-8|unicode",
        True,
    ),
    SpecCase(
        "description_wrong_type",
        lambda: _top(migration_spec(), description=["x"]),
        "description",
        "valid string",
        True,
    ),
    # -- type enum, block matching
    SpecCase("type_unknown", lambda: _top(migration_spec(), type="METADATA_SYNC"), "type", ENUM),
    SpecCase("type_lowercase", lambda: _top(migration_spec(), type="metadata_migration"), "type", ENUM),
    SpecCase("type_missing", lambda: _top(migration_spec(), type=_DROP), "type", "required"),
    SpecCase(
        "block_does_not_match_type",
        lambda: _top(migration_spec(), type="PERMISSION_MIGRATION"),
        "parameter",
        "permission_migration_parameter",
    ),
    SpecCase("no_block", lambda: _top(migration_spec(), parameter={}), "parameter", "found: none", True),
    SpecCase(
        "parameter_wrong_type",
        lambda: _top(migration_spec(), parameter=["x"]),
        "parameter",
        "valid dictionary|object",
        True,
    ),
    SpecCase(
        "unknown_top_level_field",
        lambda: _top(migration_spec(), colour="red"),
        "colour",
        "extra inputs",
        True,
    ),
    SpecCase("spec_not_a_mapping", lambda: "METADATA_MIGRATION", "", r"dictionary|mapping|object|dict"),
    # -- metadata migration block
    SpecCase("unknown_block_field", lambda: _mig(speed="fast"), f"{M}.speed", "extra inputs", True),
    SpecCase(
        "datasource_type_unknown", lambda: _mig(datasource_type="ORACLE"), "datasource_type", ENUM, True
    ),
    SpecCase(
        "migration_conflict_merge", lambda: _mig(conflict_strategy="MERGE"), "conflict_strategy", ENUM, True
    ),
    SpecCase("sync_objects_empty", lambda: _mig(sync_objects=[]), "sync_objects", "at least 1", True),
    SpecCase("sync_objects_unknown", lambda: _mig(sync_objects=["VIEW"]), "sync_objects", ENUM, True),
    SpecCase(
        "locations_21",
        lambda: _mig(locations=[{"key": f"k{i}", "value": "v"} for i in range(21)]),
        "locations",
        "at most 20",
        True,
    ),
    SpecCase(
        "location_value_missing",
        lambda: _mig(locations=[{"key": "k"}]),
        "locations.0.value",
        "required",
        True,
    ),
    SpecCase(
        "location_key_empty",
        lambda: _mig(locations=[{"key": "", "value": "v"}]),
        "locations.0.key",
        "at least 1",
        True,
    ),
    SpecCase("source_catalog_empty", lambda: _mig(source_catalog=""), "source_catalog", "at least 1", True),
    SpecCase(
        "log_location_missing",
        lambda: _without(migration_spec(), M, "log_location"),
        "log_location",
        "required",
        True,
    ),
    SpecCase("network_type_unknown", lambda: _mig(network_type="VPN"), "network_type", ENUM, True),
    SpecCase(
        "ignore_obs_checked_wrong_type",
        lambda: _mig(ignore_obs_checked="maybe"),
        "ignore_obs_checked",
        "valid boolean",
        True,
    ),
    SpecCase(
        "datasource_parameter_missing",
        lambda: _without(migration_spec(), M, "datasource_parameter"),
        "datasource_parameter",
        "required",
        True,
    ),
    # -- datasource parameter
    SpecCase("username_underscore", lambda: _ds(username="hive_user"), "username", "pattern", True),
    SpecCase("username_256", lambda: _ds(username="u" * 256), "username", "at most 255", True),
    SpecCase("password_lone_surrogate", lambda: _ds(password="pw\udcff"), "password", "utf-8", True),
    SpecCase("secret_key_wrong_type", lambda: _ds(secret_key=123456), "secret_key", "valid string", True),
    SpecCase("jdbc_url_lone_surrogate", lambda: _ds(jdbc_url="jdbc:\udcff"), "jdbc_url", "utf-8", True),
    # -- permission migration block
    SpecCase("policy_type_unknown", lambda: _perm(policy_type="ACL"), "policy_type", ENUM, True),
    SpecCase("file_name_slash", lambda: _perm(file_name="a/b.json"), "file_name", r"must not contain", True),
    SpecCase("file_name_star", lambda: _perm(file_name="a*.json"), "file_name", r"must not contain", True),
    SpecCase("file_name_quote", lambda: _perm(file_name='a".json'), "file_name", r"must not contain", True),
    SpecCase("file_name_lt", lambda: _perm(file_name="a<b.json"), "file_name", r"must not contain", True),
    SpecCase("file_name_colon", lambda: _perm(file_name="c:x.json"), "file_name", r"must not contain", True),
    SpecCase("file_name_pipe", lambda: _perm(file_name="a|b.json"), "file_name", r"must not contain", True),
    SpecCase(
        "file_name_backslash", lambda: _perm(file_name="a\\b.json"), "file_name", r"must not contain", True
    ),
    SpecCase(
        "file_name_question", lambda: _perm(file_name="a?.json"), "file_name", r"must not contain", True
    ),
    SpecCase("file_name_gt", lambda: _perm(file_name="a>b.json"), "file_name", r"must not contain", True),
    SpecCase(
        "location_missing", lambda: _without(permission_spec(), P, "location"), "location", "required", True
    ),
    SpecCase(
        "principal_relas_user_to_unknown",
        lambda: _perm(ranger_permission_migration_principal_relas={"user_to": "IAM_AGENCY"}),
        "user_to",
        ENUM,
        True,
    ),
    # -- metadata discovery block
    SpecCase(
        "file_sample_rate_101",
        lambda: _disc(file_sample_rate=101),
        "file_sample_rate",
        "less than or equal to 100",
        True,
    ),
    SpecCase(
        "file_sample_rate_negative",
        lambda: _disc(file_sample_rate=-1),
        "file_sample_rate",
        "greater than or equal to 0",
        True,
    ),
    SpecCase(
        "file_sample_rate_fraction",
        lambda: _disc(file_sample_rate=50.5),
        "file_sample_rate",
        "valid integer",
        True,
    ),
    SpecCase(
        "file_sample_rate_text",
        lambda: _disc(file_sample_rate="half"),
        "file_sample_rate",
        "valid integer",
        True,
    ),
    SpecCase(
        "table_depth_negative", lambda: _disc(table_depth=-1), "table_depth", "greater than or equal", True
    ),
    SpecCase("header_wrong_type", lambda: _disc(header="maybe"), "header", "valid boolean", True),
    SpecCase(
        "file_discovery_type_unknown",
        lambda: _disc(file_discovery_type="XML"),
        "file_discovery_type",
        ENUM,
        True,
    ),
    SpecCase(
        "discovery_conflict_unknown",
        lambda: _disc(conflict_strategy="MERGE"),
        "conflict_strategy",
        ENUM,
        True,
    ),
    SpecCase("quote_unknown", lambda: _disc(quote="BACKTICK"), "quote", ENUM, True),
    SpecCase(
        "rediscovery_policy_unknown",
        lambda: _disc(rediscovery_policy="SOMETIMES"),
        "rediscovery_policy",
        ENUM,
        True,
    ),
    SpecCase(
        "execute_strategy_manual_spelling",
        lambda: _disc(execute_strategy="MANUAL"),
        "execute_strategy",
        ENUM,
        True,
    ),
    SpecCase(
        "execute_frequency_unknown",
        lambda: _disc(execute_frequency="YEARLY"),
        "execute_frequency",
        ENUM,
        True,
    ),
    SpecCase(
        "principal_name_50", lambda: _principal(principal_name="p" * 50), "principal_name", "at most 49", True
    ),
    SpecCase(
        "principal_name_empty", lambda: _principal(principal_name=""), "principal_name", "at least 1", True
    ),
    SpecCase(
        "principal_name_bad_chars",
        lambda: _principal(principal_name="al ice!"),
        "principal_name",
        "pattern",
        True,
    ),
    SpecCase(
        "principal_type_unknown", lambda: _principal(principal_type="ROBOT"), "principal_type", ENUM, True
    ),
    SpecCase(
        "principal_source_unknown",
        lambda: _principal(principal_source="GITHUB"),
        "principal_source",
        ENUM,
        True,
    ),
    # -- schedule: execute_day/hour/minute by frequency
    SpecCase("weekly_day_8", lambda: _disc_sched("WEEKLY", day="8"), "execute_day", "from 1 to 7", True),
    SpecCase("weekly_day_0_int", lambda: _disc_sched("WEEKLY", day=0), "execute_day", "from 1 to 7", True),
    SpecCase("monthly_day_32", lambda: _disc_sched("MONTHLY", day=32), "execute_day", "from 1 to 31", True),
    SpecCase(
        "monthly_day_star", lambda: _disc_sched("MONTHLY", day="*"), "execute_day", "from 1 to 31", True
    ),
    SpecCase("daily_day_number", lambda: _disc_sched("DAILY", day="3"), "execute_day", r"'\*'", True),
    SpecCase("daily_hour_24", lambda: _disc_sched("DAILY", hour=24), "execute_hour", "from 0 to 23", True),
    SpecCase("hourly_hour_number", lambda: _disc_sched("HOURLY", hour="5"), "execute_hour", r"'\*'", True),
    SpecCase("minute_60", lambda: _disc_sched("DAILY", minute=60), "execute_minute", "from 0 to 59", True),
    SpecCase(
        "minute_negative", lambda: _disc_sched("WEEKLY", minute="-1"), "execute_minute", "ASCII digits", True
    ),
    SpecCase(
        "minute_arabic_indic_digit",
        lambda: _disc_sched("DAILY", minute="\u0663"),
        "execute_minute",
        "ASCII digits",
        True,
    ),
    SpecCase(
        "day_fullwidth_digit",
        lambda: _disc_sched("WEEKLY", day="\uff13"),
        "execute_day",
        "ASCII digits",
        True,
    ),
    SpecCase(
        "minute_int_60", lambda: _disc_sched("HOURLY", minute=60), "execute_minute", "from 0 to 59", True
    ),
    SpecCase("day_bool", lambda: _disc_sched("WEEKLY", day=True), "execute_day", "boolean", True),
    SpecCase(
        "day_without_frequency_32",
        lambda: _disc(execute_frequency=None, execute_day=32),
        "execute_day",
        "from 1 to 31",
        True,
    ),
    SpecCase(
        "file_sample_rate_true",
        lambda: _disc(file_sample_rate=True),
        "file_sample_rate",
        "valid integer",
        True,
    ),
    SpecCase("header_text", lambda: _disc(header="false"), "header", "valid boolean", True),
    # -- notification
    SpecCase(
        "smn_notify_type_unknown",
        lambda: _top(
            migration_spec(), parameter={**migration_spec()["parameter"], "smn_notify_types": ["WARN"]}
        ),
        "smn_notify_types",
        ENUM,
        True,
    ),
]

POSITIVE = r"greater than|at least|>=|> ?0|positive|non-negative|negative"
CONN_CASES: list[ConnCase] = [
    ConnCase("missing_project_id", "project_id", "required|missing|must be set", drop=("project_id",)),
    ConnCase("missing_instance_id", "instance_id", "required|missing|must be set", drop=("instance_id",)),
    ConnCase(
        "empty_project_id",
        "project_id",
        "required|missing|at least 1|empty|must be set",
        extra={"project_id": ""},
    ),
    ConnCase("project_id_with_slash", "project_id", "must not contain", extra={"project_id": "p/../x"}),
    ConnCase("instance_id_with_space", "instance_id", "must not contain", extra={"instance_id": "a b"}),
    ConnCase("max_retries_negative", "max_retries", POSITIVE, extra={"max_retries": -1}),
    ConnCase("max_retries_text", "max_retries", "valid integer", extra={"max_retries": "many"}),
    ConnCase("max_retries_huge", "max_retries", "less than or equal", extra={"max_retries": 10**6}),
    ConnCase("retry_min_wait_negative", "retry.min_wait", POSITIVE, extra={"retry_min_wait": -0.5}),
    ConnCase(
        "retry_min_above_max",
        "max_wait|min_wait",
        r"greater|exceed|<=|larger|more than",
        extra={"retry_min_wait": 10, "retry_max_wait": 1},
    ),
    ConnCase("read_timeout_zero", "read_timeout", POSITIVE, extra={"read_timeout": 0}),
    ConnCase("connect_timeout_negative", "connect_timeout", POSITIVE, extra={"connect_timeout": -5}),
    ConnCase("auth_type_unknown", "auth_type", ENUM + "|must be one of", extra={"auth_type": "kerberos"}),
    ConnCase("iam_without_domain", "domain_name", "required", extra={"auth_type": "iam"}),
    ConnCase("aksk_without_secret_key", "password", "required", conn={"password": None}),
    ConnCase("no_credentials", "password", "required", conn={"password": None, "login": None}),
    ConnCase("verify_not_bool", "verify", "valid boolean", extra={"verify": 5}),
    ConnCase(
        "ca_bundle_missing_file",
        "ca_bundle",
        r"exist|not found|no such|file|readable",
        extra={"ca_bundle": "/nonexistent/lakeformation-ca.pem"},
    ),
    ConnCase("region_malformed", "region", "must look like", extra={"region": "CN North 4"}),
    ConnCase("endpoint_ftp_scheme", "host|endpoint", r"http|scheme|url", conn={"host": "ftp://example.com"}),
    ConnCase("endpoint_no_host", "host|endpoint", r"host|url", conn={"host": "http://"}),
    ConnCase(
        "endpoint_bad_port",
        "host|endpoint",
        r"http|url|host|scheme|port",
        conn={"host": "http://example.com:8o"},
    ),
    ConnCase("endpoint_with_query", "host|endpoint", r"query", conn={"host": "http://example.com/?a=b"}),
    ConnCase("scheme_unknown", "scheme", "http", conn={"host": "example.com"}, extra={"scheme": "gopher"}),
    ConnCase("no_endpoint_no_region", "region", "required", conn={"host": None}, drop=("region",)),
]
