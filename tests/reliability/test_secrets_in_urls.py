"""Secrets outside the named secret fields (issue #24 items 3 and 6), over real HTTP:

* credentials written inside a URL (``jdbc:mysql://root:PW@db/hive``, ``...?password=PW``,
  ``obs://ak:SK@bucket/...``) never reach an asset name (``datasets_for_spec``, at DAG parse), an
  OpenLineage dataset of the job read back from the emulator, or the rendered ``job`` field (also as a
  JSON string, also with a ``"password"`` key given twice);
* a job read from a server whose parameter block fails the strict model (kept as a dict) or that
  echoes a token shows no secret in ``repr``, ``model_dump_json`` or a validation error.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_lakeformation.exceptions import LakeFormationJobFailedError, LakeFormationResponseError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.lineage.naming import datasets_for_spec, job_datasets
from airflow_provider_lakeformation.models import CreateJobRequest, Job
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationUpdateJobOperator,
)
from tests.compat import serialize_rendered_fields
from tests.reliability.harness import FAST_RETRY, Deferral, FakeTI, make_context, run_task
from tests.reliability.recorder import Row
from tests.reliability.servers import CannedServer, Reply
from tests.reliability.specs import discovery_spec, migration_spec, with_outcome

CATEGORY = "secrets"


def _fresh(label: str) -> str:
    """A value no other test registered with the (process-wide) secrets masker."""
    return f"{label}Secret{uuid.uuid4().hex[:10]}"


def _url_specs() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A migration spec whose jdbc_url carries a userinfo password and a ``password`` parameter, a
    discovery spec whose OBS location carries ``ak:sk@``; and every secret value in them."""
    pw, query_pw, ak, sk = (_fresh(x) for x in ("UserInfo", "Query", "ObsAk", "ObsSk"))
    migration = migration_spec(f"rel_url_{uuid.uuid4().hex[:6]}", secrets=False)
    ds = migration["parameter"]["metadata_migration_parameter"]["datasource_parameter"]
    ds["jdbc_url"] = f"jdbc:mysql://root:{pw}@db.internal:3306/hive?useSSL=true&password={query_pw}"
    discovery = discovery_spec(f"rel_url_{uuid.uuid4().hex[:6]}")
    discovery["parameter"]["metadata_discovery_parameter"]["data_location"] = (
        f"obs://{ak}:{sk}@bucket/landing/"
    )
    return migration, discovery, [pw, query_pw, ak, sk]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def test_url_credentials_stay_out_of_names_and_rendered_fields(
    lf_conn: Callable[..., str], record: Row
) -> None:
    record(
        CATEGORY,
        "credentials inside URLs (jdbc userinfo, ?password=, obs://ak:sk@) in a job spec",
        "absent from asset names (DAG parse), OpenLineage datasets of the job read back from the "
        "emulator, the rendered job field (dict and JSON string) and the request model's repr and "
        "dumps (the body sent keeps them)",
    )
    conn_id = lf_conn()
    migration, discovery, secrets = _url_specs()
    names: list[str] = []
    for spec in (migration, discovery):
        found = datasets_for_spec(spec, region="cn-north-4", instance_id="inst")
        names += [d.namespace + " " + d.name + " " + d.uri for d in (*found.inputs, *found.outputs)]
    assert "mysql://db.internal:3306" in " ".join(names)  # the host still names the source
    rendered: list[str] = []
    lineage: list[str] = []
    for spec in (migration, discovery):
        for job in (spec, json.dumps(spec)):
            op = LakeFormationCreateJobOperator(
                task_id="c", job=job, if_exists="reuse", lakeformation_conn_id=conn_id
            )
            ctx = make_context(FakeTI())
            op.render_template_fields(ctx)
            rendered.append(json.dumps(serialize_rendered_fields(op)))
            job_id = run_task(op, ctx)
            read = LakeFormationHook(conn_id).get_job(job_id)
            found = job_datasets(read, "cn-north-4")
            assert found is not None
            assert found.inputs
            lineage += [f"{d.namespace} {d.name}" for d in found.inputs]
    assert not _leaks(" ".join(names), secrets), names
    assert not _leaks(" ".join(lineage), secrets), lineage
    assert not _leaks(" ".join(rendered), secrets), rendered
    assert all("***" in text for text in rendered), "no secret reached redact"
    request = CreateJobRequest.model_validate(migration, context={"default_instance_id": "inst"})
    shown = [repr(request), str(request), request.model_dump_json(), str(request.model_dump())]
    assert not _leaks(" ".join(shown), secrets), shown
    assert _leaks(json.dumps(request.to_wire()), secrets)  # the body sent keeps them
    record.count(texts=len(names) + len(lineage) + len(rendered) + len(shown))


@pytest.mark.parametrize("op_name", ["create", "update"])
def test_json_spec_with_a_password_key_given_twice(op_name: str, record: Row) -> None:
    record(
        CATEGORY,
        f'JSON-string job spec with "password" given twice ({op_name} operator)',
        "neither value shows in the rendered job field",
    )
    first, second = _fresh("FirstPw"), _fresh("SecondPw")
    spec = migration_spec("rel_dup_key", secrets=False)
    text = json.dumps(spec)
    marker = '"username": "hiveuser"'
    text = text.replace(marker, f'{marker}, "password": "{first}", "password": "{second}"')
    assert text.count('"password"') == 2
    if op_name == "create":
        op: Any = LakeFormationCreateJobOperator(task_id="c", job=text)
    else:
        op = LakeFormationUpdateJobOperator(task_id="u", job_id="j", job=text.replace('"type": ', '"_t": '))
    op.render_template_fields(make_context())
    rendered = json.dumps(serialize_rendered_fields(op))
    assert not _leaks(rendered, [first, second]), rendered
    record.count(texts=1)


