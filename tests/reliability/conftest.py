"""Fixtures of the reliability suite. The emulator fixtures come from tests/integration/conftest.py
(imported, not copied); this file adds the scenario recorder behind docs/reliability.md."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.auth import clear_shared_token_caches
from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from tests.integration import conftest as integration
from tests.reliability.harness import FAST_RETRY
from tests.reliability.recorder import Results, Row
from tests.reliability.servers import CannedServer, Reply

_RESULTS = Results()

# The emulator fixtures of tests/integration/conftest.py, reused (not copied).
emulator_session = integration.emulator_session
emulator = integration.emulator
emulator_factory = integration.emulator_factory
emulator_connection = integration.emulator_connection

#: Connection extras of every reliability test: small waits and timeouts keep the suite fast.
FAST_EXTRAS: dict[str, Any] = {**FAST_RETRY, "connect_timeout": 2, "read_timeout": 5}


@pytest.fixture(autouse=True)
def _fresh_token_caches() -> Generator[None, None, None]:
    """IAM tokens are cached process-wide: no test sees another test's token."""
    clear_shared_token_caches()
    yield
    clear_shared_token_caches()


@pytest.fixture
def lf_conn(emulator_connection: Callable[..., str]) -> Callable[..., str]:
    """``lf_conn(auth_type="aksk", **extra)``: the default connection to the shared emulator with
    fast retries (``FAST_EXTRAS`` overridden by ``extra``); returns the conn id."""

    def make(auth_type: str = "aksk", conn_id: str = "lakeformation_default", **extra: Any) -> str:
        return emulator_connection(auth_type, conn_id=conn_id, **{**FAST_EXTRAS, **extra})

    return make


@pytest.fixture
def connect_to(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``connect_to(server, auth_type="aksk", **extra)``: the default connection to any emulator."""

    def make(
        server: EmulatorServer, auth_type: str = "aksk", conn_id: str = "lakeformation_default", **extra: Any
    ) -> str:
        conn = server.connection(auth_type)
        conn["extra"].update({**FAST_EXTRAS, **extra})
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


@pytest.fixture
def hook(lf_conn: Callable[..., str]) -> LakeFormationHook:
    """A hook on the shared emulator (AK/SK, fast retries), for setting up jobs."""
    return LakeFormationHook(lf_conn())


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[CannedServer, str]]:
    """``canned(reply, **extra)``: a local canned-reply server (one reply, a list, or a
    ``route(method, path)``) behind the token connection ``lf_canned``; returns (server, conn id)."""
    servers: list[CannedServer] = []

    def make(
        reply: Reply | list[Reply] | Callable[[str, str], Reply], **extra: Any
    ) -> tuple[CannedServer, str]:
        server = CannedServer(reply).__enter__()
        servers.append(server)
        conn = {
            "conn_type": "lakeformation",
            "host": server.url,
            "password": "canned-token-value",
            "extra": {"project_id": "p1", "instance_id": "i1", "auth_type": "token", **FAST_RETRY, **extra},
        }
        monkeypatch.setenv("AIRFLOW_CONN_LF_CANNED", json.dumps(conn))
        return server, "lf_canned"

    yield make  # type: ignore[misc]
    for server in servers:
        server.__exit__()


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Row:
    """``record(category, scenario, checked).count(starts=1, requests=4, retries=3)`` adds a table row."""
    return _RESULTS.row(request.node.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    row = _RESULTS.rows.get(item.nodeid)
    if row is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if hasattr(report, "wasxfail"):
            row.outcome = "xfailed" if report.skipped else "xpassed"
            row.note = str(report.wasxfail)
        else:
            row.outcome = report.outcome
        row.duration = round(report.duration, 2)
        if report.failed and call.excinfo is not None:
            first = (str(call.excinfo.value).splitlines() or [""])[0]
            row.note = f"{call.excinfo.typename}: {first[:200]}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = _RESULTS.write(Path(str(session.config.rootpath)))
    if path is not None:
        session.config.stash[_written] = str(path)


_written = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    path = config.stash.get(_written, None)
    if path:
        terminalreporter.write_line(f"reliability scenarios written to {path}")
