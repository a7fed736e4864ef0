"""Hardening of the client against a hostile server and hostile input (issue: outside security and
fault review, client items). Every scenario talks HTTP to a local server that misbehaves on purpose
(echoes credentials, inflates gzip bombs, drips bytes, nests JSON deeply) or checks that bad input
never reaches the server at all; memory is measured in a subprocess."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationError, LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models.status import TERMINAL_STATUSES, JobStatus
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from airflow_provider_lakeformation.waiter import JobPoll, wait
from tests.reliability.harness import first_event, make_context
from tests.reliability.recorder import Row

ROOT = Path(__file__).resolve().parents[2]
CAT = "hardening"
FAST = {
    "retry_min_wait": 0.01,
    "retry_max_wait": 0.1,
    "max_retries": 2,
    "connect_timeout": 2,
    "read_timeout": 5,
}

# Distinctive credential values: any of them in a text is a leak.
TOKEN = "TOKEN-static-7f3a9c1e"
AK = "AKHARDEN4417QX"
SK = "SK-harden-secret-0b9d2f"
SECURITY = "SECTOKEN-harden-55e1aa"
IAM_PASSWORD = "IamPass-harden-9c8b7a"
ISSUED = "ISSUED-iam-token-c0ffee42"


# ------------------------------------------------------------------------------- the server


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Hostile:
    """A threaded HTTP server calling ``answer(handler, seen)`` for each request."""

    answer: Callable[[BaseHTTPRequestHandler, Seen], None]
    seen: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    host: str = "127.0.0.1"  #: the address listened on ("0.0.0.0": every interface)

    def __enter__(self) -> Hostile:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, dict(self.headers), body)
                server.seen.append(seen)
                try:
                    server.answer(self, seen)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def send(
    h: BaseHTTPRequestHandler, status: int, body: bytes, reason: str | None = None, **headers: str
) -> None:
    h.send_response(status, reason)
    h.send_header("Content-Length", str(len(body)))
    h.send_header("X-Request-Id", headers.pop("request_id", "hostile-1"))
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.end_headers()
    h.wfile.write(body)


def iam_ok(h: BaseHTTPRequestHandler) -> None:
    body = json.dumps({"token": {"expires_at": "2099-01-01T00:00:00.000000Z"}}).encode()
    send(h, 201, body, X_Subject_Token=ISSUED, Content_Type="application/json")


def connection(monkeypatch: pytest.MonkeyPatch, url: str, auth: str = "token", **extra: Any) -> str:
    """An ``AIRFLOW_CONN_*`` connection to ``url``; returns its id."""
    conn: dict[str, Any] = {"conn_type": "lakeformation", "host": url}
    ex: dict[str, Any] = {"project_id": "proj1", "instance_id": "inst1", "auth_type": auth, **FAST}
    if auth == "token":
        conn["password"] = TOKEN
    elif auth == "aksk":
        conn.update(login=AK, password=SK)
        ex["security_token"] = SECURITY
    else:
        conn.update(login="iam-user", password=IAM_PASSWORD)
        ex.update(domain_name="acct", iam_endpoint=url)
    ex.update(extra)
    conn_id = f"hardening_{auth}_{abs(hash(url)) % 10**6}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, "extra": ex}))
    return conn_id


def sync_error(conn_id: str, job_id: str = "job-1", **kw: Any) -> BaseException:
    with pytest.raises(LakeFormationError) as info:
        LakeFormationHook(conn_id, **kw).get_job_status(job_id)
    return info.value


def async_error(conn_id: str, job_id: str = "job-1", **kw: Any) -> BaseException:
    async def go() -> None:
        async with LakeFormationHook(conn_id, **kw).async_client() as api:
            await api.get_job_status(job_id)

    with pytest.raises(LakeFormationError) as info:
        asyncio.run(go())
    return info.value


def trigger_event(conn_id: str, job_id: str = "job-1", *, end_in: float = 30.0, **kw: Any) -> dict[str, Any]:
    trigger = LakeFormationJobTrigger(
        job_id, conn_id, poll_interval=0.2, end_time=time.time() + end_in, max_transient_errors=0, **kw
    )
    return asyncio.run(first_event(trigger))


def texts_of(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), *(str(v) for v in vars(exc).values() if v is not None)]


# ------------------------------------------------------------------- 1 + 7: server-provided text

#: Where a server puts the echo: (name, answer(handler, echo)).
ECHO_PLACES: list[tuple[str, Callable[[BaseHTTPRequestHandler, str], None]]] = [
    ("error_msg", lambda h, e: send(h, 400, json.dumps({"error_code": "LF.1", "error_msg": e}).encode())),
    (
        "solution_msg",
        lambda h, e: send(h, 400, json.dumps({"error_code": "LF.1", "solution_msg": e}).encode()),
    ),
    ("error_code", lambda h, e: send(h, 403, json.dumps({"error_code": e[:500], "error_msg": "x"}).encode())),
    (
        "nested error.message",
        lambda h, e: send(h, 404, json.dumps({"error": {"code": "E", "message": e}}).encode()),
    ),
    ("plain-text body", lambda h, e: send(h, 400, e.encode(), Content_Type="text/plain")),
    ("reason phrase", lambda h, e: send(h, 400, b"", reason=e.replace("\r", " ").replace("\n", " ")[:900])),
    ("200 body", lambda h, e: send(h, 200, ("not json " + e).encode(), Content_Type="text/plain")),
]


def echo_of(seen: Seen) -> str:
    """Everything the client sent, as a server that echoes its request would quote it."""
    heads = " ".join(f"{k}: {v}" for k, v in seen.headers.items())
    return f"{heads} body={seen.body.decode('utf-8', 'replace')} \r\nFORGED LOG LINE \x1b[31m"


def echo_server(place: Callable[[BaseHTTPRequestHandler, str], None], iam_echo: bool = False) -> Hostile:
    def answer(h: BaseHTTPRequestHandler, seen: Seen) -> None:
        if seen.path.startswith("/v3/auth/tokens"):
            if iam_echo:
                place(h, echo_of(seen))
            else:
                iam_ok(h)
            return
        place(h, echo_of(seen))

    return Hostile(answer)


AUTH_SECRETS = {"token": [TOKEN], "aksk": [AK, SK, SECURITY], "iam": [IAM_PASSWORD, ISSUED]}


@pytest.mark.parametrize("auth", ["token", "aksk", "iam", "iam-endpoint"])
@pytest.mark.parametrize("place", [p for p, _ in ECHO_PLACES])
def test_echoed_credentials_are_scrubbed(
    auth: str, place: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, record: Row
) -> None:
    answer = dict(ECHO_PLACES)[place]
    mode = "iam" if auth == "iam-endpoint" else auth
    caplog.set_level(logging.DEBUG)
    with echo_server(answer, iam_echo=auth == "iam-endpoint") as server:
        conn_id = connection(monkeypatch, server.url, mode)
        texts = texts_of(sync_error(conn_id)) + texts_of(async_error(conn_id))
        event = trigger_event(conn_id)
        texts += [json.dumps(event)] + [r.getMessage() for r in caplog.records]
        sent = " ".join(echo_of(s) for s in server.seen)
    secrets = AUTH_SECRETS[mode]
    assert any(s in sent for s in secrets), "the server never saw a credential to echo"
    leaks = [s for s in secrets for t in texts if s in t]
    raw_control = [t for t in texts if "\x1b" in t or "\r\nFORGED" in t]
    record(
        CAT,
        f"1/7: credentials echoed in {place}, {auth} auth",
        "no credential, no raw CR/LF/ESC in sync + async errors, trigger event, logs",
    ).count(texts=len(texts), leaks=len(leaks), requests=len(server.seen))
    assert event["status"] in ("error", "timeout")
    assert not leaks
    assert not raw_control


def test_obtained_credentials_go_to_the_secrets_masker(monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    from airflow.providers.common.compat.sdk import redact

    def answer(h: BaseHTTPRequestHandler, seen: Seen) -> None:
        if seen.path.startswith("/v3/auth/tokens"):
            iam_ok(h)
        else:
            send(h, 200, json.dumps({"status": "RUNNING"}).encode(), Content_Type="application/json")

    with Hostile(answer) as server:
        for auth in ("iam", "aksk"):
            assert (
                LakeFormationHook(connection(monkeypatch, server.url, auth)).get_job_status("j")
                is JobStatus.RUNNING
            )
    line = f"issued {ISSUED} ak {AK} sk {SK} security {SECURITY} password {IAM_PASSWORD}"
    masked = str(redact(line))
    record(
        CAT,
        "1: IAM-issued token, AK, SK, security token, IAM password registered with the secrets masker",
        "redact() of a line holding all of them",
    ).count(requests=len(server.seen))
    for secret in (ISSUED, AK, SK, SECURITY, IAM_PASSWORD):
        assert secret not in masked


# ---------------------------------------------------------------------------------- 2: body cap

RSS_SCRIPT = r"""
import asyncio, json, sys
from airflow_provider_lakeformation.hooks._settings import ConnectionSettings
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
url, mode = sys.argv[1], sys.argv[2]
s = ConnectionSettings.from_fields(host=url, password="rss-token", extra={
    "project_id": "p", "instance_id": "i",
    "auth_type": "token", "max_retries": 0, "read_timeout": 30})
