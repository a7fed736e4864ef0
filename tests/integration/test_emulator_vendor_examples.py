"""The vendor pages' own examples against the emulator over raw HTTP (no provider client code), and
proof that the emulator's request schema is its own: a rule loosened on the client side only is
still enforced by the emulator."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from annotated_types import MaxLen

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationApiError, LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "vendor_examples"
SECRETS = ("LTAIxxxxxxxxxxxxxxxxRxPG", "12345xxxxxxxxxxxxxxxxNabcdefgh", "1234xxxxxxxxxxxxxxxxxxxxefgh")


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def index() -> list[dict[str, Any]]:
    return list(example("requests.json"))


def url_for(server: EmulatorServer, path: str, job_id: str = "") -> str:
    return server.url + path.format(
        project_id=server.project_id, instance_id=server.instance_id, job_id=job_id
    )


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["X-Auth-Token"] = emulator.token
        yield session


def send(
    http: requests.Session, server: EmulatorServer, entry: dict[str, Any], job_id: str
) -> requests.Response:
    """One example request exactly as the page prints it: the file's bytes are the body."""
    body = (EXAMPLES / entry["body"]).read_bytes() if entry["body"] else None
    headers = {"Content-Type": "application/json"} if body else {}
    return http.request(
        entry["method"], url_for(server, entry["path"], job_id), data=body, headers=headers, timeout=10
    )


def test_every_example_request_is_accepted_with_the_documented_status(
    emulator: EmulatorServer, http: requests.Session
) -> None:
    emulator.configure(run_seconds=30)  # still RUNNING when the stop example arrives
    job_id = ""
    seen = []
    for entry in index():
        response = send(http, emulator, entry, job_id)
        assert response.status_code == entry["status"], (entry["page"], response.text)
        seen.append((entry["page"], response.status_code))
        if entry["page"] == "create-job":
            job_id = response.json()["id"]
    assert seen == [("create-job", 201), ("modify-job", 200), ("start-job", 202), ("stop-job", 202)]
    assert http.get(url_for(emulator, index()[0]["path"]) + f"/{job_id}", timeout=10).json()["status"] in (
        "RUNNING",
        "STOPPED",
    )


def test_example_bodies_are_stored_as_sent_without_secrets(
    emulator: EmulatorServer, http: requests.Session
) -> None:
    create, modify = index()[0], index()[1]
    created = send(http, emulator, create, "")
    assert created.status_code == 201, created.text
    body = created.json()
    sent = example(create["body"])
    # all three blocks of the example are kept (the type decides which one runs)
    assert sorted(body["parameter"]) == sorted(sent["parameter"])
    discovery = body["parameter"]["metadata_discovery_parameter"]
    assert (discovery["execute_day"], discovery["execute_hour"], discovery["execute_minute"]) == (
        "1",
        "1",
        "1",
    )
    assert body["parameter"]["metadata_migration_parameter"]["datasource_parameter"] == {
        k: v
        for k, v in sent["parameter"]["metadata_migration_parameter"]["datasource_parameter"].items()
        if k not in ("password", "access_key", "secret_key")
    }
    modified = send(http, emulator, modify, body["id"])
    assert modified.status_code == 200, modified.text
    block = modified.json()["parameter"]["metadata_migration_parameter"]
    assert block["conflict_strategy"] == "UPDATE"
    for response in (created, modified):
        for secret in SECRETS:
            assert secret not in response.text


@pytest.mark.parametrize("name", ["create-job.response-201.json", "modify-job.response-200.json"])
def test_the_emulator_answers_with_the_example_response_fields(
    emulator: EmulatorServer, http: requests.Session, name: str
) -> None:
    emulator.configure(status_shape="object")
    created = send(http, emulator, index()[0], "")
    reply = created if name.startswith("create") else send(http, emulator, index()[1], created.json()["id"])
    documented = example(name)
    assert set(documented) - {"description"} <= set(reply.json()), (sorted(documented), reply.text)
    assert reply.json()["status"] == {"status": "CREATED"}  # the example's object shape


@pytest.mark.parametrize("status", ["400", "404"])
def test_error_bodies_carry_the_example_fields(
    emulator: EmulatorServer, http: requests.Session, status: str
) -> None:
    documented = example(f"create-job.response-{status}.json")
    base = url_for(emulator, index()[0]["path"])
    response = (
        http.post(base, json={"name": "x"}, timeout=10)
        if status == "400"
        else http.get(base + "/nope", timeout=10)
    )
    assert response.status_code == int(status)
    assert set(documented) <= set(response.json())
    assert response.json()["error_code"] == documented["error_code"]
    assert response.json()["error_msg"].startswith(documented["error_msg"].split(", reason")[0])


def test_unauthenticated_bodies_match_the_401_and_403_examples(emulator: EmulatorServer) -> None:
    base = url_for(emulator, index()[0]["path"])
    unauthenticated = requests.get(base, params={"type": "METADATA_MIGRATION"}, timeout=10)
    assert unauthenticated.status_code == 401
    for key, value in example("create-job.response-401.json").items():
        assert unauthenticated.json()[key] == value
    forbidden = requests.get(base, headers={"X-Auth-Token": "not-a-token"}, timeout=10)
    assert forbidden.status_code == 403
    assert forbidden.json() == example("create-job.response-403.json")


# ------------------------------------------------------------------------------- independence


@pytest.fixture
def looser_client_name_rule() -> Iterator[int]:
    """The client's CreateJobRequest with its job-name limit raised from 255 to 1000 characters."""
    from airflow_provider_lakeformation.models.jobs import CreateJobRequest

    original = CreateJobRequest.__pydantic_fields__["name"]
    looser = copy.copy(original)
    looser.metadata = [MaxLen(1000) if isinstance(m, MaxLen) else m for m in original.metadata]
    CreateJobRequest.__pydantic_fields__["name"] = looser
    CreateJobRequest.model_rebuild(force=True)
    try:
        yield 1000
    finally:
        CreateJobRequest.__pydantic_fields__["name"] = original
        CreateJobRequest.model_rebuild(force=True)


def _long_name_spec(length: int) -> dict[str, Any]:
    return {
        "name": "n" * length,
        "type": "PERMISSION_MIGRATION",
        "parameter": {
            "permission_migration_parameter": {
                "location": "obs://policies",
                "log_location": "obs://logs",
                "policy_type": "RANGER",
                "instance_id": "lf-emulator-instance",
            }
        },
    }


def test_client_rule_loosened_the_emulator_still_refuses_over_http(
    emulator: EmulatorServer, emulator_connection: Any, looser_client_name_rule: int
) -> None:
    hook = LakeFormationHook(emulator_connection("aksk"))
    with pytest.raises(LakeFormationApiError) as caught:
        hook.create_job(_long_name_spec(300))
    error = caught.value
    assert error.status_code == 400
    assert error.error_code == "common.01000001"
    assert "name: String should have at most 255 characters" in (error.error_msg or "")
    stats = emulator.stats()
    assert stats["by_route"].get("create_job", 0) >= 1  # it reached the emulator: over HTTP
    assert stats["creates"] == 0


def test_without_the_patch_the_client_refuses_before_http(
    emulator: EmulatorServer, emulator_connection: Any
) -> None:
    """The control of the test above: the same spec never leaves an unpatched client."""
    hook = LakeFormationHook(emulator_connection("aksk"))
    with pytest.raises(LakeFormationSpecError, match="name"):
        hook.create_job(_long_name_spec(300))
    assert emulator.stats()["requests"] == 0
