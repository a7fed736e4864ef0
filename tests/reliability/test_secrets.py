"""No secret ever shows: with distinctive values for the datasource password / access_key /
secret_key, the connection's AK/SK, temporary security token, IAM password, IAM-issued tokens and a
static token, every operator and the sensor run in both modes (sync and deferrable, the trigger run to
its event), including failures. None of the values may appear in:

logs (caplog, capsys, the ``airflow.task`` logger), exception texts and tracebacks, XCom pushes,
rendered template fields after Airflow's redact (as the task runner sends them), trigger
``serialize()`` kwargs, reprs of models / hook / settings, or the emulator's GET / list / log answers.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_lakeformation.auth import sign_request
from airflow_provider_lakeformation.auth import token_cache as token_cache_module
from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import (
    LakeFormationAuthError,
    LakeFormationError,
    LakeFormationJobFailedError,
    LakeFormationNotFoundError,
    LakeFormationSpecError,
)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models import CreateJobRequest
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationUpdateJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from tests.compat import serialize_rendered_fields
from tests.reliability.harness import FAST_RETRY, Deferral, FakeTI, make_context, run_task
from tests.reliability.recorder import Row
from tests.reliability.specs import DS_ACCESS_KEY, DS_PASSWORD, DS_SECRET_KEY, migration_spec, with_outcome

CREDS = {
    "ak": "AKSECRETVALUE4471",
    "sk": "SkSecretValue-8832",
    "token": "StaticTokenSecret-1187",
    "iam_password": "IamPasswordSecret-5530",
    "temp_ak": "TEMPAKSECRET2291",
    "temp_sk": "TempSkSecret-7710",
    "security_token": "SecurityTokenSecret-6628",
}
WRONG_SK = "WrongSkSecret-3391"
SECRETS = {
    "datasource password": DS_PASSWORD,
    "datasource access_key": DS_ACCESS_KEY,
    "datasource secret_key": DS_SECRET_KEY,
    **{f"connection {k}": v for k, v in CREDS.items()},
    "wrong SK": WRONG_SK,
}
AUTH_MODES = ["aksk", "aksk_temporary", "iam", "token"]


class Collected:
    """Every text a secret could leak into, by channel."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}

    def add(self, channel: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=repr)
        self.texts.setdefault(channel, []).append(text)

    def exception(self, exc: BaseException) -> None:
        self.add("exception text", str(exc))
        self.add("exception text", repr(exc))
        self.add("exception traceback", "".join(traceback.format_exception(exc)))

    def leaks(self, secrets: dict[str, str]) -> list[str]:
        found = []
        for channel, texts in self.texts.items():
            for text in texts:
                for name, secret in secrets.items():
                    if secret in text:
                        found.append(f"{name} in {channel}: ...{_around(text, secret)}...")
        return found


def _around(text: str, secret: str, width: int = 60) -> str:
    at = text.index(secret)
    return text[max(0, at - width) : at + len(secret) + width].replace("\n", " ")


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}")


@pytest.fixture
def task_logger() -> Iterator[_ListHandler]:
    handler = _ListHandler()
    logger = logging.getLogger("airflow.task")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def _connection(server: EmulatorServer, mode: str) -> dict[str, Any]:
    conn = server.connection("aksk" if mode == "aksk_temporary" else mode)
    if mode == "aksk_temporary":
        conn["login"], conn["password"] = server.temp_ak, server.temp_sk
        conn["extra"]["security_token"] = server.security_token
    conn["extra"].update(FAST_RETRY)
    return conn


def _raw_get(server: EmulatorServer, path: str) -> str:
    """The emulator's own answer (AK/SK-signed GET), before any client-side parsing."""
    url = server.api_url + path
    headers = sign_request("GET", url, {}, b"", server.ak, server.sk, project_id=server.project_id)
    return requests.get(url, headers=headers, timeout=10).text


def _op_channels(found: Collected, op: Any, ctx: dict[str, Any]) -> None:
    """Rendered fields after redact (as sent to the API server) and reprs of the operator's hook."""
    op.render_template_fields(ctx)
    found.add("rendered template fields", serialize_rendered_fields(op))
    hook = op.hook
    found.add("repr", repr(hook))
    found.add("repr", repr(hook.settings))
    found.add("repr", str(hook.settings))
    found.add("repr", hook.settings.model_dump_json())
    found.add("repr", str(hook.settings.model_dump()))