hook = LakeFormationHook.from_settings(s)
async def go():
    async with hook.async_client() as api:
        return await api.get_job_status("j")
try:
    result = str(hook.get_job_status("j") if mode == "sync" else asyncio.run(go()))
except Exception as exc:
    result = f"{type(exc).__name__}: {exc}"
# VmHWM: this process's peak RSS (ru_maxrss would carry the forking parent's peak over exec)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"rss_kb": peak, "result": result[:300]}))
"""


@functools.cache
def gzip_bomb() -> bytes:
    """1 GiB of zeros as gzip (~1 MB), compressed in 1 MiB steps (the test process stays small)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1024 * 1024)
    return b"".join([*(packer.compress(zeros) for _ in range(1024)), packer.flush()])


def bomb(kind: str) -> Callable[[BaseHTTPRequestHandler, Seen], None]:
    ok = json.dumps({"status": "RUNNING"}).encode()

    def answer(h: BaseHTTPRequestHandler, seen: Seen) -> None:
        if kind == "small":
            send(h, 200, ok, Content_Type="application/json")
        elif kind == "gzip":
            send(h, 200, gzip_bomb(), Content_Type="application/json", Content_Encoding="gzip")
        else:  # 300 MB plain, chunked (no length to refuse up front)
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            chunk = b" " * 65536
            for _ in range(300 * 16):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.write(b"0\r\n\r\n")

    return answer


