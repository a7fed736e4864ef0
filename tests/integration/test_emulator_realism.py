"""Emulator realism: the gateway's X-Project-Id check on AK/SK requests, the status-injection knob
(a job reporting a status no client has seen) and the console page addressing one run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_lakeformation.emulator import EmulatorServer

from .test_emulator import Api, migration_spec, signed


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[Api]:
    client = Api(emulator)
    yield client
    client.session.close()


# ------------------------------------------------------------------------------- X-Project-Id


def test_aksk_x_project_id_must_name_the_path_project(emulator: EmulatorServer) -> None:
    url = emulator.api_url + "/lf-jobs?type=METADATA_MIGRATION"
    creds = {"ak": emulator.ak, "sk": emulator.sk}
    other = signed("GET", url, project_id="ffffffffffffffffffffffffffffffff", **creds)
    assert other.status_code == 403, other.text
    assert "X-Project-Id does not match the project in the URL" in other.json()["error_msg"]
    assert signed("GET", url, project_id=emulator.project_id, **creds).status_code == 200
    assert signed("GET", url, **creds).status_code == 200  # no header: the path names the project
    temporary = signed(
        "GET", url, ak=emulator.temp_ak, sk=emulator.temp_sk, security_token=emulator.security_token,
        project_id="ffffffffffffffffffffffffffffffff",
    )  # fmt: skip
    assert temporary.status_code == 403
    stats = emulator.stats()
    assert stats["auth_failures_by_reason"] == {"project_mismatch": 2}
    assert stats["auth_by_mode"] == {"aksk": 2}


def test_token_requests_are_scoped_by_the_token_not_the_header(emulator: EmulatorServer) -> None:
    headers = {"X-Auth-Token": emulator.token, "X-Project-Id": "another"}
    response = requests.get(
        emulator.api_url + "/lf-jobs?type=METADATA_MIGRATION", headers=headers, timeout=10
    )
    assert response.status_code == 200


# -------------------------------------------------------------------------- status injection


def test_a_job_can_report_a_status_no_client_knows(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("queued_job", description="[lf-emulator:duration=30]"))
    other = api.create(migration_spec("plain_job"))
    assert emulator.report_status(job["id"], "QUEUED") == {"job_id": job["id"], "status": "QUEUED"}
    assert api.get(job["id"])["status"] == "QUEUED"
    listed = api.call("GET", "/lf-jobs", params={"type": "METADATA_MIGRATION"}).json()
    assert {j["name"]: j["status"] for j in listed["jobs"]} == {
        "queued_job": "QUEUED",
        "plain_job": "CREATED",
    }
    emulator.configure(status_shape="object")
    assert api.get(job["id"])["status"] == {"status": "QUEUED"}
    # the job's real life carries on underneath: it starts, and a second start is refused
    assert api.start(job["id"]).status_code == 202
    assert api.start(job["id"]).status_code == 400
    assert api.get(job["id"])["status"] == {"status": "QUEUED"}
    assert api.history(job["id"])["jobs"][0]["status"]["status"] in ("SUBMITTED", "RUNNING")  # not injected
    emulator.report_status(job["id"], None)
    assert api.get(job["id"])["status"]["status"] in ("SUBMITTED", "RUNNING")
    emulator.report_status(other["id"], "PENDING")
    emulator.reset()
    assert emulator.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"status": ""}, 400, "status"),
        ({"status": "x" * 65}, 400, "status"),
        ({"status": "LINE\nBREAK"}, 400, "status"),
        ({"status": 7}, 400, "status"),
        ({"state": "QUEUED"}, 400, "state"),
    ],
)
def test_the_status_knob_validates_its_input(
    api: Api, emulator: EmulatorServer, body: dict[str, Any], status: int, fragment: str
) -> None:
    job = api.create(migration_spec("knob_job"))
    response = requests.put(f"{emulator.url}/_emulator/jobs/{job['id']}/status", json=body, timeout=10)
    assert response.status_code == status
    assert fragment in response.json()["error_msg"]
    missing = requests.put(
        f"{emulator.url}/_emulator/jobs/nope/status", json={"status": "QUEUED"}, timeout=10
    )
    assert missing.status_code == 404


# -------------------------------------------------------------------------------------- console


def _row(page: str, run_id: str) -> str:
    match = re.search(rf'<tr[^>]*id="run-{run_id}">.*?</tr>', page)
    assert match, page
    return match.group(0)


def test_console_shows_each_runs_mode_and_addresses_one_run(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("console_runs"))
    assert api.start(job["id"]).status_code == 202  # no mode given: the service runs NORMAL
    api.wait_for(job["id"], "SUCCESS")
    first = api.history(job["id"])["jobs"][0]
    update = migration_spec("console_runs", description="[lf-emulator:outcome=FAILED]")
    del update["type"]
    assert api.call("PUT", f"/lf-jobs/{job['id']}", json=update).status_code == 200
    assert api.start(job["id"], mode="COMPARISON").status_code == 202
    api.wait_for(job["id"], "FAILED")
    second = api.history(job["id"])["jobs"][0]

    latest = requests.get(emulator.console_url(job["id"]), timeout=10).text
    assert "<td>NORMAL</td>" in _row(latest, first["run_id"])
    assert "<td>COMPARISON</td>" in _row(latest, second["run_id"])
    assert "run 2 finished: FAILED" in latest

    for selector in (first["run_id"], first["start_time"]):
        page = requests.get(emulator.console_url(job["id"], run=selector), timeout=10)
        assert page.status_code == 200
        assert 'class="selected"' in _row(page.text, first["run_id"])
        assert 'class="selected"' not in _row(page.text, second["run_id"])
        log = page.text.split("<h2>Log (run 1)</h2>", 1)[1].split("</pre>", 1)[0]
        assert "run 1 finished: SUCCESS" in log
        assert "FAILED" not in log

    unknown = requests.get(emulator.console_url(job["id"], run="no-such-run"), timeout=10)
    assert unknown.status_code == 200
    assert "No run no-such-run in this job" in unknown.text
    assert "run 2 finished: FAILED" in unknown.text


def test_console_log_lines_wrap(api: Api, emulator: EmulatorServer) -> None:
    job = api.create(migration_spec("wrapping"))
    page = requests.get(emulator.console_url(job["id"]), timeout=10).text
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert re.search(r"pre\{[^}]*white-space:pre-wrap", style)
    assert re.search(r"pre\{[^}]*overflow-wrap:anywhere", style)
