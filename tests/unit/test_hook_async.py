"""AsyncLakeFormationClient against a real local aiohttp server (no mocks): auth, signing, retries,
Retry-After, error mapping, IAM token sharing, keep-alive, TLS (also for the sync hook)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from airflow_provider_lakeformation.auth import clear_shared_token_caches, verify_signature
from airflow_provider_lakeformation.exceptions import (
    LakeFormationAuthError,
    LakeFormationBadRequestError,
    LakeFormationConnectionError,
    LakeFormationNotFoundError,
    LakeFormationResponseError,
    LakeFormationRetryableError,
)
from airflow_provider_lakeformation.hooks import _retry
from airflow_provider_lakeformation.hooks.lakeformation import (
    AsyncLakeFormationClient,
    JobStatus,
    LakeFormationHook,
)
from tests.unit.hook_settings import AK, IAM_PASSWORD, SK, TOKEN, conn_settings

SECRETS = (SK, TOKEN, IAM_PASSWORD)
JOBS = "/v1/proj1/instances/inst1/lf-jobs"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str -> text
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass
class Seen:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    peer: Any


class FakeApi:
    """Programmable LakeFormation/IAM server: per (method, path) a queue of replies (the last repeats)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        self.server: TestServer | None = None
        self.url = ""

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = list(replies)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.url.split("?")[0].endswith(path)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.seen.append(Seen(request.method, url, dict(request.headers), body, peer))
        replies = self.routes.get((request.method, request.path))
        if not replies:
            return web.json_response({"error_code": "common.01000001", "error_msg": "no route"}, status=404)
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        if isinstance(reply.body, str):
            return web.Response(
                status=reply.status, text=reply.body, headers=reply.headers, content_type="text/html"
            )
        if reply.body is None:
            return web.Response(status=reply.status, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)


async def start(fake: FakeApi, ssl_context: ssl.SSLContext | None = None) -> FakeApi:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app)
    await server.start_server(ssl=ssl_context)
    fake.server = server
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    fake = await start(FakeApi())
    yield fake
    assert fake.server is not None
    await fake.server.close()


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_retry, "ASLEEP", fake_sleep)
    monkeypatch.setattr(_retry, "SLEEP", recorded.append)
    return recorded


@pytest.fixture(autouse=True)
def _fresh_token_caches() -> None:
    clear_shared_token_caches()


def make_hook(url: str, auth: str = "token", **extra: Any) -> LakeFormationHook:
    return LakeFormationHook.from_settings(conn_settings(url, url, auth, **extra))


def job(job_id: str = "j1", status: Any = "RUNNING", **over: Any) -> dict[str, Any]:
    return {"id": job_id, "name": "test_job_1", "status": status, **over}


# ----------------------------------------------------------------------------- basics


async def test_get_job_and_status_signed(api: FakeApi) -> None:
    api.on("GET", f"{JOBS}/j1", Reply(body=job(status={"status": "SUCCESS"}, brand_new=1)))
    api.on("GET", f"{JOBS}/j2", Reply(body=job("j2", status="PARTIAL_SUCCESS")))
    hook = make_hook(api.url, "aksk")
    async with hook.async_client() as client:
        assert isinstance(client, AsyncLakeFormationClient)
        got = await client.get_job("j1")
        assert got.status is JobStatus.SUCCESS
        assert await client.get_job_status("j2") is JobStatus.PARTIAL_SUCCESS
        assert client.job_console_url("j1") == f"{api.url}/console/jobs/j1"
    for seen in api.seen:
        assert seen.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}")
        assert seen.headers["X-Project-Id"] == "proj1"
        assert verify_signature(seen.method, seen.url, seen.headers, seen.body, SK)
    assert len({s.peer for s in api.seen}) == 1  # one keep-alive connection for the client


async def test_token_auth_and_stop(api: FakeApi) -> None:
    api.on("POST", f"{JOBS}/j1/stop", Reply(status=202, body=None))
    async with make_hook(api.url).async_client() as client:
        await client.stop_job("j1")
    assert api.seen[0].headers["X-Auth-Token"] == TOKEN
    assert "Authorization" not in api.seen[0].headers


@pytest.mark.parametrize(("status", "raises"), [("STOPPED", False), ("SUCCESS", False), ("RUNNING", True)])
async def test_stop_400_depends_on_the_job(api: FakeApi, status: str, raises: bool) -> None:
    api.on("POST", f"{JOBS}/j1/stop", Reply(400, {"error_code": "LF.01", "error_msg": "job is not running"}))
    api.on("GET", f"{JOBS}/j1", Reply(body=job(status=status)))
    async with make_hook(api.url).async_client() as client:
        if raises:
            with pytest.raises(LakeFormationBadRequestError, match="job is not running"):
                await client.stop_job("j1")
        else:
            await client.stop_job("j1")


async def test_job_log(api: FakeApi) -> None:
    api.on("GET", f"{JOBS}/j1/log", Reply(body={"log": "a\nb"}))
    async with make_hook(api.url).async_client() as client:
        assert (await client.get_job_log("j1")).tail(1) == "b"


