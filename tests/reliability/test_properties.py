"""Property-based tests of the job spec models (hypothesis).

* every valid spec (all three job types, every optional field) round-trips to the exact wire JSON;
* any random input raises nothing but ``pydantic.ValidationError`` (the hook turns that into
  ``LakeFormationSpecError``), and the error text never repeats the input's secrets.
"""

from __future__ import annotations

import copy
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.models import (
    CreateJobRequest,
    DatasourceType,
    DiscoveryConflictStrategy,
    FileDiscoveryType,
    NetworkType,
    PolicyType,
    PrincipalConversion,
    PrincipalSource,
    PrincipalType,
    QuoteType,
    RediscoveryPolicy,
    SmnNotifyType,
    SyncObject,
    UpdateJobRequest,
)
from tests.reliability.recorder import Row
from tests.reliability.specs import discovery_spec, migration_spec, permission_spec

DEFAULT_INSTANCE = "conn-default-instance"
CTX = {"default_instance_id": DEFAULT_INSTANCE}
EXAMPLES = 150
PROFILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
RANDOM = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# ------------------------------------------------------------------------------------- strategies

#: Any Unicode text that encodes as UTF-8 (no lone surrogates).
utf8_char = st.characters(exclude_categories=("Cs",))
text = st.text(utf8_char, max_size=40)
required_text = st.text(utf8_char, min_size=1, max_size=40)
word = string.ascii_letters + string.digits
name = st.text(word + "_", min_size=4, max_size=255)
username = st.text(word, min_size=1, max_size=255)
principal_name = st.text(word + "_.-", min_size=1, max_size=49)
file_name = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters='<>:"/\\|?*'), min_size=1, max_size=40
)


