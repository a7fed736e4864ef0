"""Bad input: invalid job specs, connection settings and operator arguments fail with a
``LakeFormationSpecError`` naming the field and the rule, before any HTTP request (the emulator's
request counter stays at zero). Each spec goes through the models, the hook and the operators."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models import CreateJobRequest, UpdateJobRequest
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationUpdateJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.reliability.bad_input_cases import CONN_CASES, SPEC_CASES, ConnCase, SpecCase
from tests.reliability.harness import FAST_RETRY, make_context
from tests.reliability.recorder import Row


def check_error(err: BaseException, field: str, rule: str) -> str:
    """``err`` is a LakeFormationSpecError whose text names ``field`` (regex) and ``rule`` (regex)."""
    assert isinstance(err, LakeFormationSpecError), f"{type(err).__name__}: {err}"
    text = str(err)
    assert re.search(field, text), f"field {field!r} not named in: {text}"
    assert re.search(rule, text, re.IGNORECASE), f"rule {rule!r} not named in: {text}"
    return text


def no_requests(emulator: EmulatorServer) -> None:
    stats = emulator.stats()
    assert stats["requests"] == 0, f"HTTP requests were made: {stats['by_route']}"


def raises_spec_error(fn: Callable[[], Any]) -> LakeFormationSpecError:
    with pytest.raises(LakeFormationSpecError) as info:
        fn()
    return info.value


def _field_regex(case: SpecCase) -> str:
    return re.escape(case.field.split(".")[-1]) if case.field else ""


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.id for c in SPEC_CASES])
def test_invalid_job_spec(
    case: SpecCase, emulator: EmulatorServer, lf_conn: Callable[..., str], record: Row
) -> None:
    conn_id = lf_conn()
    field = _field_regex(case)
    ctx = {"default_instance_id": "inst"}
    # the model itself
    with pytest.raises(ValidationError) as info:
        CreateJobRequest.model_validate(case.build(), context=ctx)
    check_error(LakeFormationSpecError.from_validation_error("job spec", info.value), field, case.rule)
    # the hook
    hook = LakeFormationHook(conn_id)
    text = check_error(raises_spec_error(lambda: hook.create_job(case.build())), field, case.rule)
    # the create operator (constructed and executed with a minimal context)
    check_error(
        raises_spec_error(
            lambda: LakeFormationCreateJobOperator(
                task_id="create", job=case.build(), lakeformation_conn_id=conn_id
            ).execute(make_context())
        ),
        field,
        case.rule,
    )
    paths = "model, hook.create_job, CreateJobOperator"
    if case.update_too:
        spec = case.build()
        spec.pop("type", None)
        with pytest.raises(ValidationError):
            UpdateJobRequest.model_validate(spec, context=ctx)
        check_error(raises_spec_error(lambda: hook.update_job("job-1", spec)), field, case.rule)
        check_error(
            raises_spec_error(
                lambda: LakeFormationUpdateJobOperator(
                    task_id="update", job_id="job-1", job=spec, lakeformation_conn_id=conn_id
                ).execute(make_context())
            ),
            field,
            case.rule,
        )
        paths += ", hook.update_job, UpdateJobOperator"
    no_requests(emulator)
    record("bad_input", case.id, text.removeprefix("invalid job spec: ")).count(requests=0, paths=paths)


def _conn(emulator: EmulatorServer, case: ConnCase) -> dict[str, Any]:
    conn = emulator.connection("aksk")
    conn["extra"].update(FAST_RETRY)
    conn["extra"].update(case.extra)
    for key in case.drop:
        conn["extra"].pop(key, None)
    for key, value in case.conn.items():
        if value is None:
            conn.pop(key, None)
        else:
            conn[key] = value
    return conn


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=c.xfail)) if c.xfail else c
        for c in CONN_CASES
    ],
    ids=[c.id for c in CONN_CASES],
)
def test_invalid_connection(
    case: ConnCase, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    record("bad_input", f"connection: {case.id}", "")
    monkeypatch.setenv("AIRFLOW_CONN_LF_BAD", json.dumps(_conn(emulator, case)))
    err = raises_spec_error(lambda: LakeFormationHook("lf_bad").get_job("job-1"))
    text = check_error(err, case.field, case.rule)
    check_error(raises_spec_error(lambda: LakeFormationHook("lf_bad").settings), case.field, case.rule)
    check_error(
        raises_spec_error(
            lambda: LakeFormationStartJobOperator(
                task_id="start", job_id="job-1", lakeformation_conn_id="lf_bad", deferrable=False
            ).execute(make_context())
        ),
        case.field,
        case.rule,
    )

    async def via_async_client() -> None:
        async with LakeFormationHook("lf_bad").async_client() as api:
            await api.get_job("job-1")

    check_error(raises_spec_error(lambda: asyncio.run(via_async_client())), case.field, case.rule)
    # the trigger turns it into an error event instead of crashing the triggerer
    from tests.reliability.harness import first_event

    event = asyncio.run(first_event(LakeFormationJobTrigger("job-1", "lf_bad", poll_interval=0.01)))
    assert event["status"] == "error"
    assert re.search(case.field, event["message"])
    no_requests(emulator)
    record(
        "bad_input",
        f"connection: {case.id}",
        text.removeprefix("invalid LakeFormation connection 'lf_bad': "),
    ).count(requests=0, paths="hook, async client, StartJobOperator, trigger")


# ------------------------------------------------------------------------------ operator arguments

ARG_CASES: list[tuple[str, Callable[[str], Any], str, str]] = [
    (
        "start_mode_unknown",
        lambda c: LakeFormationStartJobOperator(
            task_id="t", job_id="j", mode="FAST", lakeformation_conn_id=c
        ),
        "mode",
        "NORMAL",
    ),
    (
        "start_cascade_not_bool",
        lambda c: LakeFormationStartJobOperator(
            task_id="t", job_id="j", cascade="maybe", lakeformation_conn_id=c
        ),
        "cascade",
        "true or false",
    ),
    (
        "start_job_id_empty",
        lambda c: LakeFormationStartJobOperator(task_id="t", job_id=" ", lakeformation_conn_id=c),
        "job_id",
        "non-empty",
    ),
    (
        "start_poll_interval_zero",
        lambda c: LakeFormationStartJobOperator(
            task_id="t", job_id="j", poll_interval=0, lakeformation_conn_id=c
        ),
        "poll_interval",
        "greater than 0",
    ),
    (
        "start_timeout_negative",
        lambda c: LakeFormationStartJobOperator(task_id="t", job_id="j", timeout=-1, lakeformation_conn_id=c),
        "timeout",
        "greater than 0",
    ),
    (
        "create_if_exists_unknown",
        lambda c: LakeFormationCreateJobOperator(
            task_id="t", job={}, if_exists="replace", lakeformation_conn_id=c
        ),
        "if_exists",
        "one of",
    ),
    (
        "create_job_not_json",
        lambda c: LakeFormationCreateJobOperator(task_id="t", job="{not json", lakeformation_conn_id=c),
        "job",
        "JSON object",
    ),
    (
        "stop_job_id_none",  # neither job_id nor job_name
        lambda c: LakeFormationStopJobOperator(task_id="t", job_id=None, lakeformation_conn_id=c),
        "job_id",
        "exactly one",
    ),
    (
        "delete_stop_timeout_zero",
        lambda c: LakeFormationDeleteJobOperator(
            task_id="t", job_id="j", stop_timeout=0, lakeformation_conn_id=c
        ),
        "stop_timeout",
        "greater than 0",
    ),
    (
        "update_type_unknown",
        lambda c: LakeFormationUpdateJobOperator(
            task_id="t", job_id="j", job={**_spec(), "type": "SYNC"}, lakeformation_conn_id=c
        ),
        "type",
        "one of",
    ),
    (
        "sensor_target_unknown",
        lambda c: LakeFormationJobSensor(
            task_id="t", job_id="j", target_states=["DONE"], lakeformation_conn_id=c
        ),
        "target_states",
        "unknown job status",
    ),
    (
        "sensor_states_overlap",
        lambda c: LakeFormationJobSensor(
            task_id="t",
            job_id="j",
            target_states=["SUCCESS"],
            failure_states=["SUCCESS", "FAILED"],
            lakeformation_conn_id=c,
        ),
        "failure_states",
        "overlaps",
    ),
    ("hook_job_id_dotdot", lambda c: LakeFormationHook(c).get_job(".."), "job_id", "non-empty"),
    (
        "hook_list_limit_0",
        lambda c: LakeFormationHook(c).list_jobs("METADATA_MIGRATION", limit=0),
        "limit",
        "from 1",
    ),
    (
        "hook_list_offset_1001",
        lambda c: LakeFormationHook(c).list_jobs("METADATA_MIGRATION", offset=1001),
        "offset",
        "from 0 to 1000",
    ),
    ("hook_list_type_unknown", lambda c: LakeFormationHook(c).list_jobs("SYNC"), "job_type", "one of"),
    (
        "hook_list_status_unknown",
        lambda c: LakeFormationHook(c).list_jobs("METADATA_MIGRATION", status="DONE"),
        "status",
        "one of",
    ),
    ("hook_start_mode_unknown", lambda c: LakeFormationHook(c).start_job("j", mode="FAST"), "mode", "NORMAL"),
]


def _spec() -> dict[str, Any]:
    from tests.reliability.specs import migration_spec

    spec = migration_spec()
    spec.pop("type")
    return spec


@pytest.mark.parametrize(("name", "build", "field", "rule"), ARG_CASES, ids=[c[0] for c in ARG_CASES])
def test_invalid_arguments(
    name: str,
    build: Callable[[str], Any],
    field: str,
    rule: str,
    emulator: EmulatorServer,
    lf_conn: Callable[..., str],
    record: Row,
) -> None:
    """Bad operator / hook arguments: found at construction or at the start of execute, no HTTP."""
    conn_id = lf_conn()

    def run() -> None:
        made = build(conn_id)
        if hasattr(made, "execute"):
            made.execute(make_context())

    text = check_error(raises_spec_error(run), re.escape(field), rule)
    no_requests(emulator)
    record("bad_input", f"argument: {name}", text).count(requests=0)