async def test_client_requires_async_with(api: FakeApi) -> None:
    client = make_hook(api.url).async_client()
    with pytest.raises(RuntimeError, match="async with"):
        await client.get_job("j1")


async def test_connection_from_env_via_aget_connection(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {
        "conn_type": "lakeformation",
        "host": api.url,
        "password": TOKEN,
        "extra": {"project_id": "proj1", "instance_id": "inst1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LF_ASYNC_ENV", json.dumps(conn))
    api.on("GET", f"{JOBS}/j1", Reply(body=job()))
    async with LakeFormationHook("lf_async_env").async_client() as client:
        assert await client.get_job_status("j1") is JobStatus.RUNNING


async def test_proxy_from_environment(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    api.on("GET", f"{JOBS}/j1", Reply(body=job()))
    monkeypatch.setenv("HTTP_PROXY", api.url)  # the fake server plays the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with make_hook("http://lf-behind-proxy.invalid:8080").async_client() as client:
        assert (await client.get_job("j1")).id == "j1"
    assert (
        "http://lf-behind-proxy.invalid:8080/v1/proj1/" in api.seen[0].url
    )  # absolute-form: a proxy request
    monkeypatch.setenv("NO_PROXY", "lf-behind-proxy.invalid")
    async with make_hook("http://lf-behind-proxy.invalid:8080", max_retries=0).async_client() as client:
        with pytest.raises(LakeFormationConnectionError, match="could not connect"):
            await client.get_job("j1")
    assert len(api.seen) == 1


# ---------------------------------------------------------------------------- retries


async def test_retry_after_then_success(api: FakeApi, waits: list[float]) -> None:
    date = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    api.on(
        "GET",
        f"{JOBS}/j1",
        Reply(429, {"error_code": "APIG.0308"}, {"Retry-After": "3"}),
        Reply(503, {"error_code": "common.00000500"}, {"Retry-After": date}),
        Reply(body=job()),
    )
    async with make_hook(api.url, retry_after_cap=60).async_client() as client:
        assert (await client.get_job("j1")).id == "j1"
    assert 3 <= waits[0] <= 3.3
    assert 27 <= waits[1] <= 33


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retryable_statuses_exhaust(api: FakeApi, waits: list[float], status: int) -> None:
    api.on(
        "GET",
        f"{JOBS}/j1",
        Reply(
            status,
            {"error_code": "E1", "error_msg": "busy", "solution_msg": "wait"},
            {"X-Request-Id": "rq-1"},
        ),
    )
    async with make_hook(api.url).async_client() as client:
        with pytest.raises(LakeFormationRetryableError) as info:
            await client.get_job_status("j1")
    exc = info.value
    assert len(api.seen) == 4
    assert len(waits) == 3
    assert all(0.5 <= w <= 4 for w in waits)
    assert (exc.status_code, exc.error_code, exc.error_msg, exc.solution_msg, exc.request_id) == (
        status,
        "E1",
        "busy",
        "wait",
        "rq-1",
    )
    assert (exc.method, exc.path) == ("GET", f"{JOBS}/j1")
    assert "gave up after 4 attempts" in str(exc)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, LakeFormationBadRequestError),
        (401, LakeFormationAuthError),
        (403, LakeFormationAuthError),
        (404, LakeFormationNotFoundError),
    ],
)
async def test_client_errors_are_not_retried(api: FakeApi, status: int, cls: type) -> None:
    api.on("GET", f"{JOBS}/j1", Reply(status, {"error_code": "X", "error_msg": "nope"}))
    async with make_hook(api.url).async_client() as client:
        with pytest.raises(cls):
            await client.get_job("j1")
    assert len(api.seen) == 1


async def test_read_timeout_is_retried(api: FakeApi) -> None:
    api.on("GET", f"{JOBS}/j1", Reply(delay=1.0, body=job()))
    async with make_hook(api.url, read_timeout=0.1, max_retries=1).async_client() as client:
        with pytest.raises(LakeFormationConnectionError) as info:
            await client.get_job("j1")
    assert "no response within the read timeout of 0.1 s" in str(info.value)
    assert "gave up after 2 attempts" in str(info.value)
    assert len(api.seen) == 2


async def test_dropped_connection_is_retried(api: FakeApi) -> None:
    api.on("GET", f"{JOBS}/j1", Reply(drop=True), Reply(body=job()))
    async with make_hook(api.url).async_client() as client:
        assert (await client.get_job("j1")).id == "j1"
    assert len(api.seen) == 2


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with make_hook(f"http://127.0.0.1:{port}", max_retries=2).async_client() as client:
        with pytest.raises(LakeFormationConnectionError) as info:
            await client.get_job("j1")
    assert "could not connect" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(body="<html>login page</html>"), "the body is not JSON"),
        (Reply(body=job(status=7)), "status must be a string"),
        (Reply(body={"error_code": "LF.9", "error_msg": "odd"}), "HTTP 200 with an error body"),
    ],
)
async def test_unusable_bodies(api: FakeApi, reply: Reply, message: str) -> None:
    api.on("GET", f"{JOBS}/j1", reply)
    async with make_hook(api.url).async_client() as client:
        with pytest.raises(LakeFormationResponseError, match=message):
            await client.get_job("j1")
    assert len(api.seen) == 1


