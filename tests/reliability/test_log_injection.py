"""Server text in the task log (issue #24 item 5), over real HTTP: a local server answers the start
operator (sync, and deferred to the trigger) with a job whose status, name and start time hold
ESC / CR / LF, an injected ``INFO - fake`` line and 100 KB of text, and whose log holds ANSI colours,
BEL, a forged ``Marking task as SUCCESS`` line at line start and one 2 MB line.

Every log record the run produced must be free of control characters, start no line with the forged
text, stay bounded in size, and say that it cut something.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import (
    ERROR_TEXT_CHARS,
    LOG_LINE_PREFIX,
    LOG_TAIL_CHARS,
    LakeFormationBadRequestError,
    LakeFormationJobFailedError,
    shown_log,
)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.models import JobStatus
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from tests.reliability.harness import FAST_RETRY, Deferral, FakeTI, make_context, run_task
from tests.reliability.recorder import Row
from tests.reliability.servers import CannedServer, Reply

FAKE = "INFO - fake line from the server"
FORGED = "[2026-01-01, 00:00:00 UTC] {taskinstance.py:1} INFO - Marking task as SUCCESS"
EVIL_STATUS = "QUEUED\x1b[2J\r" + "\n" + FAKE + "\n" + "Q" * 100_000
EVIL_TEXT = "name\x1b]0;title\x07\r\n" + FAKE + "x" * 100_000
EVIL_LOG = "\n".join(
    [
        "2026-01-01 INFO starting \x1b[32mgreen\x1b[0m and a bell \x07",
        FORGED,
        "E" * (2 * 1024 * 1024),
        "2026-01-01 ERROR job failed \x1b[31mred\x1b[0m",
    ]
)
#: The most a single log record may hold (the tail's cap plus its lines' prefixes and the header).
MAX_RECORD_CHARS = LOG_TAIL_CHARS + 4096


class _Job:
    """Answers of one scripted job: a finished run, then the evil status, then FAILED."""

    def __init__(self) -> None:
        self.gets = 0

    def __call__(self, method: str, path: str) -> Reply:
        if path.endswith("/log"):
            return Reply(200, {"log": EVIL_LOG})
        if method == "POST":
            return Reply(200, {})
        self.gets += 1
        job: dict[str, Any] = {"id": "job-evil", "type": "METADATA_MIGRATION", "name": EVIL_TEXT}
        if self.gets == 1:
            return Reply(200, {**job, "status": "SUCCESS", "start_time": "1"})
        status = EVIL_STATUS if self.gets <= 3 else "FAILED"
        return Reply(200, {**job, "status": status, "start_time": EVIL_TEXT})


def _connect(monkeypatch: pytest.MonkeyPatch, server: CannedServer, conn_id: str) -> str:
    """A token connection ``conn_id`` to ``server``."""
    conn = {
        "conn_type": "lakeformation",
        "host": server.url,
        "password": "log-injection-token",
        "extra": {"project_id": "p1", "instance_id": "i1", "auth_type": "token", **FAST_RETRY},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


@pytest.fixture
def evil_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CannedServer, str]]:
    with CannedServer(_Job()) as server:
        yield server, _connect(monkeypatch, server, "lf_evil")


def _problems(messages: list[str]) -> list[str]:
    found = []
    for text in messages:
        bad = sorted({f"\\x{ord(c):02x}" for c in text if not c.isprintable() and c != "\n"})
        if bad:
            found.append(f"control characters {bad} in: {text[:120]!r}")
        for line in text.splitlines():
            if line.startswith((FAKE, FORGED, "Q" * 10)):
                found.append(f"a server line at line start: {line[:80]!r}")
        if len(text) > MAX_RECORD_CHARS:
            found.append(f"a {len(text)}-character record: {text[:80]!r}")
    return found


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_server_text_is_escaped_and_capped_in_logs(
    deferrable: bool,
    evil_server: tuple[CannedServer, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    record: Row,
) -> None:
    record(
        "log_injection",
        f"status, name, start time and job log with ESC/CR/BEL/ANSI, forged lines, 100 KB and 2 MB "
        f"texts ({'deferrable' if deferrable else 'sync'} start operator)",
        "no control character, no server line at line start, every record capped and marked as cut",
    )
    caplog.set_level(logging.DEBUG)
    server, conn_id = evil_server
    op = LakeFormationStartJobOperator(
        task_id="start_evil",
        job_id="job-evil",
        poll_interval=0.05,
        deferrable=deferrable,
        lakeformation_conn_id=conn_id,
    )
    deferrals: list[Deferral] = []
    with pytest.raises(LakeFormationJobFailedError) as info:
        run_task(op, make_context(FakeTI()), deferrals=deferrals)
    assert len(deferrals) == int(deferrable)
    out, err = capsys.readouterr()  # Airflow 3's task logger (structlog) writes here, one event a line
    messages = [r.getMessage() for r in caplog.records] + (out + err).splitlines()
    messages += [str(info.value), *(str(d.event) for d in deferrals)]
    problems = _problems(messages)
    assert not problems, "\n".join(problems[:10])
    joined = "\n".join(messages)
    assert "more characters not shown" in joined  # the 100 KB status / name was cut, and says so
    assert "\\x1b" in joined  # the escape sequences were shown escaped, not dropped
    assert "job failed" in joined  # the log tail was written
    assert f"{LOG_LINE_PREFIX}{FORGED}" in joined  # the forged line, indented
    record.count(requests=server.requests, records=len(caplog.records), largest=max(map(len, messages)))


def test_shown_log_caps_the_tail_and_says_so() -> None:
    tail = "\n".join(["a" * 10] * 10_000 + ["\x1b[31mlast\x1b[0m"])
    text = shown_log(tail)
    assert len(text) <= LOG_TAIL_CHARS
    lines = text.splitlines()
    assert lines[0].endswith("earlier lines not shown)")
    assert lines[-1] == f"{LOG_LINE_PREFIX}\\x1b[31mlast\\x1b[0m"
    assert all(line.startswith(LOG_LINE_PREFIX) for line in lines)


def test_a_long_error_msg_is_capped_in_the_exception(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, record: Row
) -> None:
    record(
        "log_injection",
        "400 reply whose error_msg and solution_msg hold ESC, an injected line and 100 KB",
        "the exception text is escaped and capped, and says it was cut",
    )
    reply = Reply(400, {"error_code": "LF.0001", "error_msg": EVIL_TEXT, "solution_msg": EVIL_STATUS})
    with CannedServer(reply) as server:
        conn_id = _connect(monkeypatch, server, "lf_evil_400")
        with pytest.raises(LakeFormationBadRequestError) as info:
            LakeFormationHook(conn_id).get_job("job-evil")
    text = str(info.value)
    problems = _problems([text, *(r.getMessage() for r in caplog.records)])
    assert not problems, "\n".join(problems[:10])
    assert len(text) < 4 * ERROR_TEXT_CHARS, len(text)
    assert text.count("more characters not shown") == 2
    record.count(requests=server.requests, exception_chars=len(text))


def test_an_unknown_status_is_kept_safe_and_stays_so() -> None:
    """A status shown once (e.g. sent back in a trigger event and read again) does not change."""
    status = JobStatus(EVIL_STATUS)
    assert status.value.isprintable()
    assert status.value.endswith("more characters not shown)")
    assert JobStatus(status.value).value == status.value
    assert JobStatus("QUEUED") == "QUEUED"
