"""Operator hardening (issue #13 findings 8 and 11) against the emulator over real HTTP: a JSON-string
job spec that does not parse never shows its password in the rendered field, a log line or the
error; the stop operator without waiting pushes a status read after the stop; a failed run's error
quotes the job log's last error line; the delete operator pushes ``console_url`` and has the extra
link. Each test is a row of docs/reliability.md with what it saw."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import redact

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import (
    LakeFormationJobFailedError,
    LakeFormationNotFoundError,
    LakeFormationSpecError,
)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.links.lakeformation import LakeFormationJobLink
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.operators._spec_templating import UNREADABLE_SPEC
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationUpdateJobOperator,
)
from tests.integration.test_operators_support import make_context, migration_spec, outcome, xcoms
from tests.reliability.recorder import Row

CATEGORY = "operators"
POLL = 0.1

#: Passwords that break a JSON template when pasted in unescaped, and a spec broken otherwise.
BAD_PASSWORDS = {
    "double quote": 'pa"ss-SECRET-8812',
    "backslash": "pa\\ss-SECRET-8813",
    "newline": "pa\nss-SECRET-8815",
}
TEMPLATE = (
    '{"name": "string_spec_job", "type": "METADATA_MIGRATION", "parameter": '
    '{"metadata_migration_parameter": {"datasource_type": "MRS_RDS_FOR_MYSQL", '
    '"datasource_parameter": {"jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive", "username": "hiveuser", '
    '"password": "{{ pw }}"}, "source_catalog": "hive", "target_catalog": "lf", '
    '"conflict_strategy": "UPSERT", "log_location": "obs://b/l/", "sync_objects": ["TABLE"], '
    '"locations": []}}}'
)


@pytest.fixture(autouse=True)
def _conn(lf_conn: Callable[..., str]) -> str:
    return lf_conn()


def _job(hook: LakeFormationHook, name: str, markers: str = "") -> str:
    return hook.create_job(migration_spec(name, markers=markers)).id


def _requests(server: EmulatorServer) -> int:
    return int(server.stats()["requests"])


@pytest.mark.parametrize("operator", ["create", "update"])
@pytest.mark.parametrize("kind", [*BAD_PASSWORDS, "trailing comma"])
def test_unparsable_string_spec_never_shows_the_password(
    emulator: EmulatorServer, record: Row, caplog: pytest.LogCaptureFixture, kind: str, operator: str
) -> None:
    record(
        CATEGORY,
        f"#13.8 {operator} operator, JSON-string spec, password with {kind}",
        "rendered field, redacted view, logs and error hold no password; refused before HTTP",
    )
    password = BAD_PASSWORDS.get(kind, "plain-SECRET-8816")
    template = TEMPLATE if kind in BAD_PASSWORDS else TEMPLATE[:-1] + ",}"
    op: LakeFormationCreateJobOperator | LakeFormationUpdateJobOperator
    if operator == "create":
        op = LakeFormationCreateJobOperator(task_id="create", job=template)
    else:
        op = LakeFormationUpdateJobOperator(task_id="update", job_id="some-job", job=template)
    caplog.set_level(logging.DEBUG)
    before = _requests(emulator)
    op.render_template_fields({"pw": password})
    rendered = json.dumps(redact(op.job, "job"))
    with pytest.raises(LakeFormationSpecError) as info:
        op.execute(make_context())
    assert op.job == UNREADABLE_SPEC  # the field Airflow stores and shows
    seen = [text for text in (rendered, str(info.value), caplog.text) if password in text]
    sent = _requests(emulator) - before
    record.count(shown=len(seen), requests=sent)
    assert seen == []
    assert sent == 0
    assert "not valid JSON" in str(info.value)


@pytest.mark.parametrize(
    ("kind", "password"),
    [("no escaping needed", "plain-SECRET-8817"), ("an escaped quote in the text", 'SECRET-8814\\"')],
)
def test_valid_string_spec_is_still_accepted_and_masked(
    emulator: EmulatorServer, record: Row, kind: str, password: str
) -> None:
    record(
        CATEGORY,
        f"#13.8 JSON-string spec that parses, password with {kind}",
        "created; the redacted rendered field hides the password as written and as sent",
    )
    op = LakeFormationCreateJobOperator(task_id="create", job=TEMPLATE)
    op.render_template_fields({"pw": password})
    shown = str(redact(op.job, "job"))
    sent = json.loads(op.job)["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["password"]
    job_id = op.execute(make_context())
    record.count(shown=int(password in shown or sent in shown), requests=1)
    assert password not in shown
    assert sent not in shown
    assert LakeFormationHook("lakeformation_default").get_job(job_id).name == "string_spec_job"


@pytest.mark.parametrize("stop_seconds", [0.0, 30.0])
def test_stop_without_wait_pushes_the_status_after_the_stop(
    emulator: EmulatorServer, hook: LakeFormationHook, record: Row, stop_seconds: float
) -> None:
    record(
        CATEGORY,
        f"#13.11 stop operator, wait_for_stop=False, service applies the stop after {stop_seconds:g} s",
        "job_status pushed = the status read after the stop was accepted (never the one before)",
    )
    emulator.configure(stop_seconds=stop_seconds)
    job_id = _job(hook, "stop_nowait", outcome(duration=60))
    hook.start_job(job_id)
    context = make_context()
    LakeFormationStopJobOperator(task_id="stop", job_id=job_id).execute(context)
    pushed = xcoms(context)["job_status"]
    now = hook.get_job_status(job_id)
    record.count(pushed=pushed, status_after=now.value)
    if stop_seconds == 0:
        assert pushed == "STOPPED"
    else:
        assert pushed in ("SUBMITTED", "RUNNING")  # the stop is accepted, not applied yet: the truth
    assert pushed == now.value


def test_failure_error_quotes_the_job_logs_last_error_line(
    emulator: EmulatorServer, hook: LakeFormationHook, record: Row
) -> None:
    record(
        CATEGORY,
        "#13.11 a run that ends FAILED (start operator, sync wait)",
        "the exception text carries the job log's last error line",
    )
    job_id = _job(hook, "fails_with_cause", outcome("FAILED", duration=0.2))
    op = LakeFormationStartJobOperator(task_id="start", job_id=job_id, poll_interval=POLL, deferrable=False)
    with pytest.raises(LakeFormationJobFailedError) as info:
        op.execute(make_context())
    log = hook.get_job_log(job_id).log
    error_lines = [line for line in log.splitlines() if " ERROR " in line]
    record.count(error_lines=len(error_lines))
    assert error_lines
    assert f"last error in the job log: {error_lines[-1].strip()}" in str(info.value)


def test_delete_pushes_console_url_and_has_the_extra_link(
    emulator: EmulatorServer, hook: LakeFormationHook, record: Row
) -> None:
    record(
        CATEGORY,
        "#13.11 delete operator",
        "pushes job_id and console_url, has the LakeFormation Job extra link",
    )
    job_id = _job(hook, "to_delete")
    context = make_context()
    op = LakeFormationDeleteJobOperator(task_id="delete", job_id=job_id)
    assert op.execute(context) == job_id
    pushed: dict[str, Any] = xcoms(context)
    links = [type(link).__name__ for link in op.operator_extra_links]
    record.count(xcoms=",".join(sorted(pushed)), links=",".join(links))
    assert pushed == {"job_id": job_id, "console_url": emulator.console_url(job_id)}
    assert any(isinstance(link, LakeFormationJobLink) for link in op.operator_extra_links)
    with pytest.raises(LakeFormationNotFoundError):
        hook.get_job(job_id)  # and the job is gone


def test_stop_asks_to_stop_a_job_in_an_unknown_status(
    emulator: EmulatorServer, hook: LakeFormationHook, record: Row
) -> None:
    record(
        CATEGORY,
        "#12.1 stop operator on a job reporting a status the client does not know (QUEUED)",
        "the stop is sent (the run may be under way); the wait ends on the real status",
    )
    job_id = _job(hook, "stop_unknown", outcome(duration=60))
    hook.start_job(job_id)
    emulator.report_status(job_id, "QUEUED")
    stops_before = int(emulator.stats().get("stops", {}).get(job_id, 0))
    context = make_context()
    LakeFormationStopJobOperator(task_id="stop", job_id=job_id).execute(context)
    emulator.report_status(job_id, None)
    stops = int(emulator.stats().get("stops", {}).get(job_id, 0)) - stops_before
    record.count(stops=stops, pushed=xcoms(context)["job_status"])
    assert stops == 1
    assert hook.get_job_status(job_id) is JobStatus.STOPPED
