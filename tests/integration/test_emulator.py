"""The LakeFormation emulator over real HTTP: every endpoint, auth modes, faults, state, concurrency."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_lakeformation.auth import sign_request
from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.models import (
    ErrorBody,
    IamTokenBody,
    Instance,
    InstancePage,
    Job,
    JobLog,
    JobPage,
    JobStatus,
)

SECRET_PASSWORD = "pw-Sup3r-Secret-Value"
SECRET_AK = "AKSECRETVALUE123"
SECRET_SK = "sk-Secret-Value-456"


# ----------------------------------------------------------------------------------------- helpers


def migration_spec(
    name: str = "migrate_job", description: str | None = None, **params: Any
) -> dict[str, Any]:
    block = {
        "datasource_type": "ALIYUN_DLF",
        "datasource_parameter": {
            "endpoint": "https://dlf.example.com",
            "access_key": SECRET_AK,
            "secret_key": SECRET_SK,
        },
        "source_catalog": "source_cat",
        "target_catalog": "target_cat",
        "conflict_strategy": "UPSERT",
        "log_location": "obs://logs/migration",
        "sync_objects": ["DATABASE", "TABLE"],
        "locations": [{"key": "oss://a", "value": "obs://b"}],
        "instance_id": "lf-emulator-instance",
        **params,
    }
    spec: dict[str, Any] = {
        "name": name,
        "type": "METADATA_MIGRATION",
        "parameter": {"metadata_migration_parameter": block},
    }
    if description is not None:
        spec["description"] = description
    return spec


def mysql_migration_spec(name: str = "mysql_job") -> dict[str, Any]:
    spec = migration_spec(name)
    spec["parameter"]["metadata_migration_parameter"].update(
        datasource_type="MRS_RDS_FOR_MYSQL",
        datasource_parameter={
            "jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive",
            "username": "hive",
            "password": SECRET_PASSWORD,
        },
    )
    return spec


def permission_spec(name: str = "perm_job", description: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "type": "PERMISSION_MIGRATION",
        "parameter": {
            "permission_migration_parameter": {
                "location": "obs://policies",
                "file_name": "ranger.json",
                "log_location": "obs://logs/permission",
                "policy_type": "RANGER",
                "instance_id": "lf-emulator-instance",
            }
        },
    }
    if description is not None:
        spec["description"] = description
    return spec


def discovery_spec(name: str = "discover_job", description: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "type": "METADATA_DISCOVERY",
        "parameter": {
            "metadata_discovery_parameter": {
                "data_location": "obs://lake/raw",
                "target_catalog": "hive",
                "target_database": "raw",
                "conflict_strategy": "UPSERT",
                "file_discovery_type": "PARQUET",
                "log_location": "obs://logs/discovery",
                "instance_id": "lf-emulator-instance",
                "execute_strategy": "MANNUAL",
            }
        },
    }
    if description is not None:
        spec["description"] = description
    return spec


SPECS: dict[str, Callable[..., dict[str, Any]]] = {
    "METADATA_MIGRATION": migration_spec,
    "PERMISSION_MIGRATION": permission_spec,
    "METADATA_DISCOVERY": discovery_spec,
}


class Api:
    """A thin requests client of the emulator's job API, authenticated by X-Auth-Token."""

    def __init__(self, server: EmulatorServer, token: str | None = None) -> None:
        self.server = server
        self.base = server.api_url
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = token or server.token

    def call(self, method: str, path: str = "", **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base + path, **kwargs)

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        response = self.call("POST", "/lf-jobs", json=spec)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, job_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/lf-jobs/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def status(self, job_id: str) -> str:
        return Job.model_validate(self.get(job_id)).status.value  # type: ignore[union-attr]

    def start(self, job_id: str, **params: str) -> requests.Response:
        return self.call("POST", f"/lf-jobs/{job_id}/start", params=params)

    def stop(self, job_id: str) -> requests.Response:
        return self.call("POST", f"/lf-jobs/{job_id}/stop")

    def wait_for(self, job_id: str, *statuses: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(job_id)
            if status in statuses:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} stayed {status}, wanted {statuses}")
            time.sleep(0.02)

    def log(self, job_id: str) -> str:
        response = self.call("GET", f"/lf-jobs/{job_id}/log")
        assert response.status_code == 200, response.text
        return JobLog.model_validate(response.json()).log

    def history(self, job_id: str, **params: Any) -> dict[str, Any]:
        response = self.call("GET", f"/lf-jobs/{job_id}/history", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[Api]:
    client = Api(emulator)
    yield client
    client.session.close()


def assert_error(response: requests.Response, status: int, code: str, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["X-Request-Id"]
    body = response.json()
    error = ErrorBody.model_validate(body)
    assert error.code == code, body
    for fragment in fragments:
        assert fragment in (error.message or ""), (fragment, body)
    return dict(body)


# ----------------------------------------------------------------------------------- job endpoints


@pytest.mark.parametrize("job_type", list(SPECS))
def test_create_returns_201_and_the_job(api: Api, job_type: str) -> None:
    spec = SPECS[job_type](name=f"job_{job_type.lower()}", description="nightly")
    response = api.call("POST", "/lf-jobs", json=spec)
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-Id"]
    body = response.json()
    job = Job.model_validate(body)
    assert job.name == spec["name"]
    assert job.type == job_type
    assert job.description == "nightly"
    assert job.status is JobStatus.CREATED
    assert body["status"] == "CREATED"  # plain string by default
    assert job.create_time is not None
    assert str(job.create_time).isdigit()  # epoch milliseconds in a string
    assert "start_time" not in body
    block = next(iter(spec["parameter"]))
    assert block in body["parameter"]
    assert api.get(job.id) == body


def test_create_accepts_documented_quirks(api: Api) -> None:
    spec = discovery_spec("scheduled_discovery")
    spec["parameter"]["metadata_discovery_parameter"].update(
        execute_strategy="SCHEDULE",
        execute_frequency="MONTHLY",
        execute_day=1,
        execute_hour="2",
        execute_minute=30,
    )
    body = api.create(spec)
    block = body["parameter"]["metadata_discovery_parameter"]
    assert (block["execute_day"], block["execute_hour"], block["execute_minute"]) == ("1", "2", "30")


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda s: s.update(name="bad name!"), ["name:", "pattern"]),
        (lambda s: s.update(name="abc"), ["name:", "at least 4"]),
        (lambda s: s.pop("type"), ["type: Field required"]),
        (lambda s: s.update(type="NOPE"), ["type:"]),
        (lambda s: s.update(unexpected=1), ["unexpected: Extra inputs are not permitted"]),
        (
            lambda s: s["parameter"]["metadata_migration_parameter"].pop("source_catalog"),
            ["parameter.metadata_migration_parameter.source_catalog: Field required"],
        ),
        (
            lambda s: s["parameter"]["metadata_migration_parameter"].update(conflict_strategy="INSERT"),
            ["parameter.metadata_migration_parameter.conflict_strategy"],
        ),
        (lambda s: s.update(type="METADATA_DISCOVERY"), ["parameter.metadata_discovery_parameter: required"]),
        (lambda s: s.update(description="[lf-emulator:outcome=MAYBE]"), ["description: outcome marker"]),
    ],
)
def test_create_rejects_invalid_bodies_naming_field_and_rule(
    api: Api, mutate: Callable[[dict[str, Any]], Any], fragments: list[str]
) -> None:
    spec = migration_spec()
    mutate(spec)
    response = api.call("POST", "/lf-jobs", json=spec)
    body = assert_error(
        response, 400, "common.01000001", "invalid job" if "marker" not in fragments[0] else "", *fragments
    )
    assert SECRET_SK not in response.text
    assert body["solution_msg"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [(b"", "body is empty"), (b"{not json", "malformed JSON"), (b"[1, 2]", "must be a JSON object")],
)
def test_create_rejects_unreadable_bodies(api: Api, data: bytes, fragment: str) -> None:
    response = api.call("POST", "/lf-jobs", data=data, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "common.01000001", fragment)