def enum(cls: Any) -> st.SearchStrategy[str]:
    return st.sampled_from([m.value for m in cls])


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, an explicit ``None`` (left out on the wire) or a missing key (``_MISSING``)."""
    return st.one_of(strategy, st.none(), st.just(_MISSING))


_MISSING = object()


@st.composite
def block(
    draw: st.DrawFn, required: dict[str, st.SearchStrategy[Any]], opt: dict[str, st.SearchStrategy[Any]]
) -> dict[str, Any]:
    out = {k: draw(s) for k, s in required.items()}
    for k, s in opt.items():
        value = draw(optional(s))
        if value is not _MISSING:
            out[k] = value
    return out


instance_id = optional(required_text)  # missing/None -> filled from the connection

datasource = block(
    {},
    {
        "jdbc_url": text,
        "username": username,
        "password": text,
        "endpoint": text,
        "access_key": text,
        "secret_key": text,
        "subnet_ip": text,
    },
)
migration_block = block(
    {
        "datasource_type": enum(DatasourceType),
        "datasource_parameter": datasource,
        "source_catalog": required_text,
        "target_catalog": required_text,
        "conflict_strategy": st.just("UPSERT"),
        "log_location": required_text,
        "sync_objects": st.lists(enum(SyncObject), min_size=1, max_size=4, unique=True),
        "locations": st.lists(
            st.fixed_dictionaries({"key": required_text, "value": required_text}), max_size=20
        ),
    },
    {
        "default_owner": text,
        "instance_id": required_text,
        "ignore_obs_checked": st.booleans(),
        "network_type": enum(NetworkType),
        "accepted_vpc_id": text,
    },
)
relas = block(
    {},
    {
        f"{who}_{what}": (enum(PrincipalConversion) if what == "to" else text)
        for who in ("user", "group", "role")
        for what in ("to", "prefix", "suffix")
    },
)
permission_block = block(
    {"location": required_text, "log_location": required_text, "policy_type": enum(PolicyType)},
    {
        "file_name": file_name,
        "catalog_id": text,
        "instance_id": required_text,
        "ranger_permission_migration_principal_relas": relas,
    },
)
principal = st.fixed_dictionaries(
    {
        "principal_type": enum(PrincipalType),
        "principal_source": enum(PrincipalSource),
        "principal_name": principal_name,
    }
)


def _num(lo: int, hi: int) -> st.SearchStrategy[Any]:
    """A schedule number, sent as int or as string (both accepted; the wire carries a string)."""
    return st.integers(lo, hi).flatmap(lambda n: st.sampled_from([n, str(n)]))


@st.composite
def schedule(draw: st.DrawFn) -> dict[str, Any]:
    strategy = draw(st.sampled_from([None, "MANNUAL", "SCHEDULE"]))
    out: dict[str, Any] = {} if strategy is None else {"execute_strategy": strategy}
    freq = draw(st.sampled_from([None, "MONTHLY", "WEEKLY", "DAILY", "HOURLY"]))
    if strategy == "SCHEDULE" and freq is None:
        freq = "DAILY"
    if freq is None:
        return out
    out["execute_frequency"] = freq
    values = {
        "execute_day": {"MONTHLY": _num(1, 31), "WEEKLY": _num(1, 7)}.get(freq, st.just("*")),
        "execute_hour": st.just("*") if freq == "HOURLY" else _num(0, 23),
        "execute_minute": _num(0, 59),
    }
    for key, strat in values.items():
        if strategy == "SCHEDULE" or draw(st.booleans()):
            out[key] = draw(strat)
    return out


discovery_block = st.builds(
    lambda base, sched: {**base, **sched},
    block(
        {
            "data_location": required_text,
            "target_catalog": required_text,
            "target_database": required_text,
            "conflict_strategy": enum(DiscoveryConflictStrategy),
            "file_discovery_type": enum(FileDiscoveryType),
            "log_location": required_text,
        },
        {
            "separator": text,
            "quote": enum(QuoteType),
            "escape": text,
            "header": st.booleans(),
            "file_sample_rate": st.integers(0, 100),
            "table_depth": st.integers(0, 10**6),
            "default_owner": text,
            "principals": st.lists(principal, max_size=5),
            "give_write": st.booleans(),
            "instance_id": required_text,
            "rediscovery_policy": enum(RediscoveryPolicy),
        },
    ),
    schedule(),
)

BLOCKS = {
    "METADATA_MIGRATION": ("metadata_migration_parameter", migration_block),
    "PERMISSION_MIGRATION": ("permission_migration_parameter", permission_block),
    "METADATA_DISCOVERY": ("metadata_discovery_parameter", discovery_block),
}


@st.composite
def smn(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    notify = draw(optional(st.booleans()))
    if notify is not _MISSING:
        out["smn_notify"] = notify
    topic = draw(st.one_of(required_text, st.none()) if notify is True else optional(text))
    if notify is True:
        out["smn_notify_topic"] = topic or "topic"
    elif topic is not _MISSING:
        out["smn_notify_topic"] = topic
    types = draw(optional(st.lists(enum(SmnNotifyType), max_size=3)))
    if types is not _MISSING:
        out["smn_notify_types"] = types
    return out


@st.composite
def valid_spec(draw: st.DrawFn, job_type: str | None = None) -> dict[str, Any]:
    job_type = job_type or draw(st.sampled_from(sorted(BLOCKS)))
    key, strat = BLOCKS[job_type]
    spec: dict[str, Any] = {
        "name": draw(name),
        "type": job_type,
        "parameter": {key: draw(strat), **draw(smn())},
    }
    description = draw(optional(st.one_of(text, st.text(utf8_char, min_size=3990, max_size=4000))))
    if description is not _MISSING:
        spec["description"] = description
    return spec


def normalised(spec: Any) -> Any:
    """What the wire must carry for ``spec``: ``None`` left out, everything else as given (schedule
    numbers too: integers stay integers, strings stay strings), the connection's instance filled into
    a parameter block without one."""
    if isinstance(spec, list):
        return [normalised(v) for v in spec]
    if not isinstance(spec, dict):
        return spec
    return {k: normalised(v) for k, v in spec.items() if v is not None}


def expected_wire(spec: dict[str, Any]) -> dict[str, Any]:
    out = normalised(spec)
    for key, value in out["parameter"].items():
        if key.endswith("_parameter") and not value.get("instance_id"):
            value["instance_id"] = DEFAULT_INSTANCE
    return out


# ------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("job_type", sorted(BLOCKS))
@PROFILE
@given(data=st.data())
def test_valid_specs_round_trip_to_exact_wire_json(job_type: str, data: st.DataObject, record: Row) -> None:
    record(
        "properties",
        f"valid {job_type} specs round-trip",
        "model_validate(d).to_wire() == normalised d (and stable, and as an update)",
    ).count(examples=EXAMPLES)
    spec = data.draw(valid_spec(job_type))
    original = copy.deepcopy(spec)
    request = CreateJobRequest.model_validate(spec, context=CTX)
    wire = request.to_wire()
    assert wire == expected_wire(spec)
    assert spec == original  # the caller's dict is not modified
    # the wire body is itself a valid spec and is stable
    assert CreateJobRequest.model_validate(wire).to_wire() == wire
    # the same spec without ``type`` is a valid update with the same body
    update = {k: v for k, v in spec.items() if k != "type"}
    assert UpdateJobRequest.model_validate(update, context=CTX).to_wire() == {
        k: v for k, v in wire.items() if k != "type"
    }


@PROFILE
@given(spec=valid_spec("METADATA_MIGRATION"), secret=st.text(word, min_size=6, max_size=30))
def test_secrets_hidden_in_repr_and_plain_dumps(spec: dict[str, Any], secret: str, record: Row) -> None:
    record(
        "properties",
        "datasource secrets in valid specs",
        "absent from repr/str/model_dump/model_dump_json, present only in to_wire()",
    ).count(examples=EXAMPLES)
    """password / access_key / secret_key show only in ``to_wire()``, never in repr, str or dumps."""
    values = {k: f"SeCrEt{k}{secret}" for k in ("password", "access_key", "secret_key")}
    spec["parameter"]["metadata_migration_parameter"]["datasource_parameter"].update(values)
    request = CreateJobRequest.model_validate(spec, context=CTX)
    for shown in (
        repr(request),
        str(request),
        str(request.model_dump()),
        request.model_dump_json(),
        repr(request.parameter.metadata_migration_parameter),
    ):
        for value in values.values():
            assert value not in shown
    ds = request.to_wire()["parameter"]["metadata_migration_parameter"]["datasource_parameter"]
    assert {k: ds[k] for k in values} == values


# -- random input

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["\udcff", "", " ", "*", "a" * 300, "METADATA_MIGRATION", "UPSERT"]),
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELD_NAMES = sorted(
    {
        *CreateJobRequest.model_fields,
        "metadata_migration_parameter",
        "permission_migration_parameter",
        "metadata_discovery_parameter",
        *migration_spec()["parameter"]["metadata_migration_parameter"],
        *discovery_spec()["parameter"]["metadata_discovery_parameter"],
        *permission_spec()["parameter"]["permission_migration_parameter"],
        "password",
        "username",
    }
)
spec_like = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), children, max_size=6),
    ),
    max_leaves=30,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_spec(draw: st.DrawFn) -> Any:
    """A valid spec with one node replaced by random JSON (or deleted)."""
    spec = draw(valid_spec())
    paths = [p for p in _paths(spec) if p]
    path = draw(st.sampled_from(paths))
    parent = spec
    for p in path[:-1]:
        parent = parent[p]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_value)
    return spec


def _validate(obj: Any, model: Any = CreateJobRequest) -> None:
    try:
        model.model_validate(obj, context=CTX)
    except ValidationError as exc:
        err = LakeFormationSpecError.from_validation_error("job spec", exc)
        assert err.problems
        assert all(isinstance(p, str) and p for p in err.problems)
        str(err).encode("utf-8")  # the message itself is printable


@RANDOM
@given(obj=st.one_of(json_value, spec_like, st.from_type(object), st.from_type(dict)))
def test_random_input_raises_only_validation_errors(obj: Any, record: Row) -> None:
    record(
        "properties",
        "random JSON / from_type input (create and update)",
        "only pydantic ValidationError, convertible to LakeFormationSpecError",
    ).count(examples=300)
    _validate(obj)
    _validate(obj, UpdateJobRequest)


@RANDOM
@given(spec=mutated_spec())
def test_mutated_specs_raise_only_validation_errors(spec: Any, record: Row) -> None:
    record(
        "properties",
        "valid spec with one node replaced by random JSON or deleted",
        "valid, or only ValidationError",
    ).count(examples=300)
    _validate(spec)


MARK = "Zq9SecretMarkerXy"


@RANDOM
@given(
    spec=mutated_spec(),
    where=st.sampled_from(["password", "access_key", "secret_key", "name", "description", "username"]),
)
def test_spec_errors_never_echo_input_values(spec: Any, where: str, record: Row) -> None:
    record(
        "properties",
        "invalid value in a secret / name / description field",
        "the value never appears in the error text",
    ).count(examples=300)
    """A bad value never appears in the error text (so a misplaced password is not logged)."""
    spec = copy.deepcopy(spec)
    bad = f"{MARK}-\udcff"  # invalid everywhere: lone surrogate, and a '-' not allowed in names
    if where in ("password", "access_key", "secret_key", "username"):
        mig = migration_spec()
        mig["parameter"]["metadata_migration_parameter"]["datasource_parameter"][where] = bad
        spec = mig
    else:
        if not isinstance(spec, dict):
            spec = {}
        spec[where] = bad
    with pytest.raises(ValidationError) as info:
        CreateJobRequest.model_validate(spec, context=CTX)
    assert MARK not in str(LakeFormationSpecError.from_validation_error("job spec", info.value))
    assert MARK not in str(info.value)
