"""TLS certificates are verified by default: against a local HTTPS server whose certificate is
signed by a throw-away CA, every path (sync hook, async client, trigger, IAM token request) fails
without the CA and works with ``ca_bundle`` in the connection extras."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationConnectionError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.reliability.harness import FAST_RETRY, first_event
from tests.reliability.recorder import Row
from tests.reliability.servers import CannedServer, Reply, TlsFiles, make_tls_files

JOB = {"id": "j1", "name": "tls_job", "status": "SUCCESS"}
IAM_BODY = {
    "token": {"expires_at": "2099-01-01T00:00:00.000000Z", "issued_at": "2026-01-01T00:00:00.000000Z"}
}


def _route(method: str, path: str) -> Reply:
    if path.startswith("/v3/auth/tokens"):
        return Reply(201, IAM_BODY, headers={"X-Subject-Token": "tls-iam-token-value"})
    return Reply(200, JOB)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(tls: TlsFiles) -> Iterator[CannedServer]:
    with CannedServer(_route, ssl_context=tls.server_context()) as server:
        yield server


@pytest.fixture
def tls_conn(https_server: CannedServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    def make(auth: str = "token", **extra: Any) -> str:
        conn: dict[str, Any] = {
            "conn_type": "lakeformation",
            "host": https_server.url,
            "password": "tls-static-token",
            "extra": {"project_id": "p1", "instance_id": "i1", "auth_type": auth, **FAST_RETRY, **extra},
        }
        if auth == "iam":
            conn["login"] = "tls_user"
            conn["extra"].update(domain_name="tls_domain", iam_endpoint=https_server.url)
        monkeypatch.setenv("AIRFLOW_CONN_LF_TLS", json.dumps(conn))
        return "lf_tls"

    return make


def _sync(conn_id: str) -> str:
    return str(LakeFormationHook(conn_id).get_job("j1").status)


def _async(conn_id: str) -> str:
    async def run() -> str:
        async with LakeFormationHook(conn_id).async_client() as api:
            return str(await api.get_job_status("j1"))

    return asyncio.run(run())


def _trigger(conn_id: str) -> str:
    event = asyncio.run(first_event(LakeFormationJobTrigger("j1", conn_id, poll_interval=0.01), timeout=30))
    if event["status"] != "success":
        raise LakeFormationConnectionError(event["message"])
    return str(event["job_status"])


PATHS: dict[str, Callable[[str], str]] = {"sync hook": _sync, "async client": _async, "trigger": _trigger}


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # the verify=false step
@pytest.mark.parametrize("auth", ["token", "iam"])
@pytest.mark.parametrize("path", list(PATHS))
def test_tls_verified_by_default(
    path: str,
    auth: str,
    tls: TlsFiles,
    https_server: CannedServer,
    tls_conn: Callable[..., str],
    record: Row,
) -> None:
    call = PATHS[path]
    # default: verify on, system CAs only -> the self-signed chain is refused, nothing is answered
    with pytest.raises(LakeFormationConnectionError) as info:
        call(tls_conn(auth))
    text = str(info.value)
    assert "certificate" in text.lower() or "ssl" in text.lower() or "tls" in text.lower(), text
    assert https_server.requests == 0, "a request was answered over an unverified connection"
    # explicit verify=true: the same
    with pytest.raises(LakeFormationConnectionError):
        call(tls_conn(auth, verify=True))
    assert https_server.requests == 0
    # with the CA bundle the connection is trusted
    assert call(tls_conn(auth, ca_bundle=str(tls.ca_cert))) == "SUCCESS"
    answered = https_server.requests
    assert answered >= 1
    paths = {seen.path.split("?")[0] for seen in https_server.seen}
    if auth == "iam":
        assert "/v3/auth/tokens" in paths, "the IAM token request did not go over the verified connection"
    # verify=false is an explicit opt-out (test endpoints only)
    assert call(tls_conn(auth, verify=False)) == "SUCCESS"
    record(
        "tls",
        f"self-signed HTTPS endpoint, {path}, auth {auth}",
        "fails without the CA (default verify, no request answered); works with ca_bundle; "
        "verify=false opts out",
    ).count(requests=https_server.requests, error=text[:120])


def test_ca_bundle_is_not_a_bypass(
    tmp_path: Path, https_server: CannedServer, tls_conn: Callable[..., str], record: Row
) -> None:
    """A CA bundle of an unrelated CA does not make the server trusted."""
    other = make_tls_files(tmp_path)
    for call in PATHS.values():
        with pytest.raises(LakeFormationConnectionError):
            call(tls_conn(ca_bundle=str(other.ca_cert)))
    assert https_server.requests == 0
    record("tls", "ca_bundle of another CA", "refused on sync, async and trigger paths").count(requests=0)