def test_create_rejects_a_duplicate_name(api: Api) -> None:
    api.create(migration_spec("same_name"))
    response = api.call("POST", "/lf-jobs", json=permission_spec("same_name"))
    assert_error(response, 400, "common.01000001", "same_name already exists")


def test_secrets_are_never_returned(api: Api, emulator: EmulatorServer) -> None:
    secrets = (SECRET_PASSWORD, SECRET_AK, SECRET_SK)
    created = [
        api.call("POST", "/lf-jobs", json=migration_spec("dlf_job")),
        api.call("POST", "/lf-jobs", json=mysql_migration_spec("mysql_job")),
    ]
    ids = [r.json()["id"] for r in created]
    update = migration_spec("dlf_job_renamed")
    del update["type"]
    responses = [
        *created,
        api.call("GET", f"/lf-jobs/{ids[0]}"),
        api.call("GET", f"/lf-jobs/{ids[1]}"),
        api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}),
        api.call("PUT", f"/lf-jobs/{ids[0]}", json=update),
        api.start(ids[1]),
        api.call("GET", f"/lf-jobs/{ids[1]}/history"),
        api.call("GET", f"/lf-jobs/{ids[1]}/log"),
        requests.get(emulator.console_url(ids[1]), timeout=10),
        requests.get(emulator.url + "/console/jobs", timeout=10),
    ]
    for response in responses:
        assert response.status_code < 300, response.text
        for secret in secrets:
            assert secret not in response.text
    block = api.get(ids[1])["parameter"]["metadata_migration_parameter"]["datasource_parameter"]
    assert block == {"jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive", "username": "hive"}


def test_get_unknown_job_and_wrong_scope_answer_404(api: Api, emulator: EmulatorServer) -> None:
    assert_error(api.call("GET", "/lf-jobs/no-such-job"), 404, "common.01000001", "job no-such-job not found")
    for method, suffix in [
        ("PUT", ""),
        ("DELETE", ""),
        ("POST", "/start"),
        ("POST", "/stop"),
        ("GET", "/log"),
        ("GET", "/history"),
    ]:
        update = {k: v for k, v in migration_spec().items() if k != "type"}
        kwargs = {"json": update} if method == "PUT" else {}
        assert_error(api.call(method, f"/lf-jobs/no-such-job{suffix}", **kwargs), 404, "common.01000001")
    job = api.create(migration_spec())
    headers = {"X-Auth-Token": emulator.token}
    other = "f" * 32
    wrong_project = f"{emulator.url}/v1/{other}/instances/{emulator.instance_id}/lf-jobs/{job['id']}"
    wrong_instance = f"{emulator.url}/v1/{emulator.project_id}/instances/other-instance/lf-jobs/{job['id']}"
    assert_error(requests.get(wrong_project, headers=headers, timeout=10), 404, "common.01000001", "project")
    assert_error(
        requests.get(wrong_instance, headers=headers, timeout=10), 404, "common.01000001", "instance"
    )
    unknown_api = requests.get(emulator.url + "/v1/nothing/here", headers=headers, timeout=10)
    assert_error(unknown_api, 404, "common.01000001")


def test_list_filters_pages_and_validates(api: Api) -> None:
    ids = [api.create(migration_spec(f"nightly_{i}"))["id"] for i in range(5)]
    api.create(migration_spec("weekly_sync"))
    api.create(permission_spec("nightly_perm"))
    api.start(ids[0])

    def page(**params: Any) -> JobPage:
        response = api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION", **params})
        assert response.status_code == 200, response.text
        return JobPage.model_validate(response.json())

    everything = page(limit=100)
    assert everything.total == 6
    assert [j.name for j in everything.jobs][:2] == ["weekly_sync", "nightly_4"]  # newest first
    assert page(name_pattern="nightly_*").total == 5
    assert page(name_pattern="nightly_?").total == 5
    assert page(name_pattern="*_3").total == 1
    assert page(name_pattern="ghtly").total == 5  # no wildcard: substring
    assert page(name_pattern="nightly").total == 5
    assert page(name_pattern="nightly_").jobs[0].name == "nightly_4"
    assert page(name_pattern="x*").total == 0
    first = page(limit=2)
    second = page(limit=2, offset=2)
    assert first.total == second.total == 6
    assert len(first.jobs) == len(second.jobs) == 2
    assert {j.id for j in first.jobs}.isdisjoint({j.id for j in second.jobs})
    assert page(offset=1000).jobs == []
    assert page(status="SUBMITTED").total + page(status="RUNNING").total == 1
    assert page(status="CREATED").total == 5
    assert page(status="created").total == 5

    for params, fragment in [
        ({}, "type: required"),
        ({"type": "BOGUS"}, "type: must be one of"),
        ({"type": "METADATA_MIGRATION", "limit": 0}, "limit: must be an integer from 1 to 1000"),
        ({"type": "METADATA_MIGRATION", "limit": 1001}, "limit"),
        ({"type": "METADATA_MIGRATION", "offset": -1}, "offset: must be an integer from 0 to 1000"),
        ({"type": "METADATA_MIGRATION", "offset": 1001}, "offset"),
        ({"type": "METADATA_MIGRATION", "offset": "x"}, "offset"),
        ({"type": "METADATA_MIGRATION", "status": "DONE"}, "status: must be one of"),
    ]:
        assert_error(api.call("GET", "/lf-jobs", params=params), 400, "common.01000001", fragment)


def test_modify_replaces_fields_and_checks_type_state_and_name(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("to_modify", description="before"))
    other = api.create(migration_spec("other_job"))
    update = migration_spec("modified_name", description="after", source_catalog="new_source")
    del update["type"]
    response = api.call("PUT", f"/lf-jobs/{job['id']}", json=update)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == job["id"]
    assert body["name"] == "modified_name"
    assert body["description"] == "after"
    assert body["parameter"]["metadata_migration_parameter"]["source_catalog"] == "new_source"
    assert api.get(job["id"]) == body

    # description left out: unchanged
    no_description = {k: v for k, v in update.items() if k != "description"}
    assert api.call("PUT", f"/lf-jobs/{job['id']}", json=no_description).json()["description"] == "after"

    # the block must match the job's type
    wrong_block = {k: v for k, v in discovery_spec("modified_name").items() if k != "type"}
    assert_error(
        api.call("PUT", f"/lf-jobs/{job['id']}", json=wrong_block),
        400,
        "common.01000001",
        "parameter.metadata_migration_parameter: required for a METADATA_MIGRATION job",
    )
    # type is not part of UpdateJobRequest
    assert_error(
        api.call("PUT", f"/lf-jobs/{job['id']}", json=migration_spec("modified_name")),
        400,
        "common.01000001",
        "type",
    )
    # names stay unique
    clash = {**update, "name": "other_job"}
    assert_error(
        api.call("PUT", f"/lf-jobs/{job['id']}", json=clash), 400, "common.01000001", "already exists"
    )
    # a running job cannot be modified
    assert api.start(other["id"]).status_code == 202
    renamed = {**update, "name": "other_job"}
    assert_error(
        api.call("PUT", f"/lf-jobs/{other['id']}", json=renamed), 400, "common.01000001", "cannot be modified"
    )
    emulator.configure(allow_modify_running=True)
    assert api.call("PUT", f"/lf-jobs/{other['id']}", json={**update, "name": "other_job"}).status_code == 200


