"""The emulator driven through LakeFormationHook: every endpoint in every auth mode, error mapping,
retries on injected faults and no double start after an ambiguous failure."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer

hooks = pytest.importorskip(
    "airflow_provider_lakeformation.hooks.lakeformation",
    reason="airflow_provider_lakeformation.hooks.lakeformation (issue: hook) is not written yet",
)
LakeFormationHook = hooks.LakeFormationHook

from airflow_provider_lakeformation.auth import clear_shared_token_caches  # noqa: E402
from airflow_provider_lakeformation.exceptions import (  # noqa: E402
    LakeFormationAuthError,
    LakeFormationBadRequestError,
    LakeFormationConnectionError,
    LakeFormationNotFoundError,
    LakeFormationRetryableError,
)
from airflow_provider_lakeformation.models import JobStatus, JobType  # noqa: E402

from .test_emulator import discovery_spec, iam_body, migration_spec, mysql_migration_spec  # noqa: E402

#: Connection extras that keep retries fast.
FAST = {"max_retries": 3, "retry_min_wait": 0.01, "retry_max_wait": 0.05, "read_timeout": 5}
AUTH_MODES = ["aksk", "iam", "token", "aksk_temporary"]


@pytest.fixture(autouse=True)
def _fresh_token_caches() -> Iterator[None]:
    clear_shared_token_caches()
    yield
    clear_shared_token_caches()


def connect(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, auth: str = "aksk", **extra: Any
) -> LakeFormationHook:
    """Point ``lakeformation_default`` at ``server`` and return a hook on it."""
    conn = server.connection("aksk" if auth == "aksk_temporary" else auth)
    if auth == "aksk_temporary":
        conn.update(login=server.temp_ak, password=server.temp_sk)
        conn["extra"]["security_token"] = server.security_token
    conn["extra"].update({**FAST, **extra})
    monkeypatch.setenv("AIRFLOW_CONN_LAKEFORMATION_DEFAULT", json.dumps(conn))
    return LakeFormationHook()


def wait_for(hook: LakeFormationHook, job_id: str, *statuses: JobStatus, timeout: float = 10) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = hook.get_job_status(job_id)
        if status in statuses:
            return status  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"{job_id} stayed {status}"
        time.sleep(0.02)


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_every_endpoint_through_the_hook(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, auth: str
) -> None:
    hook = connect(emulator, monkeypatch, auth)
    ok, message = hook.test_connection()
    assert ok, message
    assert emulator.instance_id in message

    job = hook.create_job(mysql_migration_spec("hook_job"))
    assert job.status is JobStatus.CREATED
    assert hook.get_job(job.id).name == "hook_job"
    assert hook.get_job_status(job.id) is JobStatus.CREATED
    page = hook.list_jobs(JobType.METADATA_MIGRATION, name_pattern="hook_*", limit=5)
    assert page.total == 1
    assert [j.id for j in hook.iter_jobs("METADATA_MIGRATION", page_size=1)] == [job.id]
    found = hook.find_job_by_name(JobType.METADATA_MIGRATION, "hook_job")
    assert found is not None
    assert found.id == job.id
    assert hook.find_job_by_name(JobType.METADATA_MIGRATION, "hook_jo") is None

    update = migration_spec("hook_job", description="[lf-emulator:duration=30]")
    del update["type"]
    updated = hook.update_job(job.id, update, job_type=JobType.METADATA_MIGRATION)
    assert updated.description == "[lf-emulator:duration=30]"

    hook.start_job(job.id, mode="COMPARISON", cascade=True)
    assert wait_for(hook, job.id, JobStatus.RUNNING) is JobStatus.RUNNING
    hook.stop_job(job.id)
    assert wait_for(hook, job.id, JobStatus.STOPPED) is JobStatus.STOPPED
    hook.stop_job(job.id)  # not running any more: a no-op for the hook
    assert "stop signal received" in hook.get_job_log(job.id).log
    history = hook.list_job_history(job.id)
    assert history.total == 1
    assert history.jobs[0].status is JobStatus.STOPPED
    assert hook.list_job_history(job.id, status="SUCCESS").total == 0

    instances = hook.list_instances()
    assert [i.id for i in instances.instances] == [emulator.instance_id]
    assert hook.get_instance().status == "RUNNING"
    assert hook.job_console_url(job.id) == emulator.console_url(job.id)

    hook.delete_job(job.id)
    with pytest.raises(LakeFormationNotFoundError):
        hook.get_job(job.id)

    stats = emulator.stats()
    mode = {"aksk": "aksk", "aksk_temporary": "aksk_temporary", "iam": "iam_token", "token": "token"}[auth]
    assert set(stats["auth_by_mode"]) == {mode}
    assert stats["auth_failures"] == 0
    assert stats["iam_tokens_issued"] == (1 if auth == "iam" else 0)
    assert stats["starts"] == {job.id: 1}


@pytest.mark.parametrize("auth", ["aksk", "iam", "token"])
async def test_async_client(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, auth: str) -> None:
    hook = connect(emulator, monkeypatch, auth)
    job = hook.create_job(discovery_spec("async_job", description="[lf-emulator:duration=30]"))
    hook.start_job(job.id)
    async with hook.async_client() as api:
        assert (await api.get_job(job.id)).id == job.id
        assert await api.get_job_status(job.id) in (JobStatus.SUBMITTED, JobStatus.RUNNING)
        await api.stop_job(job.id)
        assert await api.get_job_status(job.id) is JobStatus.STOPPED


def test_object_status_shape_through_the_hook(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.configure(status_shape="object", submit_seconds=0, run_seconds=0.05)
    hook = connect(emulator, monkeypatch)
    job = hook.create_job(discovery_spec("object_shape"))
    assert job.status is JobStatus.CREATED
    hook.start_job(job.id)
    assert wait_for(hook, job.id, JobStatus.SUCCESS) is JobStatus.SUCCESS
    assert hook.list_jobs("METADATA_DISCOVERY").jobs[0].status is JobStatus.SUCCESS
    assert hook.list_job_history(job.id).jobs[0].status is JobStatus.SUCCESS


def test_error_mapping(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = connect(emulator, monkeypatch)
    with pytest.raises(LakeFormationNotFoundError) as not_found:
        hook.get_job("missing-job")
    assert not_found.value.status_code == 404
    assert not_found.value.error_code == "common.01000001"
    assert not_found.value.request_id
    job = hook.create_job(migration_spec("errors", description="[lf-emulator:duration=30]"))
    hook.start_job(job.id)
    with pytest.raises(LakeFormationBadRequestError, match="must be stopped before it is deleted"):
        hook.delete_job(job.id)
    with pytest.raises(LakeFormationBadRequestError, match="already"):
        hook.start_job(job.id)

    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKEFORMATION_DEFAULT",
        emulator.connection_json("aksk").replace(emulator.sk, "wrong-secret"),
    )
    wrong = LakeFormationHook()
    with pytest.raises(LakeFormationAuthError) as denied:
        wrong.get_job(job.id)
    assert denied.value.status_code == 403


def test_bad_token_and_bad_iam_password(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKEFORMATION_DEFAULT",
        emulator.connection_json("token").replace(emulator.token, "not-the-token"),
    )
    with pytest.raises(LakeFormationAuthError):
        LakeFormationHook().get_instance()
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKEFORMATION_DEFAULT",
        emulator.connection_json("iam").replace(emulator.iam_password, "wrong-password"),
    )
    with pytest.raises(LakeFormationAuthError) as denied:
        LakeFormationHook().get_instance()
    assert "wrong-password" not in str(denied.value)


def test_hook_retries_injected_faults(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = connect(emulator, monkeypatch)
    job = hook.create_job(migration_spec("retried"))
    emulator.inject_fault(503, count=2, retry_after=0.05, path_contains=job.id, method="GET")
    started = time.monotonic()
    assert hook.get_job(job.id).id == job.id
    assert time.monotonic() - started >= 0.1  # Retry-After honoured twice
    emulator.inject_fault(500, count=10, path_contains=job.id, method="GET")
    with pytest.raises(LakeFormationRetryableError):
        hook.get_job(job.id)
    emulator.clear_faults()
    emulator.inject_fault(drop=True, count=10, path_contains=job.id, method="GET")
    with pytest.raises(LakeFormationConnectionError):
        hook.get_job(job.id)


@pytest.mark.parametrize(
    "fault",
    [{"status": 502}, {"drop": True}, {"delay": 1.0}],
    ids=["502", "drop", "slow"],
)
def test_hook_never_starts_twice(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, fault: dict[str, Any]
) -> None:
    hook = connect(emulator, monkeypatch, read_timeout=0.3)
    job = hook.create_job(migration_spec("once_only", description="[lf-emulator:duration=30]"))
    emulator.inject_fault(**fault, path_contains="/start", after_processing=True)
    hook.start_job(job.id)
    assert hook.get_job_status(job.id) in (JobStatus.SUBMITTED, JobStatus.RUNNING)
    stats = emulator.stats()
    assert stats["starts"] == {job.id: 1}
    assert stats["start_requests"] == {job.id: 1}


def test_hook_creates_once_after_a_dropped_create(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = connect(emulator, monkeypatch)
    emulator.inject_fault(drop=True, path_contains="/lf-jobs", method="POST", after_processing=True)
    job = hook.create_job(migration_spec("created_once"))
    assert job.name == "created_once"
    assert emulator.stats()["creates"] == 1
    assert hook.list_jobs("METADATA_MIGRATION").total == 1


def test_iam_token_refreshed_after_expiry(
    emulator_factory: Callable[..., EmulatorServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = emulator_factory(token_ttl=1.0)
    hook = connect(server, monkeypatch, "iam")
    assert hook.get_instance().id == server.instance_id
    time.sleep(1.1)
    assert hook.get_instance().id == server.instance_id
    assert server.stats()["iam_tokens_issued"] == 2
    assert iam_body(server)["auth"]["scope"]["project"]["id"] == server.project_id


def test_uri_form_of_the_connection(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LAKEFORMATION_DEFAULT", emulator.connection_uri("aksk"))
    hook = LakeFormationHook()
    assert hook.get_instance().id == emulator.instance_id
    assert emulator.stats()["auth_by_mode"] == {"aksk": 1}