def peak_rss(kind: str, mode: str) -> dict[str, Any]:
    if kind == "gzip":
        gzip_bomb()  # built before the client's clock starts
    with Hostile(bomb(kind)) as server:
        out = subprocess.run(
            [sys.executable, "-c", RSS_SCRIPT, server.url, mode],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", ["gzip", "plain"])
def test_reply_body_is_capped(kind: str, mode: str, record: Row) -> None:
    base = peak_rss("small", mode)
    hostile = peak_rss(kind, mode)
    what = "1 MB gzip inflating to 1 GiB" if kind == "gzip" else "300 MB chunked plain body"
    grew = (hostile["rss_kb"] - base["rss_kb"]) / 1024
    record(
        CAT,
        f"2: {what}, {mode}",
        "LakeFormationResponseError naming max_response_bytes (default 8 MiB); "
        "peak RSS in a subprocess vs. the same call with a small reply",
    ).count(peak_rss_mb=round(hostile["rss_kb"] / 1024), baseline_rss_mb=round(base["rss_kb"] / 1024))
    assert base["result"] == "RUNNING"
    assert hostile["result"].startswith("LakeFormationResponseError")
    assert "max_response_bytes" in hostile["result"]
    assert grew < 64, f"peak RSS grew by {grew:.0f} MB"


# ------------------------------------------------------------------------------- 3: deadlines


def drip(h: BaseHTTPRequestHandler, seen: Seen) -> None:
    """Headers, then one body byte every 0.2 s (each read well within the read timeout)."""
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    h.wfile.write(b'{"status": "RUNNING", "pad": "')
    h.wfile.flush()
    for _ in range(5000):
        time.sleep(0.2)
        h.wfile.write(b" ")
        h.wfile.flush()


def retry_after(h: BaseHTTPRequestHandler, seen: Seen) -> None:
    send(h, 503, b'{"error_code": "LF.503", "error_msg": "busy"}', Retry_After="10")


SERVERS = {"dripping body": drip, "503 Retry-After: 10": retry_after}


@pytest.mark.parametrize("server_kind", list(SERVERS))
def test_trigger_end_time_holds(server_kind: str, monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    with Hostile(SERVERS[server_kind]) as server:
        conn_id = connection(monkeypatch, server.url, read_timeout=5, max_retries=5, retry_after_cap=60)
        trigger = LakeFormationJobTrigger(
            "job-1", conn_id, poll_interval=0.5, end_time=time.time() + 5.0, max_transient_errors=10
        )
        event = asyncio.run(first_event(trigger, timeout=120))
        past = time.time() - trigger.end_time
    record(
        CAT,
        f"3: trigger end_time 5 s away, {server_kind}",
        "timeout event within one poll interval (0.5 s) + 1 s of end_time",
    ).count(seconds_past=round(past, 2), requests=len(server.seen))
    assert event["status"] == "timeout"
    assert server.seen
    assert past < 1.5


@pytest.mark.parametrize("server_kind", list(SERVERS))
def test_sync_wait_timeout_holds(server_kind: str, monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    with Hostile(SERVERS[server_kind]) as server:
        conn_id = connection(monkeypatch, server.url, read_timeout=5, max_retries=5, retry_after_cap=60)
        hook = LakeFormationHook(conn_id)
        poll = JobPoll("job-1", logging.getLogger("test"), frozenset(TERMINAL_STATUSES), frozenset(), 10)
        end = time.monotonic() + 5.0
        outcome = wait(
            poll,
            hook.get_job_status,
            delay=lambda: 0.5,
            remaining=lambda: end - time.monotonic(),
        )
        past = time.monotonic() - end
    record(
        CAT,
        f"3: sync wait with a 5 s timeout, {server_kind}",
        "wait returns (timed out) within one poll interval (0.5 s) + 1 s",
    ).count(seconds_past=round(past, 2), requests=len(server.seen))
    assert outcome is None
    assert server.seen
    assert past < 1.5


def test_dripping_server_cannot_hold_an_attempt(monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    """No caller deadline: each attempt still ends within connect + read timeout."""
    with Hostile(drip) as server:
        conn_id = connection(monkeypatch, server.url, connect_timeout=1, read_timeout=2, max_retries=0)
        started = time.monotonic()
        exc = sync_error(conn_id)
        sync_s = time.monotonic() - started
        started = time.monotonic()
        async_error(conn_id)
        async_s = time.monotonic() - started
    record(
        CAT,
        "3: one attempt against a dripping body, no caller deadline (connect 1 s + read 2 s)",
        "sync and async attempts end within 3 s + 1 s",
    ).count(seconds_past=f"{sync_s - 3:.2f} / {async_s - 3:.2f}", requests=len(server.seen))
    assert "3 s" in str(exc) or "deadline" in str(exc)
    assert sync_s < 4.0
    assert async_s < 4.0


# --------------------------------------------------------------------------- 4: path segments

BAD_IDS = {
    ".": ".",
    "..": "..",
    "NUL": "a\x00b",
    "DEL": "a\x7fb",
    "CR/LF": "a\r\nb",
    "lone surrogate": "a\ud800b",
    "10,000 characters": "x" * 10_000,
    "slash": "a/b",
    "percent": "a%2e",
}


def ok_server() -> Hostile:
    return Hostile(lambda h, s: send(h, 200, b'{"status": "RUNNING"}', Content_Type="application/json"))


def start_operator(conn_id: str, **fields: Any) -> Any:
    from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator

    args = {"job_id": "job-1", **fields}
    return LakeFormationStartJobOperator(task_id="start", lakeformation_conn_id=conn_id, **args)


@pytest.mark.parametrize("field_name", ["project_id", "instance_id", "job_id"])
@pytest.mark.parametrize("label", list(BAD_IDS))
def test_bad_path_segments_never_reach_the_server(
    field_name: str, label: str, monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    bad = BAD_IDS[label]
    with ok_server() as server:
        conn_id = connection(monkeypatch, server.url)
        kw = {} if field_name == "job_id" else {field_name: bad}
        job = bad if field_name == "job_id" else "job-1"
        errors = [sync_error(conn_id, job, **kw), async_error(conn_id, job, **kw)]
        with pytest.raises(LakeFormationSpecError) as info:
            start_operator(conn_id, **{field_name: bad}).execute(make_context())
        errors.append(info.value)
    record(
        CAT,
        f"4: {field_name} = {label}",
        "LakeFormationSpecError naming the field from the sync hook, "
        "the async client and the templated start operator",
    ).count(requests=len(server.seen))
    for exc in errors:
        assert isinstance(exc, LakeFormationSpecError), exc
        assert field_name in str(exc)
        assert bad not in str(exc) or len(bad) < 3
    assert server.seen == []


def test_non_ascii_ids_encode_the_same_sync_and_async(monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    with ok_server() as server:
        conn_id = connection(monkeypatch, server.url)
        kw = {"project_id": "pröj", "instance_id": "инст"}
        assert LakeFormationHook(conn_id, **kw).get_job_status("jöb") is JobStatus.RUNNING

        async def go() -> JobStatus:
            async with LakeFormationHook(conn_id, **kw).async_client() as api:
                return await api.get_job_status("jöb")

        assert asyncio.run(go()) is JobStatus.RUNNING
    paths = [s.path for s in server.seen]
    record(
        CAT,
        "4: non-ASCII project, instance and job ids",
        "sync and async request the same percent-encoded path",
    ).count(requests=len(paths))
    assert len(paths) == 2
    assert paths[0] == paths[1]
    assert paths[0].isascii(), paths


# --------------------------------------------------------------------------------- 5: deep JSON


@pytest.mark.parametrize("status", [200, 400, 503])
def test_deeply_nested_json_is_a_provider_error(
    status: int, monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    nested = b"[" * 200_000 + b"]" * 200_000
    obj = b'{"error": ' * 50_000 + b"1" + b"}" * 50_000
    for body in (nested, obj):
        with Hostile(lambda h, s, b=body: send(h, status, b, Content_Type="application/json")) as server:
            conn_id = connection(monkeypatch, server.url, max_retries=1)
            errors = [sync_error(conn_id), async_error(conn_id)]
        for exc in errors:
            assert isinstance(exc, LakeFormationError), exc
            assert not isinstance(exc.__context__, RecursionError)
    record(
        CAT,
        f"5: JSON nested 200,000 / 50,000 deep, HTTP {status}",
        "a LakeFormationError (sync and async), no RecursionError",
    ).count(requests=len(server.seen))


# ------------------------------------------------------------------------------------ 6: TLS


def test_plain_http_iam_endpoint_next_to_https_is_refused(
    monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    with ok_server() as server:
        https = server.url.replace("http://", "https://")
        conn_id = connection(monkeypatch, https, "iam", iam_endpoint=server.url)
        exc = sync_error(conn_id)
        aexc = async_error(conn_id)
        allowed = connection(
            monkeypatch,
            "https://127.0.0.1:1",
            "iam",
            iam_endpoint=server.url,
            allow_insecure_transport="true",
        )
        LakeFormationHook(allowed).settings  # noqa: B018 - accepted
    record(
        CAT,
        "6: http:// iam_endpoint with an https API host",
        "refused (LakeFormationSpecError) unless allow_insecure_transport",
    ).count(requests=len(server.seen))
    for e in (exc, aexc):
        assert isinstance(e, LakeFormationSpecError)
        assert "iam_endpoint" in str(e)
    assert server.seen == []


@pytest.mark.parametrize("spelling", ["false", "0", "no", "off"])
def test_verify_false_warns_once_per_connection_on_every_path(
    spelling: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, record: Row
) -> None:
    from airflow_provider_lakeformation.hooks import _io as base

    monkeypatch.setattr(base, "_WARNED_INSECURE", set())
    with ok_server() as server:
        conn_id = connection(monkeypatch, server.url, verify=spelling)
        counts = {}
        for path, run in (
            ("sync", lambda: [LakeFormationHook(conn_id).get_job_status("j") for _ in range(2)]),
            ("async", lambda: [async_status(conn_id) for _ in range(2)]),
            ("trigger", lambda: trigger_event(conn_id, target_states=["RUNNING"])),
        ):
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                run()
            counts[path] = sum("verification is OFF" in r.getMessage() for r in caplog.records)
            if path == "async":
                base._WARNED_INSECURE.clear()  # a fresh triggerer process
    record(
        CAT, f"6: verify={spelling!r}", "one WARNING per connection: sync hook, async client, trigger"
    ).count(warnings=f"{counts['sync']}/{counts['async']}/{counts['trigger']}")
    assert counts == {"sync": 1, "async": 1, "trigger": 1}


def async_status(conn_id: str) -> JobStatus:
    async def go() -> JobStatus:
        async with LakeFormationHook(conn_id).async_client() as api:
            return await api.get_job_status("j")

    return asyncio.run(go())


# --------------------------------------------------------------------------------- 7: user text


def test_user_provided_control_characters_are_escaped(monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    with ok_server() as server:
        conn_id = connection(monkeypatch, server.url, ca_bundle="/nonexistent\r\nFORGED\x1b[0m")
        exc = sync_error(conn_id)
        with pytest.raises(LakeFormationSpecError) as info:
            start_operator(connection(monkeypatch, server.url), job_id="job\r\nFORGED").execute(
                make_context()
            )
    record(
        CAT,
        "7: CR/LF/ESC in a templated job_id and a connection extra",
        "no raw control character in the error",
    ).count(requests=len(server.seen))
    for e in (exc, info.value):
        assert "\r" not in str(e)
        assert "\n" not in str(e)
        assert "\x1b" not in str(e)
    assert server.seen == []


# ----------------------------------------------------------------------------- 9: host userinfo


def test_userinfo_in_host_is_refused(monkeypatch: pytest.MonkeyPatch, record: Row) -> None:
    with ok_server() as server:
        host = server.url.replace("http://", "http://someone:HostPass-77@")
        conn_id = connection(monkeypatch, host)
        exc = sync_error(conn_id)
        ok, message = LakeFormationHook(conn_id).test_connection()
    record(
        CAT,
        "9: http://user:pass@host as the connection host",
        "refused with a clear error; the password in no error, test_connection message",
    ).count(requests=len(server.seen))
    assert isinstance(exc, LakeFormationSpecError)
    assert "credentials" in str(exc)
    assert not ok
    assert "credentials" in message
    assert all("HostPass-77" not in t for t in (str(exc), message))
    assert server.seen == []


# ------------------------------------------------------------------------------ 10: durations


@pytest.mark.parametrize("value", ["inf", "nan", 1e300, "-1"])
@pytest.mark.parametrize(
    "name", ["connect_timeout", "read_timeout", "retry_min_wait", "retry_max_wait", "retry_after_cap"]
)
def test_absurd_connection_durations_are_refused(
    name: str, value: Any, monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    with ok_server() as server:
        conn_id = connection(monkeypatch, server.url, **{name: value})
        errors = [sync_error(conn_id), async_error(conn_id)]
    record(
        CAT,
        f"10: connection extra {name} = {value!r}",
        "LakeFormationSpecError naming the field, sync and async",
    ).count(requests=len(server.seen))
    field_name = {"retry_min_wait": "min_wait", "retry_max_wait": "max_wait"}.get(name, name)
    for e in errors:
        assert isinstance(e, LakeFormationSpecError), e
        assert field_name in str(e)
    assert server.seen == []


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e300, "inf"])
@pytest.mark.parametrize("name", ["poll_interval", "timeout"])
def test_absurd_operator_waits_are_refused(name: str, value: Any, record: Row) -> None:
    with pytest.raises(LakeFormationSpecError) as info:
        start_operator("unused", **{name: value})
    record(CAT, f"10: start operator {name} = {value!r}", "LakeFormationSpecError naming the field").count(
        requests=0
    )
    assert name in str(info.value)


# ------------------------------------------------------------------ issue #24: the transport


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 20 + b"\r\n"


def drip_head(h: BaseHTTPRequestHandler, seen: Seen) -> None:
    """The status line and headers one byte every 0.5 s (each read well within the read timeout);
    about 25 s in all, so a client that waits for all of it shows as a failure, not a hang."""
    for byte in HEAD:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.5)
    send_rest = b'Content-Length: 20\r\n\r\n{"status":"RUNNING"}'
    h.wfile.write(send_rest)
    h.wfile.flush()


@pytest.mark.parametrize("auth", ["token", "iam"])
def test_dripping_status_line_and_headers_cannot_hold_an_attempt(
    auth: str, monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    """#24.1: the attempt's bound (connect 2 s + read 1 s) covers the status line and the headers,
    sync and async, the IAM token request included (with ``iam`` the IAM endpoint drips)."""
    with Hostile(drip_head) as server:
        conn_id = connection(monkeypatch, server.url, auth, connect_timeout=2, read_timeout=1, max_retries=0)
        started = time.monotonic()
        exc = sync_error(conn_id)
        sync_s = time.monotonic() - started
        started = time.monotonic()
        aexc = async_error(conn_id)
        async_s = time.monotonic() - started
    record(
        CAT,
        f"#24.1: status line and headers dripped 1 byte / 0.5 s, {auth} auth (connect 2 s + read 1 s)",
        "sync and async attempts (IAM token request included) end within 3 s + 1 s; "
        "s past deadline is sync / async",
    ).count(seconds_past=f"{sync_s - 3:.2f} / {async_s - 3:.2f}", requests=len(server.seen))
    assert sync_s < 4.0, exc
    assert async_s < 4.0, aexc
    for e in (exc, aexc):
        assert "3 s" in str(e) or "deadline" in str(e) or "timeout" in str(e), e
    if auth == "iam":
        assert all(s.path == "/v3/auth/tokens" for s in server.seen)


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_iam_expiry_past_the_calendar_is_a_provider_error(
    expires_at: str, monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    """#24.8: an ``expires_at`` whose UTC moment falls off the calendar is a LakeFormationError."""

    def answer(h: BaseHTTPRequestHandler, seen: Seen) -> None:
        body = json.dumps({"token": {"expires_at": expires_at}}).encode()
        send(h, 201, body, X_Subject_Token=ISSUED, Content_Type="application/json")

    with Hostile(answer) as server:
        conn_id = connection(monkeypatch, server.url, "iam", max_retries=0)
        errors = [sync_error(conn_id), async_error(conn_id)]
    record(
        CAT,
        f"#24.8: IAM expires_at {expires_at}",
        "LakeFormationResponseError naming expires_at, sync and async (no OverflowError)",
    ).count(requests=len(server.seen))
    for exc in errors:
        assert type(exc).__name__ == "LakeFormationResponseError", repr(exc)
        assert "expires_at" in str(exc)
        assert not isinstance(exc.__context__, OverflowError)


def _non_loopback_address() -> str | None:
    """This machine's address on its first non-loopback interface (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_plain_http_iam_endpoint_on_another_machine_is_refused(
    monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    """#24.9: the IAM password never travels in clear to a host other than this machine, even when
    the API host is plain http too, unless ``allow_insecure_transport``."""
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    with Hostile(lambda h, s: iam_ok(h), host="0.0.0.0") as server:
        url = f"http://{address}:{server.port}"
        conn_id = connection(monkeypatch, url, "iam", iam_endpoint=url)
        errors = [sync_error(conn_id), async_error(conn_id)]
        refused = len(server.seen)
        allowed = connection(monkeypatch, url, "iam", iam_endpoint=url, allow_insecure_transport="true")
        LakeFormationHook(allowed).settings  # noqa: B018 - accepted
        loopback = connection(monkeypatch, server.url, "iam", iam_endpoint=server.url)
        LakeFormationHook(loopback).settings  # noqa: B018 - the emulator on this machine
    record(
        CAT,
        "#24.9: http:// iam_endpoint and API host on another machine",
        "refused (LakeFormationSpecError) unless allow_insecure_transport; loopback accepted",
    ).count(requests=refused)
    for exc in errors:
        assert isinstance(exc, LakeFormationSpecError), repr(exc)
        assert "iam_endpoint" in str(exc)
    assert refused == 0


@pytest.mark.parametrize("value", ["-5", "0", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_retry_after_never_shortens_the_backoff(
    value: str, monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    """#24.11: a zero, negative or past ``Retry-After`` waits the policy's backoff (retry_min_wait
    0.5 s), never retries back to back."""
    arrivals: list[float] = []

    def busy(h: BaseHTTPRequestHandler, seen: Seen) -> None:
        arrivals.append(time.monotonic())
        send(h, 503, b'{"error_code": "LF.503", "error_msg": "busy"}', Retry_After=value)

    with Hostile(busy) as server:
        conn_id = connection(monkeypatch, server.url, max_retries=2, retry_min_wait=0.5, retry_max_wait=1)
        sync_error(conn_id)
        sync_gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        arrivals.clear()
        async_error(conn_id)
        async_gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    record(
        CAT,
        f"#24.11: 503 with Retry-After {value!r}, retry_min_wait 0.5 s",
        "each retry waits at least the backoff (0.5 s), sync and async (shortest gap: sync / async)",
    ).count(wait_s=f"{min(sync_gaps):.2f} / {min(async_gaps):.2f}", requests=len(server.seen))
    assert len(sync_gaps) == len(async_gaps) == 2
    assert min(sync_gaps + async_gaps) >= 0.45


def test_dripping_head_through_an_http_proxy_cannot_hold_an_attempt(
    monkeypatch: pytest.MonkeyPatch, record: Row
) -> None:
    """#24.1 through a forward proxy (``http_proxy``): the proxy's connections read under the same
    deadline (requests builds a separate pool manager for them)."""
    with Hostile(drip_head) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "")
        conn_id = connection(
            monkeypatch, "http://api.example.invalid", connect_timeout=2, read_timeout=1, max_retries=0
        )
        started = time.monotonic()
        sync_error(conn_id)
        sync_s = time.monotonic() - started
        started = time.monotonic()
        async_error(conn_id)
        async_s = time.monotonic() - started
    record(
        CAT,
        "#24.1: status line and headers dripped 1 byte / 0.5 s by an http_proxy (connect 2 s + read 1 s)",
        "sync and async attempts end within 3 s + 1 s; s past deadline is sync / async",
    ).count(seconds_past=f"{sync_s - 3:.2f} / {async_s - 3:.2f}", requests=len(proxy.seen))
    assert [s.path for s in proxy.seen] == [
        "http://api.example.invalid/v1/proj1/instances/inst1/lf-jobs/job-1"
    ] * 2
    assert sync_s < 4.0
    assert async_s < 4.0
