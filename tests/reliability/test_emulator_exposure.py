"""What the emulator exposes (issue #24 item 10), over real sockets: request heads sent slowly or never
finished are timed out (in-process server and the command line), an idle keep-alive connection is
not; the console pages (no credentials by design: loopback and test use) list job ids and names but
show no secret, neither a datasource secret field nor the credentials inside a URL."""

from __future__ import annotations

import http.client
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.emulator.http_guard import HEAD_TIMEOUT_SECONDS
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from tests.integration.test_emulator_cli import Cli
from tests.reliability.recorder import Row
from tests.reliability.specs import DS_ACCESS_KEY, DS_PASSWORD, DS_SECRET_KEY, discovery_spec, migration_spec

CATEGORY = "emulator"
PARTIAL_HEAD = b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\nX-Slow: "


def _partial_heads(url: str, count: int) -> list[socket.socket]:
    parts = urlsplit(url)
    socks = []
    for _ in range(count):
        sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
        sock.sendall(PARTIAL_HEAD)
        sock.setblocking(False)
        socks.append(sock)
    return socks


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _wait_closed(socks: list[socket.socket], patience: float) -> tuple[int, float]:
    """Wait until every socket is closed by the server or ``patience`` passes: (closed, seconds)."""
    started = time.monotonic()
    open_ = list(socks)
    while open_ and time.monotonic() - started < patience:
        open_ = [s for s in open_ if not _closed(s)]
        time.sleep(0.1)
    return len(socks) - len(open_), round(time.monotonic() - started, 1)


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    yield held
    for sock in held:
        sock.close()


def _keep_alive_survives(url: str, idle: float) -> bool:
    """Two requests on one connection with ``idle`` seconds between them: both answered, same socket.

    ``http.client`` reads each whole response (head and body may arrive in separate segments), and
    never reconnects on its own while the connection is open, so a closed connection fails here.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    statuses, sockets_used = [], []
    try:
        for pause in (0.0, idle):
            time.sleep(pause)
            conn.request("GET", "/_emulator/health")
            reply = conn.getresponse()
            reply.read()
            statuses.append(reply.status)
            sockets_used.append(conn.sock)
    except (http.client.HTTPException, OSError):
        return False
    finally:
        conn.close()
    return statuses == [200, 200] and sockets_used[0] is sockets_used[1] is not None


def test_unfinished_request_heads_are_timed_out(
    emulator_factory: Callable[..., EmulatorServer], sockets: list[socket.socket], record: Row
) -> None:
    record(
        CATEGORY,
        "200 connections each sending an unfinished request head (in-process server, 1 s head timeout)",
        "the server closes every one; an idle keep-alive connection still answers; health answers",
    )
    server = emulator_factory(head_timeout=1.0)
    sockets += _partial_heads(server.url, 200)
    closed, seconds = _wait_closed(sockets, patience=15.0)
    assert closed == 200, f"{200 - closed} of 200 connections still open after {seconds} s"
    assert _keep_alive_survives(server.url, idle=2.0)
    assert requests.get(server.url + "/_emulator/health", timeout=10).status_code == 200
    record.count(connections=200, closed=closed, seconds=seconds)


@pytest.mark.slow
def test_command_line_server_times_out_unfinished_heads(sockets: list[socket.socket], record: Row) -> None:
    record(
        CATEGORY,
        f"20 unfinished request heads to the command-line server (default {HEAD_TIMEOUT_SECONDS:.0f} s)",
        "the server closes every one",
    )
    cli = Cli("--port", "0")
    try:
        sockets += _partial_heads(cli.url, 20)
        closed, seconds = _wait_closed(sockets, patience=HEAD_TIMEOUT_SECONDS + 20)
        assert closed == 20, f"{20 - closed} of 20 connections still open after {seconds} s"
        assert seconds >= HEAD_TIMEOUT_SECONDS - 1  # not closed early either
    finally:
        cli.stop()
    record.count(connections=20, closed=closed, seconds=seconds)


def _secret_specs() -> tuple[list[dict[str, Any]], list[str]]:
    url_pw, query_pw, obs_sk = (
        f"{x}{uuid.uuid4().hex[:10]}" for x in ("ConsoleUrlPw", "ConsoleQ", "ConsoleSk")
    )
    migration = migration_spec(f"console_{uuid.uuid4().hex[:6]}")
    ds = migration["parameter"]["metadata_migration_parameter"]["datasource_parameter"]
    ds["jdbc_url"] = f"jdbc:mysql://root:{url_pw}@db:3306/hive?password={query_pw}"
    discovery = discovery_spec(f"console_{uuid.uuid4().hex[:6]}")
    discovery["parameter"]["metadata_discovery_parameter"]["data_location"] = f"obs://ak1:{obs_sk}@b/data/"
    return [migration, discovery], [url_pw, query_pw, obs_sk, DS_PASSWORD, DS_ACCESS_KEY, DS_SECRET_KEY]


def test_console_pages_show_no_secret(
    emulator: EmulatorServer, lf_conn: Callable[..., str], record: Row
) -> None:
    record(
        CATEGORY,
        "console pages of jobs created with datasource secrets and credentials inside URLs, after a run",
        "ids and names listed; no datasource secret, URL credential or emulator credential shown",
    )
    hook = LakeFormationHook(lf_conn())
    specs, secrets = _secret_specs()
    jobs = [hook.create_job(spec) for spec in specs]
    for job in jobs:
        hook.start_job(job.id)
    deadline = time.monotonic() + 30
    while any(hook.get_job_status(j.id).is_in_progress for j in jobs) and time.monotonic() < deadline:
        time.sleep(0.2)
    pages = [requests.get(emulator.url + "/console/jobs", timeout=10).text]
    pages += [requests.get(emulator.console_url(j.id), timeout=10).text for j in jobs]
    text = "\n".join(pages)
    credentials = [emulator.sk, emulator.token, emulator.iam_password]
    leaks = [s for s in [*secrets, *credentials] if s in text]
    assert not leaks, leaks
    assert all(j.id in pages[0] and str(j.name) in pages[0] for j in jobs)
    assert "discovering PARQUET files under obs://***@b/data/" in text  # the run log, masked
    record.count(pages=len(pages))
