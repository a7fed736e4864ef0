"""Fixtures of the reliability suite. The emulator fixtures come from tests/integration/conftest.py
(imported, not copied); this file adds the scenario recorder behind docs/reliability.md."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.recorder import Results, Row

_RESULTS = Results()


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
            row.note = f"{call.excinfo.typename}: {str(call.excinfo.value).splitlines()[0][:200]}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = _RESULTS.write(Path(str(session.config.rootpath)))
    if path is not None:
        session.config.stash[_written] = str(path)


_written = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    path = config.stash.get(_written, None)
    if path:
        terminalreporter.write_line(f"reliability scenarios written to {path}")