# ------------------------------------------------------------------ jobs read from a (canned) server

TOKEN = "canned-token-value-4471"


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[CannedServer, str]]]:
    servers: list[CannedServer] = []

    def make(reply: Reply | Callable[[str, str], Reply]) -> tuple[CannedServer, str]:
        server = CannedServer(reply).__enter__()
        servers.append(server)
        conn = {
            "conn_type": "lakeformation",
            "host": server.url,
            "password": TOKEN,
            "extra": {"project_id": "p1", "instance_id": "i1", "auth_type": "token", **FAST_RETRY},
        }
        monkeypatch.setenv("AIRFLOW_CONN_LF_URL_CANNED", json.dumps(conn))
        return server, "lf_url_canned"

    yield make
    for server in servers:
        server.__exit__()


def _loose_job(secrets: dict[str, str]) -> dict[str, Any]:
    """A job whose migration block fails the strict model (an unknown field), so it is kept as a
    dict, holding datasource secrets, a credential URL and an echoed token."""
    spec = copy.deepcopy(migration_spec("rel_loose", secrets=False))
    block = spec["parameter"]["metadata_migration_parameter"]
    block["datasource_parameter"].update(
        password=secrets["password"],
        access_key=secrets["access_key"],
        secret_key=secrets["secret_key"],
        jdbc_url=f"jdbc:mysql://root:{secrets['url']}@db:3306/hive",
        field_added_later=1,
    )
    return {
        "id": "job-loose",
        "status": "RUNNING",
        "type": spec["type"],
        "parameter": spec["parameter"],
        "token": secrets["token"],
        "X-Auth-Token": TOKEN,
    }


def test_job_read_from_server_masks_secrets_by_key(
    canned: Callable[..., tuple[CannedServer, str]], record: Row
) -> None:
    record(
        CATEGORY,
        "job reply whose parameter block fails the strict model, with datasource secrets, a "
        "credential URL and an echoed token",
        "absent from repr, str, model_dump_json of the job and the page",
    )
    secrets = {k: _fresh(k) for k in ("password", "access_key", "secret_key", "url", "token")}
    job = _loose_job(secrets)
    page = {"total": 1, "jobs": [job], "token": secrets["token"]}
    server, conn_id = canned(lambda method, path: Reply(200, page if "?" in path else job))
    hook = LakeFormationHook(conn_id)
    read = hook.get_job("job-loose")
    assert isinstance(read.parameter, dict), "the block should have failed the strict model"
    listed = hook.list_jobs("METADATA_MIGRATION")
    texts = [repr(read), str(read), read.model_dump_json(), str(read.model_dump()), repr(listed)]
    texts += [listed.model_dump_json(), repr(Job.model_validate(job))]
    leaks = _leaks(" ".join(texts), [*secrets.values(), TOKEN])
    assert not leaks, leaks
    record.count(requests=server.requests, texts=len(texts))


def test_secret_in_a_status_object_stays_out_of_the_error(
    canned: Callable[..., tuple[CannedServer, str]], record: Row
) -> None:
    record(
        CATEGORY,
        "job reply whose status is an object keyed by a secret",
        "the validation error names the field and the type, not the value",
    )
    secret = _fresh("KeyedStatus")
    body = {"id": "job-1", "status": {secret: "RUNNING"}}
    with pytest.raises(ValidationError) as direct:
        Job.model_validate(body)
    server, conn_id = canned(Reply(200, body))
    with pytest.raises(LakeFormationResponseError) as info:
        LakeFormationHook(conn_id).get_job("job-1")
    # the problem the client states (the hook's error also quotes the reply's body, as it came)
    problem = str(info.value).split("; body: ")[0]
    assert "status must be a string or an object with a 'status' string, got dict" in problem
    assert secret not in problem
    assert secret not in str(direct.value)
    record.count(requests=server.requests)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_job_log_echoing_a_credential_url_is_not_passed_on(
    deferrable: bool,
    lf_conn: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    record: Row,
) -> None:
    record(
        CATEGORY,
        f"failed run whose job log echoes obs://ak:sk@ ({'deferrable' if deferrable else 'sync'} start)",
        "the task log's job-log tail, the exception and its log_tail show the URL without credentials",
    )
    conn_id = lf_conn()
    ak, sk = _fresh("EchoAk"), _fresh("EchoSk")
    spec = with_outcome(discovery_spec(f"rel_echo_{uuid.uuid4().hex[:6]}"), "[lf-emulator:outcome=FAILED]")
    spec["parameter"]["metadata_discovery_parameter"]["data_location"] = f"obs://{ak}:{sk}@bucket/landing/"
    job_id = LakeFormationHook(conn_id).create_job(spec).id  # no operator: nothing registered to mask
    op = LakeFormationStartJobOperator(
        task_id="start_echo",
        job_id=job_id,
        poll_interval=0.05,
        deferrable=deferrable,
        lakeformation_conn_id=conn_id,
    )
    deferrals: list[Deferral] = []
    with pytest.raises(LakeFormationJobFailedError) as info:
        run_task(op, make_context(FakeTI()), deferrals=deferrals)
    out, err = capsys.readouterr()
    texts = [out, err, caplog.text, str(info.value), str(info.value.log_tail)]
    assert not _leaks("\n".join(texts), [sk, ak])
    assert "obs://bucket/landing/" in str(info.value.log_tail)  # the tail was read and kept
    record.count(texts=len(texts), deferrals=len(deferrals))