def test_modify_keeps_secrets_that_are_left_out(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(mysql_migration_spec("keeps_secret"))
    update = mysql_migration_spec("keeps_secret")
    del update["type"]
    del update["parameter"]["metadata_migration_parameter"]["datasource_parameter"]["password"]
    assert api.call("PUT", f"/lf-jobs/{job['id']}", json=update).status_code == 200
    assert emulator.app is not None
    with emulator.app.emulator.store.read() as tx:
        found = tx.job(job["id"])
    assert found is not None
    stored = found[0].secrets
    assert list(stored) == ["metadata_migration_parameter.datasource_parameter.password"]
    assert SECRET_PASSWORD not in json.dumps(stored)


def test_delete(api: Api) -> None:
    job = api.create(migration_spec("to_delete", description="[lf-emulator:duration=30]"))
    assert api.start(job["id"]).status_code == 202
    response = api.call("DELETE", f"/lf-jobs/{job['id']}")
    assert_error(response, 400, "common.01000001", "must be stopped before it is deleted")
    assert "stop" in response.json()["solution_msg"].lower()
    assert api.stop(job["id"]).status_code == 202
    api.wait_for(job["id"], "STOPPED")
    response = api.call("DELETE", f"/lf-jobs/{job['id']}")
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["X-Request-Id"]
    assert_error(api.call("GET", f"/lf-jobs/{job['id']}"), 404, "common.01000001")
    assert_error(api.call("DELETE", f"/lf-jobs/{job['id']}"), 404, "common.01000001")
    never_started = api.create(migration_spec("never_started"))
    assert api.call("DELETE", f"/lf-jobs/{never_started['id']}").status_code == 200


def test_state_machine_timings_log_and_history(api: Api, emulator: EmulatorServer) -> None:
    emulator.configure(submit_seconds=0.3, run_seconds=0.5)
    job = api.create(permission_spec("timed_job"))
    started = time.monotonic()
    response = api.start(job["id"])
    assert response.status_code == 202
    assert response.content == b""
    seen = [api.status(job["id"])]
    while seen[-1] not in ("SUCCESS", "FAILED"):
        assert time.monotonic() - started < 5
        time.sleep(0.03)
        status = api.status(job["id"])
        if status != seen[-1]:
            seen.append(status)
    elapsed = time.monotonic() - started
    assert seen == ["SUBMITTED", "RUNNING", "SUCCESS"]
    assert 0.75 <= elapsed < 2.5
    body = api.get(job["id"])
    assert int(body["end_time"]) - int(body["start_time"]) == 800

    text = api.log(job["id"])
    lines = text.strip().splitlines()
    assert "submitted" in lines[0]
    assert (
        "running: permission_migration_parameter: migrating RANGER permissions from obs://policies/ranger.json"
        in text
    )
    assert "progress 50%: permission_migration_parameter" in text
    assert lines[-1].endswith("run 1 finished: SUCCESS")
    assert all(line[:4].isdigit() and "T" in line.split()[0] for line in lines)  # ISO timestamps

    history = JobPage.model_validate(api.history(job["id"]))
    assert history.total == 1
    assert history.jobs[0].status is JobStatus.SUCCESS
    assert history.jobs[0].start_time == body["start_time"]


def test_restart_appends_history_and_changes_start_time(api: Api, emulator: EmulatorServer) -> None:
    emulator.configure(submit_seconds=0, run_seconds=0.05)
    job = api.create(discovery_spec("rerun"))
    start_times = []
    for _ in range(3):
        assert api.start(job["id"]).status_code == 202
        api.wait_for(job["id"], "SUCCESS")
        start_times.append(api.get(job["id"])["start_time"])
    assert len(set(start_times)) == 3
    assert start_times == sorted(start_times, key=int)
    history = api.history(job["id"])
    assert history["total"] == 3
    assert [h["start_time"] for h in history["jobs"]] == start_times[::-1]  # newest first
    assert [h["run_number"] for h in history["jobs"]] == [3, 2, 1]
    assert len(api.history(job["id"], limit=1, offset=1)["jobs"]) == 1
    assert api.history(job["id"], status="FAILED")["total"] == 0
    assert_error(
        api.call("GET", f"/lf-jobs/{job['id']}/history", params={"limit": 0}), 400, "common.01000001"
    )
    assert "run 3 finished: SUCCESS" in api.log(job["id"])  # the log is the latest run's
    assert "run 2" not in api.log(job["id"])


def test_start_while_in_progress_is_rejected(api: Api) -> None:
    job = api.create(migration_spec("busy", description="[lf-emulator:submit=0.2] [lf-emulator:duration=30]"))
    assert api.start(job["id"]).status_code == 202
    assert api.status(job["id"]) == "SUBMITTED"
    assert_error(api.start(job["id"]), 400, "common.01000001", "already SUBMITTED")
    api.wait_for(job["id"], "RUNNING")
    assert_error(api.start(job["id"]), 400, "common.01000001", "already RUNNING")
    assert api.history(job["id"])["total"] == 1


@pytest.mark.parametrize(
    ("description", "final", "log_fragment"),
    [
        (
            "[lf-emulator:outcome=FAILED]",
            "FAILED",
            "ERROR metadata_migration_parameter: job failed: cannot connect",
        ),
        (
            "[lf-emulator:outcome=FAILED][lf-emulator:reason=table t1 is locked]",
            "FAILED",
            "ERROR metadata_migration_parameter: job failed: table t1 is locked",
        ),
        ("[lf-emulator:outcome=PARTIAL_SUCCESS]", "PARTIAL_SUCCESS", "WARN  metadata_migration_parameter:"),
        ("[lf-emulator:outcome=success]", "SUCCESS", "run 1 finished: SUCCESS"),
    ],
)
def test_outcome_markers(api: Api, description: str, final: str, log_fragment: str) -> None:
    job = api.create(migration_spec("marked", description=f"nightly {description}"))
    assert api.start(job["id"]).status_code == 202
    assert api.wait_for(job["id"], "SUCCESS", "FAILED", "PARTIAL_SUCCESS") == final
    text = api.log(job["id"])
    assert log_fragment in text
    assert text.strip().splitlines()[-1].endswith(f"finished: {final}")


def test_duration_and_submit_markers_and_default_outcome(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(discovery_spec("slow", description="[lf-emulator:submit=0] [lf-emulator:duration=0.6]"))
    api.start(job["id"])
    time.sleep(0.3)
    assert api.status(job["id"]) == "RUNNING"
    api.wait_for(job["id"], "SUCCESS")
    body = api.get(job["id"])
    assert int(body["end_time"]) - int(body["start_time"]) == 600

    emulator.configure(default_outcome="FAILED")
    other = api.create(discovery_spec("defaults_failed"))
    api.start(other["id"])
    assert api.wait_for(other["id"], "SUCCESS", "FAILED") == "FAILED"
    assert "ERROR" in api.log(other["id"])

    for bad in ("[lf-emulator:duration=abc]", "[lf-emulator:duration=-1]", "[lf-emulator:speed=2]"):
        response = api.call("POST", "/lf-jobs", json=discovery_spec("bad_marker", description=bad))
        assert_error(response, 400, "common.01000001", "description:")


def test_start_query_parameters(api: Api) -> None:
    job = api.create(
        migration_spec("params", description="[lf-emulator:duration=0.05][lf-emulator:submit=0]")
    )
    for params in ({"mode": "NORMAL"}, {"mode": "COMPARISON", "cascade": "true"}, {"cascade": "false"}):
        assert api.start(job["id"], **params).status_code == 202
        api.wait_for(job["id"], "SUCCESS")
    runs = api.history(job["id"])["jobs"]
    assert [(r.get("mode"), r.get("cascade")) for r in runs] == [
        (None, False),
        ("COMPARISON", True),
        ("NORMAL", None),
    ]
    assert "mode=NORMAL, cascade=false" in api.log(job["id"])
    assert_error(
        api.start(job["id"], mode="FAST"), 400, "common.01000001", "mode: must be one of NORMAL, COMPARISON"
    )
    assert_error(
        api.start(job["id"], cascade="yes"), 400, "common.01000001", "cascade: must be true or false"
    )


def test_stop(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("stoppable", description="[lf-emulator:duration=30]"))
    assert_error(
        api.stop(job["id"]),
        400,
        "common.01000001",
        "is CREATED: only a SUBMITTED or RUNNING job can be stopped",
    )
    api.start(job["id"])
    api.wait_for(job["id"], "RUNNING")
    response = api.stop(job["id"])
    assert response.status_code == 202
    assert response.content == b""
    assert api.status(job["id"]) == "STOPPED"
    body = api.get(job["id"])
    assert body["end_time"]
    text = api.log(job["id"])
    assert "stop signal received" in text
    assert text.strip().splitlines()[-1].endswith("finished: STOPPED")
    assert "finished: SUCCESS" not in text
    assert_error(api.stop(job["id"]), 400, "common.01000001", "is STOPPED")
    assert api.history(job["id"])["jobs"][0]["status"] == "STOPPED"

    # stop of a SUBMITTED job, and a stop that takes a while to land
    emulator.configure(stop_seconds=0.3)
    api.start(job["id"])
    assert api.status(job["id"]) == "SUBMITTED"
    assert api.stop(job["id"]).status_code == 202
    assert api.stop(job["id"]).status_code == 202  # still stopping: accepted again, no change
    assert api.status(job["id"]) in ("SUBMITTED", "RUNNING")
    api.wait_for(job["id"], "STOPPED", timeout=3)

    # stop of a finished job
    done = api.create(
        migration_spec("done_job", description="[lf-emulator:duration=0][lf-emulator:submit=0]")
    )
    api.start(done["id"])
    api.wait_for(done["id"], "SUCCESS")
    assert_error(api.stop(done["id"]), 400, "common.01000001", "is SUCCESS")


def test_log_of_a_job_never_started_is_empty(api: Api) -> None:
    job = api.create(migration_spec("quiet"))
    assert api.log(job["id"]) == ""
    assert api.history(job["id"]) == {"total": 0, "jobs": []}


def test_instances(api: Api, emulator: EmulatorServer) -> None:
    headers = {"X-Auth-Token": emulator.token}
    base = f"{emulator.url}/v1/{emulator.project_id}/instances"
    response = requests.get(base, headers=headers, timeout=10)
    assert response.status_code == 200
    page = InstancePage.model_validate(response.json())
    assert page.total == 1
    assert page.instances[0].id == emulator.instance_id
    assert page.instances[0].status == "RUNNING"
    assert requests.get(base, params={"name": "nothing"}, headers=headers, timeout=10).json()["total"] == 0
    assert requests.get(base, params={"name": "emulator"}, headers=headers, timeout=10).json()["total"] == 1
    one = requests.get(f"{base}/{emulator.instance_id}", headers=headers, timeout=10)
    assert one.status_code == 200
    assert Instance.model_validate(one.json()).status == "RUNNING"
    assert_error(requests.get(f"{base}/nope", headers=headers, timeout=10), 404, "common.01000001")
    other_project = f"{emulator.url}/v1/00000000000000000000000000000000/instances"
    assert_error(requests.get(other_project, headers=headers, timeout=10), 404, "common.01000001")
    assert_error(requests.get(base, params={"limit": 0}, headers=headers, timeout=10), 400, "common.01000001")
    assert requests.get(base, timeout=10).status_code == 401


def test_status_object_shape(api: Api, emulator: EmulatorServer) -> None:
    emulator.configure(status_shape="object", submit_seconds=0, run_seconds=0.05)
    job = api.create(migration_spec("shaped"))
    assert job["status"] == {"status": "CREATED"}
    api.start(job["id"])
    api.wait_for(job["id"], "SUCCESS")
    assert api.get(job["id"])["status"] == {"status": "SUCCESS"}
    listed = api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}).json()
    assert listed["jobs"][0]["status"] == {"status": "SUCCESS"}
    assert api.history(job["id"])["jobs"][0]["status"] == {"status": "SUCCESS"}
    assert JobPage.model_validate(listed).jobs[0].status is JobStatus.SUCCESS
    emulator.reset()
    assert api.create(migration_spec("plain"))["status"] == "CREATED"