# -------------------------------------------------------------------------------- IAM


def iam_reply(token: str) -> Reply:
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=24)).isoformat()
    return Reply(201, {"token": {"expires_at": expires}}, {"X-Subject-Token": token})


async def test_iam_token_shared_by_clients_and_concurrent_polls(
    api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.on("POST", "/v3/auth/tokens", iam_reply("iam-token-a"))
    api.on("GET", f"{JOBS}/j1", Reply(body=job()))
    async with (
        make_hook(api.url, "iam").async_client() as one,
        make_hook(api.url, "iam").async_client() as two,
    ):
        await asyncio.gather(*(c.get_job_status("j1") for c in (one, two) for _ in range(10)))
    assert len(api.calls("POST", "/v3/auth/tokens")) == 1
    gets = api.calls("GET", f"{JOBS}/j1")
    assert len(gets) == 20
    assert {g.headers["X-Auth-Token"] for g in gets} == {"iam-token-a"}
    body = json.loads(api.calls("POST", "/v3/auth/tokens")[0].body)
    assert body["auth"]["identity"]["password"]["user"]["password"] == IAM_PASSWORD
    for secret in (*SECRETS, "iam-token-a"):
        assert secret not in caplog.text


async def test_iam_401_refreshes_once(api: FakeApi) -> None:
    api.on("POST", "/v3/auth/tokens", iam_reply("t1"), iam_reply("t2"), iam_reply("t3"))
    api.on("GET", f"{JOBS}/j1", Reply(401, {"error_code": "APIG.1002"}), Reply(body=job()))
    api.on("GET", f"{JOBS}/j2", Reply(401, {"error_code": "APIG.1002"}))
    hook = make_hook(api.url, "iam")
    async with hook.async_client() as client:
        assert (await client.get_job("j1")).id == "j1"
        assert [g.headers["X-Auth-Token"] for g in api.calls("GET", f"{JOBS}/j1")] == ["t1", "t2"]
        with pytest.raises(LakeFormationAuthError):
            await client.get_job("j2")
    assert len(api.calls("GET", f"{JOBS}/j2")) == 2
    assert len(api.calls("POST", "/v3/auth/tokens")) == 3


async def test_sync_and_async_share_the_iam_token(api: FakeApi) -> None:
    api.on("POST", "/v3/auth/tokens", iam_reply("shared"))
    api.on("GET", f"{JOBS}/j1", Reply(body=job()))
    await asyncio.to_thread(make_hook(api.url, "iam").get_job, "j1")
    async with make_hook(api.url, "iam").async_client() as client:
        await client.get_job("j1")
    assert len(api.calls("POST", "/v3/auth/tokens")) == 1


# -------------------------------------------------------------------------------- TLS


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_tls_verify_and_ca_bundle(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    fake = await start(FakeApi(), ctx)
    try:
        fake.on("GET", f"{JOBS}/j1", Reply(body=job()))
        assert fake.url.startswith("https://")
        async with make_hook(fake.url).async_client() as client:  # verification on by default
            with pytest.raises(LakeFormationConnectionError, match="ca_bundle"):
                await client.get_job("j1")
        assert fake.seen == []  # not retried, never reached the API
        async with make_hook(fake.url, ca_bundle=str(cert)).async_client() as client:
            assert (await client.get_job("j1")).id == "j1"
        async with make_hook(fake.url, verify="false").async_client() as client:
            assert (await client.get_job("j1")).id == "j1"
        # the sync hook honours the same settings
        with pytest.raises(LakeFormationConnectionError, match="ca_bundle"):
            await asyncio.to_thread(make_hook(fake.url).get_job, "j1")
        assert (await asyncio.to_thread(make_hook(fake.url, ca_bundle=str(cert)).get_job, "j1")).id == "j1"
        assert (await asyncio.to_thread(make_hook(fake.url, verify=False).get_job, "j1")).id == "j1"
    finally:
        assert fake.server is not None
        await fake.server.close()


# ----------------------------------------------------------------------- polling cost


async def test_many_clients_poll_in_one_loop(api: FakeApi) -> None:
    """A smoke check of per-poll cost: 300 clients x 3 polls each (AK/SK signing) in one loop."""
    api.on("GET", f"{JOBS}/j1", Reply(body=job()))
    hook = make_hook(api.url, "aksk")
    started = time.perf_counter()

    async def trigger() -> None:
        async with hook.async_client() as client:
            for _ in range(3):
                assert await client.get_job_status("j1") is JobStatus.RUNNING

    await asyncio.gather(*(trigger() for _ in range(300)))
    assert len(api.seen) == 900
    assert time.perf_counter() - started < 30