@pytest.mark.slow
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_no_secret_anywhere(
    auth: str,
    emulator_factory: Callable[..., EmulatorServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    task_logger: _ListHandler,
    record: Row,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = emulator_factory(**CREDS)
    monkeypatch.setenv("AIRFLOW_CONN_LF_SECRET", json.dumps(_connection(server, auth)))
    conn = {"lakeformation_conn_id": "lf_secret"}
    found = Collected()
    deferrals: list[Deferral] = []

    def task(op: Any, *, expect: type[BaseException] | None = None) -> Any:
        ti = FakeTI()
        ctx = make_context(ti)
        _op_channels(found, op, ctx)
        try:
            result = run_task(op, ctx, deferrals=deferrals)
        except BaseException as exc:
            found.exception(exc)
            if expect is None or not isinstance(exc, expect):
                raise
            result = None
        else:
            assert expect is None, f"{op.task_id} should have failed with {expect.__name__}"
        found.add("xcom", ti.xcoms)
        found.add("xcom", result)
        return result

    spec = migration_spec("rel_secret_job")
    job_id = task(LakeFormationCreateJobOperator(task_id="create", job=spec, **conn))
    update = {k: v for k, v in spec.items() if k != "type"}
    task(LakeFormationUpdateJobOperator(task_id="update", job_id=job_id, job=update, **conn))
    task(LakeFormationCreateJobOperator(task_id="create_again", job=spec, if_exists="update", **conn))
    for deferrable in (False, True):
        task(
            LakeFormationStartJobOperator(
                task_id="start", job_id=job_id, poll_interval=0.05, deferrable=deferrable, **conn
            )
        )
        # the sensor waits on a run started without waiting (so the deferrable one defers)
        task(LakeFormationStartJobOperator(task_id="kick", job_id=job_id, wait_for_completion=False, **conn))
        task(
            LakeFormationJobSensor(
                task_id="sense", job_id=job_id, poke_interval=0.05, timeout=30, deferrable=deferrable, **conn
            )
        )
    # failures: a failed run (exception carries the job log tail), in both modes
    failing = task(
        LakeFormationCreateJobOperator(
            task_id="create_failing",
            job=with_outcome(migration_spec("rel_secret_fail"), "[lf-emulator:outcome=FAILED]"),
            **conn,
        )
    )
    for deferrable in (False, True):
        task(
            LakeFormationStartJobOperator(
                task_id="start_fail", job_id=failing, poll_interval=0.05, deferrable=deferrable, **conn
            ),
            expect=LakeFormationJobFailedError,
        )
        task(
            LakeFormationStartJobOperator(
                task_id="kick_fail", job_id=failing, wait_for_completion=False, **conn
            )
        )
        task(
            LakeFormationJobSensor(
                task_id="sense_fail",
                job_id=failing,
                poke_interval=0.05,
                timeout=30,
                deferrable=deferrable,
                **conn,
            ),
            expect=LakeFormationJobFailedError,
        )
    # stop and delete a running job
    running = task(
        LakeFormationCreateJobOperator(
            task_id="create_long",
            job=with_outcome(migration_spec("rel_secret_long"), "[lf-emulator:duration=30]"),
            **conn,
        )
    )
    task(
        LakeFormationStartJobOperator(task_id="start_long", job_id=running, wait_for_completion=False, **conn)
    )
    task(
        LakeFormationStopJobOperator(
            task_id="stop", job_id=running, wait_for_stop=True, poll_interval=0.05, **conn
        )
    )
    task(LakeFormationDeleteJobOperator(task_id="delete", job_id=running, stop_if_running=True, **conn))
    # more failures: invalid spec carrying secrets, unknown job, wrong secret key
    bad = migration_spec("rel_secret_bad")
    bad["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["username"] = "not_valid!"
    task(LakeFormationCreateJobOperator(task_id="create_bad", job=bad, **conn), expect=LakeFormationSpecError)
    task(
        LakeFormationStartJobOperator(task_id="start_missing", job_id="no-such-job", **conn),
        expect=LakeFormationNotFoundError,
    )
    if auth in ("aksk", "aksk_temporary"):
        wrong = _connection(server, auth)
        wrong["password"] = WRONG_SK
        monkeypatch.setenv("AIRFLOW_CONN_LF_WRONG", json.dumps(wrong))
        task(
            LakeFormationStartJobOperator(
                task_id="start_wrong_sk", job_id=job_id, lakeformation_conn_id="lf_wrong"
            ),
            expect=LakeFormationAuthError,
        )

    # trigger kwargs as stored in the DB
    assert {d.method_name for d in deferrals} == {"execute_complete"}
    assert len(deferrals) == 4
    for d in deferrals:
        found.add("trigger serialize() kwargs", d.trigger.serialize())
        found.add("trigger event", d.event)
    # models and the emulator's own answers
    found.add("repr", repr(CreateJobRequest.model_validate(spec, context={"default_instance_id": "i"})))
    hook = LakeFormationHook("lf_secret")
    found.add("repr", repr(hook.get_job(job_id)))
    found.add("repr", hook.get_job(job_id).model_dump_json())
    found.add("emulator answers", _raw_get(server, f"/lf-jobs/{job_id}"))
    found.add("emulator answers", _raw_get(server, "/lf-jobs?type=METADATA_MIGRATION&limit=100"))
    found.add("emulator answers", _raw_get(server, f"/lf-jobs/{job_id}/history"))
    found.add("emulator answers", _raw_get(server, f"/lf-jobs/{failing}/log"))
    # IAM tokens the emulator issued during the run are secrets too
    secrets = dict(SECRETS)
    for cache in token_cache_module._SHARED.values():
        if cache.token is not None:
            secrets[f"IAM token ...{cache.token.value[-6:]}"] = cache.token.value
    if auth == "iam":
        assert any(k.startswith("IAM token") for k in secrets), "no IAM token was issued"
    # logs, last (everything above logged into them)
    out, err = capsys.readouterr()
    found.add("logs (stdout/stderr)", out + err)
    found.add("logs (caplog)", caplog.text)
    found.add("logs (caplog)", [f"{r.getMessage()} {r.args!r}" for r in caplog.records])
    found.add("logs (airflow.task)", task_logger.lines)
    # positive controls: the channels really hold what the checks search
    assert caplog.records, "nothing was logged: the log checks would prove nothing"
    assert job_id in out + err
    assert any("***" in t for t in found.texts["rendered template fields"]), "no secret reached redact"
    assert "job failed" in out + err, "the failed run's log tail was not logged"
    leaks = found.leaks(secrets)
    assert not leaks, "\n".join(leaks)
    record(
        "secrets",
        f"every operator + sensor, sync and deferrable, auth {auth}",
        f"{len(secrets)} secret values absent from {len(found.texts)} channels: "
        + ", ".join(sorted(found.texts)),
    ).count(texts=sum(len(v) for v in found.texts.values()), deferrals=len(deferrals))


def test_leak_detector_finds_a_leak() -> None:
    """Negative control: the detector does report a secret hidden in a long text."""
    found = Collected()
    found.add("logs", "x" * 500 + f"password={DS_PASSWORD}" + "y" * 500)
    found.exception(LakeFormationError(f"boom {CREDS['sk']}"))
    leaks = found.leaks(SECRETS)
    assert any("datasource password in logs" in leak for leak in leaks)
    assert any("connection sk in exception text" in leak for leak in leaks)


@pytest.mark.parametrize("op_name", ["create", "update"])
def test_json_string_spec_is_masked_in_rendered_fields(op_name: str, record: Row) -> None:
    """A spec rendered from a template arrives as a JSON string: its secrets must still be masked."""
    record(
        "secrets", f"job spec given as a JSON string ({op_name} operator)", "rendered 'job' field redacted"
    )
    spec = migration_spec("rel_json_spec")
    # fresh values: the secrets masker is process-wide and may know the DS_* constants already
    fresh = {k: f"JsonSpec{k}{uuid.uuid4().hex[:12]}" for k in ("password", "access_key", "secret_key")}
    spec["parameter"]["metadata_migration_parameter"]["datasource_parameter"].update(fresh)
    if op_name == "create":
        op: Any = LakeFormationCreateJobOperator(task_id="c", job=json.dumps(spec))
    else:
        spec.pop("type")
        op = LakeFormationUpdateJobOperator(task_id="u", job_id="j", job=json.dumps(spec))
    op.render_template_fields(make_context())
    rendered = json.dumps(serialize_rendered_fields(op))
    for secret in fresh.values():
        assert secret not in rendered