# --------------------------------------------------------------------------------------------- auth

API_CALLS = [
    ("POST", "/lf-jobs"),
    ("GET", "/lf-jobs?type=METADATA_MIGRATION"),
    ("GET", "/lf-jobs/some-id"),
    ("PUT", "/lf-jobs/some-id"),
    ("DELETE", "/lf-jobs/some-id"),
    ("POST", "/lf-jobs/some-id/start"),
    ("POST", "/lf-jobs/some-id/stop"),
    ("GET", "/lf-jobs/some-id/log"),
    ("GET", "/lf-jobs/some-id/history"),
    ("GET", ""),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS)
def test_every_api_path_needs_credentials(emulator: EmulatorServer, method: str, path: str) -> None:
    url = emulator.api_url + path
    response = requests.request(method, url, json={}, timeout=10)
    body = assert_error(response, 401, "APIG.1002", "Incorrect token or token resolution failed")
    assert body["solution_msg"]
    bad = requests.request(method, url, json={}, headers={"X-Auth-Token": "not-a-token"}, timeout=10)
    body = assert_error(bad, 403, "403", "X-Auth-Token is invalid in the request")
    assert body["error"] == {
        "code": "403",
        "message": "X-Auth-Token is invalid in the request",
        "error_code": None,
        "error_msg": None,
        "title": "Forbidden",
    }
    assert body["title"] == "Forbidden"
    assert (
        requests.request(
            method, emulator.url + "/v1/" + emulator.project_id + "/instances", timeout=10
        ).status_code
        == 401
    )


def test_unsupported_authorization_scheme_is_401(emulator: EmulatorServer) -> None:
    response = requests.get(emulator.api_url, headers={"Authorization": "Bearer abc"}, timeout=10)
    assert_error(response, 401, "APIG.1002")


def test_admin_console_and_iam_need_no_credentials(emulator: EmulatorServer) -> None:
    for path in (
        "/_emulator/stats",
        "/_emulator/faults",
        "/_emulator/info",
        "/_emulator/health",
        "/console/jobs",
    ):
        response = requests.get(emulator.url + path, timeout=10)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["X-Request-Id"]
    info = requests.get(emulator.url + "/_emulator/info", timeout=10).json()
    assert info["project_id"] == emulator.project_id
    assert info["api_prefix"] == f"/v1/{emulator.project_id}/instances/{emulator.instance_id}"


def iam_body(server: EmulatorServer, **changes: Any) -> dict[str, Any]:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "domain": {"name": changes.get("domain", server.domain_name)},
                        "name": changes.get("user", server.iam_user),
                        "password": changes.get("password", server.iam_password),
                    }
                },
            },
            "scope": {"project": changes.get("project", {"id": server.project_id})},
        }
    }
    return body


def test_iam_token_issue_and_use(emulator: EmulatorServer) -> None:
    response = requests.post(emulator.iam_url, json=iam_body(emulator), timeout=10)
    assert response.status_code == 201, response.text
    token = response.headers["X-Subject-Token"]
    assert response.headers["X-Request-Id"]
    parsed = IamTokenBody.model_validate(response.json())
    expires = datetime.fromisoformat(parsed.token.expires_at.replace("Z", "+00:00"))
    assert timedelta(hours=23) < expires - datetime.now(timezone.utc) <= timedelta(hours=24)
    assert parsed.token.issued_at
    api = Api(emulator, token=token)
    job = api.create(migration_spec("via_iam"))
    assert api.get(job["id"])["name"] == "via_iam"
    by_name = requests.post(
        emulator.iam_url, json=iam_body(emulator, project={"name": emulator.region}), timeout=10
    )
    assert by_name.status_code == 201
    stats = emulator.stats()
    assert stats["iam_tokens_issued"] == 2
    assert stats["auth_by_mode"]["iam_token"] == 2


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"password": "wrong"}, 401),
        ({"user": "somebody"}, 401),
        ({"domain": "other_domain"}, 401),
        ({"project": {"id": "ffffffffffffffffffffffffffffffff"}}, 400),
        ({"project": {"name": "eu-west-0"}}, 400),
        ({"project": {}}, 400),
    ],
)
def test_iam_rejects_wrong_credentials_and_scope(
    emulator: EmulatorServer, changes: dict[str, Any], status: int
) -> None:
    response = requests.post(emulator.iam_url, json=iam_body(emulator, **changes), timeout=10)
    assert response.status_code == status, response.text
    assert "X-Subject-Token" not in response.headers
    assert response.json()["error"]["code"] == status
    assert emulator.iam_password not in response.text


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.pop("auth"),
        lambda b: b["auth"].pop("scope"),
        lambda b: b["auth"]["identity"].update(methods=["token"]),
        lambda b: b["auth"]["identity"].update(methods="password"),
        lambda b: b["auth"]["identity"]["password"]["user"].pop("domain"),
        lambda b: b["auth"]["identity"]["password"]["user"].update(name=""),
        lambda b: b["auth"]["identity"]["password"]["user"].update(password=5),
    ],
)
def test_iam_validates_body_shape(emulator: EmulatorServer, mutate: Callable[[dict[str, Any]], Any]) -> None:
    body = iam_body(emulator)
    mutate(body)
    response = requests.post(emulator.iam_url, json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert "The request body is invalid" in response.json()["error"]["message"]
    assert requests.post(emulator.iam_url, data=b"nope", timeout=10).status_code == 400


def test_iam_token_expires(emulator_factory: Callable[..., EmulatorServer]) -> None:
    server = emulator_factory(token_ttl=0.5)
    response = requests.post(server.iam_url, json=iam_body(server), timeout=10)
    token = response.headers["X-Subject-Token"]
    expires = datetime.fromisoformat(response.json()["token"]["expires_at"].replace("Z", "+00:00"))
    assert expires - datetime.now(timezone.utc) < timedelta(seconds=1)
    api = Api(server, token=token)
    assert api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}).status_code == 200
    time.sleep(0.6)
    expired = api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"})
    assert_error(expired, 401, "APIG.1002", "Incorrect token")
    assert "expired" in expired.json()["solution_msg"]
    assert server.stats()["auth_failures_by_reason"] == {"token_expired": 1}


def test_tokens_of_another_emulator_are_invalid(
    emulator: EmulatorServer, emulator_factory: Callable[..., EmulatorServer]
) -> None:
    other = emulator_factory()
    token = requests.post(other.iam_url, json=iam_body(other), timeout=10).headers["X-Subject-Token"]
    response = Api(emulator, token=token).call("GET", "")
    assert_error(response, 403, "403", "X-Auth-Token is invalid")


# AK/SK ------------------------------------------------------------------------------------------


def signed(
    method: str,
    url: str,
    *,
    ak: str,
    sk: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **options: Any,
) -> requests.Response:
    prepared = requests.Request(method, url, data=body or None, headers=headers or {}).prepare()
    all_headers = sign_request(method, prepared.url or url, dict(prepared.headers), body, ak, sk, **options)
    prepared.headers.clear()
    prepared.headers.update(all_headers)
    with requests.Session() as session:
        return session.send(prepared, timeout=10)


JSON = {"Content-Type": "application/json"}


def test_aksk_signed_requests_on_every_endpoint(emulator: EmulatorServer) -> None:
    creds = {"ak": emulator.ak, "sk": emulator.sk, "project_id": emulator.project_id}
    base = emulator.api_url
    body = json.dumps(migration_spec("signed_job", description="[lf-emulator:duration=30]")).encode()
    created = signed("POST", base + "/lf-jobs", body=body, headers=JSON, **creds)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    update = migration_spec("signed_job_2")
    del update["type"]
    calls = [
        ("GET", f"/lf-jobs/{job_id}", b"", 200),
        ("GET", "/lf-jobs?type=METADATA_MIGRATION&name_pattern=signed_%2A&limit=5&offset=0", b"", 200),
        ("GET", "/lf-jobs?name_pattern=sig%3F%3Fd%2A&type=METADATA_MIGRATION", b"", 200),
        ("PUT", f"/lf-jobs/{job_id}", json.dumps(update).encode(), 200),
        ("POST", f"/lf-jobs/{job_id}/start?mode=NORMAL&cascade=true", b"", 202),
        ("POST", f"/lf-jobs/{job_id}/stop", b"", 202),
        ("GET", f"/lf-jobs/{job_id}/log", b"", 200),
        ("GET", f"/lf-jobs/{job_id}/history?limit=10&offset=0", b"", 200),
        ("DELETE", f"/lf-jobs/{job_id}", b"", 200),
        ("GET", "", b"", 200),
    ]
    for method, path, payload, expected in calls:
        response = signed(method, base + path, body=payload, headers=JSON if payload else {}, **creds)
        assert response.status_code == expected, (method, path, response.text)
    listing = signed("GET", f"{emulator.url}/v1/{emulator.project_id}/instances?limit=10", **creds)
    assert listing.status_code == 200
    assert emulator.stats()["auth_by_mode"]["aksk"] == len(calls) + 2


def test_aksk_temporary_credentials_and_unsigned_payload(emulator: EmulatorServer) -> None:
    url = emulator.api_url + "/lf-jobs"
    body = json.dumps(discovery_spec("temp_creds")).encode()
    temp = {"ak": emulator.temp_ak, "sk": emulator.temp_sk, "project_id": emulator.project_id}
    ok = signed("POST", url, body=body, headers=JSON, security_token=emulator.security_token, **temp)
    assert ok.status_code == 201, ok.text
    missing_token = signed("GET", url + "?type=METADATA_DISCOVERY", **temp)
    assert_error(missing_token, 403, "403", "X-Security-Token")
    wrong_token = signed("GET", url + "?type=METADATA_DISCOVERY", security_token="forged", **temp)
    assert_error(wrong_token, 403, "403", "X-Security-Token")
    permanent_with_token = signed(
        "GET",
        url + "?type=METADATA_DISCOVERY",
        ak=emulator.ak,
        sk=emulator.sk,
        security_token=emulator.security_token,
    )
    assert_error(permanent_with_token, 403, "403", "X-Security-Token")
    unsigned = signed(
        "POST",
        url,
        body=json.dumps(discovery_spec("unsigned_payload")).encode(),
        headers=JSON,
        unsigned_payload=True,
        ak=emulator.ak,
        sk=emulator.sk,
    )
    assert unsigned.status_code == 201, unsigned.text
    assert emulator.stats()["auth_by_mode"] == {"aksk": 1, "aksk_temporary": 1}


def test_aksk_rejections_are_403(emulator: EmulatorServer) -> None:
    url = emulator.api_url + "/lf-jobs?type=METADATA_MIGRATION"
    creds = {"ak": emulator.ak, "sk": emulator.sk}
    assert_error(
        signed("GET", url, ak=emulator.ak, sk="wrong-secret"), 403, "403", "signature does not match"
    )
    assert_error(signed("GET", url, ak="UNKNOWNAK", sk=emulator.sk), 403, "403", "access key is unknown")
    stale = datetime.now(timezone.utc) - timedelta(minutes=16)
    assert_error(signed("GET", url, now=stale, **creds), 403, "403", "away from the server time")
    fresh_enough = datetime.now(timezone.utc) - timedelta(minutes=14)
    assert signed("GET", url, now=fresh_enough, **creds).status_code == 200

    def tampered(change: Callable[[requests.PreparedRequest], None], body: bytes = b"") -> requests.Response:
        prepared = requests.Request(
            "POST" if body else "GET", url, data=body or None, headers=JSON if body else {}
        ).prepare()
        headers = sign_request(
            prepared.method or "GET", url, dict(prepared.headers), body, emulator.ak, emulator.sk
        )
        prepared.headers.clear()
        prepared.headers.update(headers)
        change(prepared)
        with requests.Session() as session:
            return session.send(prepared, timeout=10)

    def other_query(p: requests.PreparedRequest) -> None:
        p.url = (p.url or "").replace("METADATA_MIGRATION", "METADATA_DISCOVERY")

    def other_path(p: requests.PreparedRequest) -> None:
        p.url = (p.url or "").replace("/lf-jobs", "/lf-jobs/x")

    def drop_date(p: requests.PreparedRequest) -> None:
        del p.headers["X-Sdk-Date"]

    def bad_date(p: requests.PreparedRequest) -> None:
        p.headers["X-Sdk-Date"] = "2026-01-01T00:00:00Z"

    def garbled(p: requests.PreparedRequest) -> None:
        p.headers["Authorization"] = "SDK-HMAC-SHA256 Access=EMULATORAK Signature=abc"

    def unsigned_host(p: requests.PreparedRequest) -> None:
        auth = p.headers["Authorization"]
        p.headers["Authorization"] = auth.replace("SignedHeaders=host;", "SignedHeaders=")

    def changed_signed_header(p: requests.PreparedRequest) -> None:
        p.headers["X-Project-Id"] = "another"

    for change, fragment in [
        (other_query, "signature does not match"),
        (other_path, "signature does not match"),
        (drop_date, "X-Sdk-Date header is required"),
        (bad_date, "X-Sdk-Date must be formatted"),
        (garbled, "Authorization must read"),
        (unsigned_host, "must be signed"),
    ]:
        assert_error(tampered(change), 403, "403", fragment)

    signed_with_project = signed("GET", url, project_id=emulator.project_id, **creds)
    assert signed_with_project.status_code == 200
    body = json.dumps(migration_spec("tamper_body")).encode()

    def other_body(p: requests.PreparedRequest) -> None:
        p.body = body.replace(b"tamper_body", b"tamper_bodx")

    assert_error(tampered(other_body, body), 403, "403", "signature does not match")
    assert tampered(lambda p: None, body).status_code == 201
    # X-Project-Id was not signed here, but the gateway still holds it against the path's project
    assert_error(tampered(changed_signed_header), 403, "403", "X-Project-Id does not match")
    assert emulator.stats()["auth_failures"] >= 10


def test_official_huaweicloudsdkcore_signer_is_accepted(emulator: EmulatorServer) -> None:
    credentials_mod = pytest.importorskip("huaweicloudsdkcore.auth.credentials")
    request_mod = pytest.importorskip("huaweicloudsdkcore.sdk_request")
    netloc = urlsplit(emulator.url).netloc
    prefix = emulator.config.api_prefix

    def send(
        method: str,
        path: str,
        query: list[tuple[str, Any]],
        body: bytes | None = None,
        *,
        temporary: bool = False,
    ) -> requests.Response:
        if temporary:
            creds = credentials_mod.BasicCredentials(emulator.temp_ak, emulator.temp_sk, emulator.project_id)
            creds = creds.with_security_token(emulator.security_token)
        else:
            creds = credentials_mod.BasicCredentials(emulator.ak, emulator.sk, emulator.project_id)
        request = request_mod.SdkRequest(
            method=method,
            schema="http",
            host=netloc,
            resource_path=prefix + path,
            query_params=list(query),
            header_params={"Content-Type": "application/json"} if body else {},
            body=body or "",
        )
        signed_request = creds.sign_request(request)
        return requests.request(
            method,
            f"http://{netloc}{signed_request.uri}",
            headers=dict(signed_request.header_params),
            data=signed_request.body or None,
            timeout=10,
        )

    created = send("POST", "/lf-jobs", [], json.dumps(migration_spec("sdk_signed")).encode())
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    listed = send(
        "GET", "/lf-jobs", [("type", "METADATA_MIGRATION"), ("name_pattern", "sdk_*"), ("limit", 10)]
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 1
    started = send("POST", f"/lf-jobs/{job_id}/start", [("mode", "COMPARISON"), ("cascade", True)])
    assert started.status_code == 202, started.text
    assert send("GET", f"/lf-jobs/{job_id}", [], temporary=True).status_code == 200
    assert emulator.stats()["auth_by_mode"] == {"aksk": 3, "aksk_temporary": 1}


def test_own_verifier_agrees_with_the_client_signer_on_odd_inputs(emulator: EmulatorServer) -> None:
    """Percent-encoded path segments, unsorted/repeated query names, tilde and unicode values."""
    url = (
        emulator.api_url
        + "/lf-jobs/job%20with%20space~x"
        + "?z=1&type=METADATA_MIGRATION&a~b=c~d&name_pattern=%C3%BC%2A&a~b=b&empty="
    )
    response = signed("GET", url, ak=emulator.ak, sk=emulator.sk, headers={"X-Custom": "v a l u e"})
    assert_error(response, 404, "common.01000001", "job with space~x not found")  # authenticated, then 404


# ------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "common.00000500"),
        (502, "APIG.0201"),
        (503, "APIG.0201"),
        (504, "APIG.0202"),
        (429, "APIG.0308"),
        (408, "common.00000408"),
    ],
)
def test_fault_status_answers_next_n_requests(
    api: Api, emulator: EmulatorServer, status: int, code: str
) -> None:
    retry_after = 2 if status in (429, 503) else None
    fault = emulator.inject_fault(status, count=2, retry_after=retry_after)
    assert fault["remaining"] == 2
    for _ in range(2):
        response = api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"})
        assert_error(response, status, code)
        assert response.headers.get("Retry-After") == (str(retry_after) if retry_after else None)
    assert api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}).status_code == 200
    stats = emulator.stats()
    assert stats["faults_injected"] == 2
    assert stats["by_status"][str(status)] == 2
    assert emulator.faults() == []


def test_fault_filters_and_custom_body(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("filtered", description="[lf-emulator:duration=30]"))
    emulator.inject_fault(
        503, path_contains="/start", method="post", retry_after=0.5, error_code="X.1", error_msg="busy now"
    )
    assert api.get(job["id"])["status"] == "CREATED"  # GET does not match
    assert api.stop(job["id"]).status_code == 400  # /stop does not match
    response = api.start(job["id"])
    assert_error(response, 503, "X.1", "busy now")
    assert response.headers["Retry-After"] == "0.5"
    assert api.status(job["id"]) == "CREATED"  # not processed
    assert api.start(job["id"]).status_code == 202
    assert emulator.stats()["starts"] == {job["id"]: 1}


def test_fault_delay_exceeds_client_read_timeout(api: Api, emulator: EmulatorServer) -> None:
    emulator.inject_fault(delay=1.0, path_contains="/lf-jobs")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}, timeout=0.3)
    assert time.monotonic() - started < 0.9
    assert api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}, timeout=5).status_code == 200
    # a delay only: the request is answered normally, late
    emulator.inject_fault(delay=0.3)
    started = time.monotonic()
    assert api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_drop_closes_the_connection(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("dropped"))
    emulator.inject_fault(drop=True, path_contains="/start")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.start(job["id"])
    assert api.status(job["id"]) == "CREATED"
    assert emulator.stats()["starts"] == {}
    emulator.inject_fault(drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(emulator.api_url, timeout=5)  # a fresh connection, too


@pytest.mark.parametrize(
    ("fault", "expected_error"),
    [
        ({"status": 502}, None),
        ({"status": 500}, None),
        ({"drop": True}, requests.exceptions.ConnectionError),
        ({"delay": 1.0}, requests.exceptions.ReadTimeout),
    ],
)
def test_fault_after_processing_really_starts_the_job(
    api: Api, emulator: EmulatorServer, fault: dict[str, Any], expected_error: type[Exception] | None
) -> None:
    job = api.create(migration_spec("ambiguous", description="[lf-emulator:duration=30]"))
    emulator.inject_fault(**fault, path_contains="/start", after_processing=True)
    if expected_error is None:
        response = api.start(job["id"])
        assert response.status_code == fault["status"]
        assert response.headers["X-Request-Id"]
    else:
        with pytest.raises(expected_error):
            api.call("POST", f"/lf-jobs/{job['id']}/start", timeout=0.3)
    assert api.status(job["id"]) in ("SUBMITTED", "RUNNING")
    assert emulator.stats()["starts"] == {job["id"]: 1}
    assert_error(api.start(job["id"]), 400, "common.01000001", "already")  # a blind retry would fail


def test_fault_after_processing_create(api: Api, emulator: EmulatorServer) -> None:
    emulator.inject_fault(drop=True, path_contains="/lf-jobs", method="POST", after_processing=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        api.call("POST", "/lf-jobs", json=migration_spec("created_anyway"))
    listed = api.call(
        "GET", "/lf-jobs", params={"type": "METADATA_MIGRATION", "name_pattern": "created_anyway"}
    )
    assert listed.json()["total"] == 1
    assert emulator.stats()["creates"] == 1


def test_fault_api_admin(emulator: EmulatorServer) -> None:
    a = emulator.inject_fault(500, count=3)
    b = emulator.inject_fault(drop=True, count=None, path_contains="/never")
    listed = emulator.faults()
    assert [f["id"] for f in listed] == [a["id"], b["id"]]
    assert listed[1]["remaining"] is None
    assert emulator.clear_faults() == 2
    assert emulator.faults() == []
    for body, fragment in [
        ({}, "needs a status"),
        ({"status": 200}, "status"),
        ({"status": 500, "drop": True}, "exclude"),
        ({"status": 500, "count": 0}, "count"),
        ({"status": 500, "colour": "red"}, "colour"),
        ({"delay": 601}, "delay"),
    ]:
        response = requests.post(emulator.url + "/_emulator/faults", json=body, timeout=10)
        assert_error(response, 400, "common.01000001", fragment)


def test_faults_hit_iam_too_but_not_admin_or_console(emulator: EmulatorServer) -> None:
    emulator.inject_fault(503, count=None)
    assert requests.get(emulator.url + "/_emulator/stats", timeout=10).status_code == 200
    assert requests.get(emulator.url + "/console/jobs", timeout=10).status_code == 200
    assert requests.post(emulator.iam_url, json=iam_body(emulator), timeout=10).status_code == 503
    emulator.clear_faults()
    assert requests.post(emulator.iam_url, json=iam_body(emulator), timeout=10).status_code == 201


# -------------------------------------------------------------------------------- stats and reset


def test_stats_and_reset(emulator_factory: Callable[..., EmulatorServer]) -> None:
    # a server of its own: exact counts must not see a late request of another test
    emulator = emulator_factory()
    api = Api(emulator)
    job = api.create(migration_spec("counted", description="[lf-emulator:duration=30]"))
    api.get(job["id"])
    api.start(job["id"])
    api.start(job["id"])  # rejected: still counted as a start request, not as a start
    api.stop(job["id"])
    requests.get(emulator.api_url, timeout=10)  # no credentials
    requests.post(emulator.iam_url, json=iam_body(emulator), timeout=10)
    stats = emulator.stats()
    assert stats["requests"] == 7
    assert stats["by_route"] == {
        "create_job": 1,
        "get_job": 1,
        "start_job": 2,
        "stop_job": 1,
        "get_instance": 1,
        "iam_tokens": 1,
    }
    assert stats["creates"] == 1
    assert stats["starts"] == {job["id"]: 1}
    assert stats["start_requests"] == {job["id"]: 2}
    assert stats["stops"] == {job["id"]: 1}
    assert stats["iam_tokens_issued"] == 1
    assert stats["auth_failures"] == 1
    assert stats["auth_failures_by_reason"] == {"missing_credentials": 1}
    assert stats["by_status"] == {"200": 1, "201": 2, "202": 2, "400": 1, "401": 1}
    emulator.configure(run_seconds=5)
    emulator.inject_fault(500, path_contains="/never")
    emulator.reset()
    stats = emulator.stats()
    assert stats["requests"] == 0
    assert stats["starts"] == {}
    assert emulator.faults() == []
    assert emulator.configure()["run_seconds"] == 0.3
    assert_error(api.call("GET", f"/lf-jobs/{job['id']}"), 404, "common.01000001")


def test_runtime_config_validation(emulator: EmulatorServer) -> None:
    with pytest.raises(RuntimeError, match="not changeable at run time: project_id"):
        emulator.configure(project_id="x")
    with pytest.raises(RuntimeError, match="status_shape"):
        emulator.configure(status_shape="xml")
    with pytest.raises(RuntimeError, match="run_seconds"):
        emulator.configure(run_seconds=-1)


def test_request_id_on_every_response(api: Api, emulator: EmulatorServer) -> None:
    responses = [
        api.call("GET", "/lf-jobs/nope"),
        api.call("GET", "/lf-jobs"),
        requests.get(emulator.api_url, timeout=10),
        requests.get(emulator.api_url, headers={"X-Auth-Token": "bad"}, timeout=10),
        requests.post(emulator.iam_url, json={}, timeout=10),
        requests.get(emulator.url + "/_emulator/stats", timeout=10),
        requests.get(emulator.url + "/console/jobs/nope", timeout=10),
        api.call("PATCH", "/lf-jobs"),
    ]
    ids = [r.headers["X-Request-Id"] for r in responses]
    assert len(set(ids)) == len(ids)
    assert responses[-1].status_code == 405


# ------------------------------------------------------------------------------------------ console


def test_console_page(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("console_job", description="<script>alert(1)</script>"))
    api.start(job["id"])
    api.wait_for(job["id"], "SUCCESS")
    page = requests.get(emulator.console_url(job["id"]), timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "console_job" in page.text
    assert "SUCCESS" in page.text
    assert "run 1 finished: SUCCESS" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    listing = requests.get(emulator.url + "/console/jobs", timeout=10)
    assert f"/console/jobs/{job['id']}" in listing.text
    assert requests.get(emulator.console_url("missing"), timeout=10).status_code == 404


# ---------------------------------------------------------------------------------- persistence


def test_state_survives_a_restart(emulator_factory: Callable[..., EmulatorServer], tmp_path: Path) -> None:
    state = tmp_path / "lf-state.db"
    first = emulator_factory(state_path=state, submit_seconds=0, run_seconds=0.2)
    api = Api(first)
    job = api.create(mysql_migration_spec("persistent"))
    api.start(job["id"])
    api.wait_for(job["id"], "SUCCESS")
    long_running = api.create(migration_spec("long_running", description="[lf-emulator:duration=60]"))
    api.start(long_running["id"])
    token = requests.post(first.iam_url, json=iam_body(first), timeout=10).headers["X-Subject-Token"]
    before = (api.get(job["id"]), api.history(job["id"]), api.log(job["id"]))
    first.stop()

    second = emulator_factory(state_path=state)
    api2 = Api(second)
    after = (api2.get(job["id"]), api2.history(job["id"]), api2.log(job["id"]))
    assert after == before
    assert after[1]["total"] == 1
    assert "finished: SUCCESS" in after[2]
    assert api2.status(long_running["id"]) == "RUNNING"  # time-driven: still running after the restart
    assert api2.stop(long_running["id"]).status_code == 202
    assert api2.status(long_running["id"]) == "STOPPED"
    assert Api(second, token=token).call("GET", "").status_code == 200  # IAM tokens outlive restarts
    raw = state.read_bytes()
    for wal in tmp_path.glob("lf-state.db-*"):
        raw += wal.read_bytes()
    assert SECRET_PASSWORD.encode() not in raw
    with sqlite3.connect(state) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ---------------------------------------------------------------------------------- concurrency


def test_hundreds_of_parallel_clients(api: Api, emulator: EmulatorServer) -> None:
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["X-Auth-Token"] = emulator.token
        return local.session  # type: ignore[no-any-return]

    def work(i: int) -> tuple[str, int, int]:
        s = session()
        created = s.post(emulator.api_url + "/lf-jobs", json=discovery_spec(f"parallel_{i:03d}"), timeout=30)
        job_id = created.json()["id"]
        got = s.get(f"{emulator.api_url}/lf-jobs/{job_id}", timeout=30)
        started = s.post(f"{emulator.api_url}/lf-jobs/{job_id}/start", timeout=30)
        return job_id, created.status_code, got.status_code * 1000 + started.status_code

    with ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(work, range(200)))
    assert [r[1] for r in results] == [201] * 200
    assert [r[2] for r in results] == [200202] * 200
    assert len({r[0] for r in results}) == 200
    stats = emulator.stats()
    assert stats["creates"] == 200
    assert sum(stats["starts"].values()) == 200
    page = api.call("GET", "/lf-jobs", params={"type": "METADATA_DISCOVERY", "limit": 1000}).json()
    assert page["total"] == 200


def test_concurrent_starts_of_one_job_start_it_once(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("raced", description="[lf-emulator:duration=30]"))

    def start(_: int) -> int:
        return requests.post(
            f"{emulator.api_url}/lf-jobs/{job['id']}/start",
            headers={"X-Auth-Token": emulator.token},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(start, range(50)))
    assert sorted(codes) == [202] + [400] * 49
    assert emulator.stats()["starts"] == {job["id"]: 1}


# ---------------------------------------------------------------------------- in-process server


def test_server_attributes_and_connection_forms(emulator: EmulatorServer) -> None:
    assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.running
    assert (emulator.project_id, emulator.instance_id) == (
        "0123456789abcdef0123456789abcdef",
        "lf-emulator-instance",
    )
    assert (emulator.ak, emulator.sk, emulator.token) == (
        "EMULATORAK",
        "emulator-secret-key",
        "emulator-token",
    )
    assert (emulator.iam_user, emulator.iam_password, emulator.domain_name) == (
        "emulator_user",
        "emulator-password",
        "emulator_domain",
    )
    conn = emulator.connection("aksk")
    assert conn == {
        "conn_type": "lakeformation",
        "host": emulator.url,
        "login": "EMULATORAK",
        "password": "emulator-secret-key",
        "extra": {
            "project_id": emulator.project_id,
            "instance_id": emulator.instance_id,
            "region": "cn-north-4",
            "auth_type": "aksk",
        },
    }
    iam = emulator.connection("iam")
    assert iam["extra"]["iam_endpoint"] == emulator.url
    assert iam["extra"]["domain_name"] == "emulator_domain"
    assert "login" not in emulator.connection("token")
    uri = emulator.connection_uri("aksk")
    assert uri.startswith(f"lakeformation://EMULATORAK:emulator-secret-key@{urlsplit(emulator.url).netloc}/?")
    assert "auth_type=aksk" in uri
    assert json.loads(emulator.connection_json("token"))["password"] == "emulator-token"


def test_custom_credentials(emulator_factory: Callable[..., EmulatorServer]) -> None:
    server = emulator_factory(project_id="p" * 32, instance_id="inst-1", token="tok", ak="AK2", sk="SK2")
    assert server.api_url.endswith(f"/v1/{'p' * 32}/instances/inst-1")
    assert Api(server, token="tok").call("GET", "").status_code == 200
    assert signed("GET", server.api_url, ak="AK2", sk="SK2").status_code == 200
    assert Api(server, token="emulator-token").call("GET", "").status_code == 403
