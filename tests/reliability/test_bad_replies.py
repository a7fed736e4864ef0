"""Bad server replies the emulator cannot produce (a local canned-reply server stands in): non-JSON,
HTML error pages from a proxy, missing fields, unknown status values, 200 with an error body...

Each must end in a clear error (``LakeFormationResponseError`` / an API error with the HTTP status and
the request id) after a bounded number of requests, on the sync hook, the async client and the
trigger (which turns it into an ``"error"`` event, never a crash or an endless loop)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from airflow_provider_lakeformation.exceptions import (
    LakeFormationApiError,
    LakeFormationBadRequestError,
    LakeFormationNotFoundError,
    LakeFormationResponseError,
    LakeFormationRetryableError,
)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from tests.reliability.harness import ATTEMPTS, first_event
from tests.reliability.recorder import Row
from tests.reliability.servers import CannedServer, Reply

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" + "<!-- padding -->\n" * 5000
)
MAX_TRANSIENT = 1


@dataclass(frozen=True)
class BadReply:
    id: str
    reply: Reply
    error: type[LakeFormationApiError]
    mentions: tuple[str, ...] = ()  # strings the error text must contain
    status_method: bool = False  # read with get_job_status (status-only parsing) instead of get_job
    status_readable: bool = False  # the trigger's status-only read accepts it (it keeps polling)

    @property
    def retried(self) -> bool:
        return issubclass(self.error, LakeFormationRetryableError)

    @property
    def requests(self) -> int:
        return ATTEMPTS if self.retried else 1


CASES = [
    BadReply("200 plain text", Reply(200, "OK, the job is fine"), LakeFormationResponseError, ("not JSON",)),
    BadReply(
        "200 HTML page",
        Reply(200, "<!DOCTYPE html><html><body>Sign in</body></html>", content_type="text/html"),
        LakeFormationResponseError,
        ("not JSON",),
    ),
    BadReply(
        "200 truncated JSON",
        Reply(200, b'{"id": "j1", "sta', content_type="application/json"),
        LakeFormationResponseError,
        ("not JSON",),
    ),
    BadReply(
        "200 non-UTF-8 bytes",
        Reply(200, b"\xff\xfe\x00{", content_type="application/json"),
        LakeFormationResponseError,
    ),
    BadReply("200 JSON array", Reply(200, []), LakeFormationResponseError, ("list",)),
    BadReply(
        "200 JSON null", Reply(200, b"null", content_type="application/json"), LakeFormationResponseError
    ),
    BadReply(
        "200 empty body",
        Reply(200, b"", content_type="application/json"),
        LakeFormationResponseError,
        ("empty",),
    ),
    BadReply(
        "200 missing id",
        Reply(200, {"name": "x", "status": "RUNNING"}),
        LakeFormationResponseError,
        ("id",),
        status_readable=True,
    ),
    BadReply(
        "200 status not a string",
        Reply(200, {"id": "j1", "status": 7}),
        LakeFormationResponseError,
        ("status",),
    ),
    BadReply(
        "200 status not a string (status read)",
        Reply(200, {"id": "j1", "status": {"status": ["RUNNING"]}}),
        LakeFormationResponseError,
        ("status",),
        status_method=True,
    ),
    BadReply(
        "200 missing status (status read)",
        Reply(200, {"id": "j1"}),
        LakeFormationResponseError,
        ("status",),
        status_method=True,
    ),
    BadReply(
        "200 with an error body",
        Reply(200, {"error_code": "LF.0001", "error_msg": "internal failure", "solution_msg": "retry"}),
        LakeFormationResponseError,
        ("LF.0001", "internal failure"),
    ),
    BadReply(
        "200 with a nested 403-style error",
        Reply(200, {"error": {"code": "APIG.0301", "message": "denied"}}),
        LakeFormationResponseError,
        ("APIG.0301",),
    ),
    BadReply(
        "502 HTML page from a proxy (80 KB)",
        Reply(502, HTML_502, content_type="text/html"),
        LakeFormationRetryableError,
        ("502", "Bad Gateway"),
    ),
    BadReply("503 plain text", Reply(503, "Service Unavailable"), LakeFormationRetryableError, ("503",)),
    BadReply("500 empty body", Reply(500, b""), LakeFormationRetryableError, ("500",)),
    BadReply("400 plain text", Reply(400, "Bad Request"), LakeFormationBadRequestError, ("400",)),
    BadReply(
        "400 single-quoted error (as in the vendor docs)",
        Reply(400, "{'error_code': 'common.01000001', 'error_msg': 'failed to read http request'}"),
        LakeFormationBadRequestError,
        ("common.01000001",),
    ),
    BadReply(
        "404 HTML page",
        Reply(404, "<html><h1>Not Found</h1></html>", content_type="text/html"),
        LakeFormationNotFoundError,
        ("404",),
    ),
]


def _check(err: LakeFormationApiError, case: BadReply, server: CannedServer) -> str:
    text = str(err)
    assert isinstance(err, case.error), f"{type(err).__name__}: {text}"
    assert err.status_code == case.reply.status
    assert err.request_id == f"canned-{server.requests}", "the request id of the last answer is reported"
    assert f"request_id: canned-{server.requests}" in text
    for needle in case.mentions:
        assert needle in text
    assert len(text) < 1500, "the error message dumps the whole body"
    assert "canned-token-value" not in text
    return text


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_reply(case: BadReply, canned: Callable[..., tuple[CannedServer, str]], record: Row) -> None:
    started = time.monotonic()
    # sync hook
    server, conn_id = canned(case.reply)
    hook = LakeFormationHook(conn_id)
    read = hook.get_job_status if case.status_method else hook.get_job
    with pytest.raises(LakeFormationApiError) as info:
        read("j1")
    text = _check(info.value, case, server)
    assert server.requests == case.requests
    sync_requests = server.requests

    # async client
    server, conn_id = canned(case.reply)

    async def via_async() -> None:
        async with LakeFormationHook(conn_id).async_client() as api:
            await (api.get_job_status if case.status_method else api.get_job)("j1")

    with pytest.raises(LakeFormationApiError) as ainfo:
        asyncio.run(via_async())
    _check(ainfo.value, case, server)
    assert server.requests == case.requests
    assert type(ainfo.value) is type(info.value)

    # trigger: an "error" event, after at most (max_transient_errors + 1) reads
    if case.status_readable:  # the trigger reads only the status, which is fine here
        record("bad_replies", case.id, f"{type(info.value).__name__}: {text[:160]}").count(
            requests=f"{sync_requests} / {case.requests} / -"
        )
        return
    server, conn_id = canned(case.reply)
    trigger = LakeFormationJobTrigger("j1", conn_id, poll_interval=0.01, max_transient_errors=MAX_TRANSIENT)
    event = asyncio.run(first_event(trigger, timeout=30))
    assert event["status"] == "error"
    assert str(case.reply.status) in event["message"]
    assert "canned-token-value" not in json.dumps(event)
    polls = MAX_TRANSIENT + 1 if case.retried else 1
    assert server.requests == polls * case.requests
    record("bad_replies", case.id, f"{type(info.value).__name__}: {text[:160]}").count(
        requests=f"{sync_requests} / {case.requests} / {server.requests}",
        seconds=round(time.monotonic() - started, 2),
    )


def test_absurd_retry_after_is_capped(canned: Callable[..., tuple[CannedServer, str]], record: Row) -> None:
    """A 429 asking for a 1-day wait is obeyed only up to retry_after_cap, then the call fails."""
    server, conn_id = canned(
        Reply(429, {"error_code": "APIG.0308", "error_msg": "throttled"}, headers={"Retry-After": "86400"}),
        retry_after_cap=0.2,
    )
    started = time.monotonic()
    with pytest.raises(LakeFormationRetryableError) as info:
        LakeFormationHook(conn_id).get_job("j1")
    elapsed = time.monotonic() - started
    assert server.requests == ATTEMPTS
    assert elapsed < 3
    assert info.value.retry_after == 86400
    record(
        "bad_replies",
        "429 with Retry-After: 86400",
        "waits capped at retry_after_cap (0.2 s); fails after "
        f"{ATTEMPTS} requests with the 429 and the request id",
    ).count(requests=server.requests, seconds=round(elapsed, 2))


def test_recovery_after_bad_replies(canned: Callable[..., tuple[CannedServer, str]], record: Row) -> None:
    """Transient garbage (502 HTML, then 503) followed by a good answer: the call succeeds."""
    good = Reply(200, {"id": "j1", "status": {"status": "SUCCESS"}})
    server, conn_id = canned([Reply(502, HTML_502, content_type="text/html"), Reply(503, "busy"), good])
    job = LakeFormationHook(conn_id).get_job("j1")
    assert job.status is not None
    assert job.status.value == "SUCCESS"
    assert server.requests == 3
    record(
        "bad_replies", "502 HTML, 503 text, then a good answer", "get_job succeeds on the 3rd request"
    ).count(requests=server.requests)


@pytest.mark.parametrize(
    "body", [b"\xff\xfe\x00{", b"\x1b[2J\x1b[31mfake: task succeeded\x1b[0m\r\n"], ids=["nul", "ansi_escape"]
)
def test_error_text_has_no_control_characters(
    body: bytes, canned: Callable[..., tuple[CannedServer, str]], record: Row
) -> None:
    record("bad_replies", f"200 body with control characters ({body[:6]!r}...)", "error text printable")
    _server, conn_id = canned(Reply(200, body, content_type="application/json"))
    with pytest.raises(LakeFormationResponseError) as info:
        LakeFormationHook(conn_id).get_job("j1")
    text = str(info.value)
    assert all(c.isprintable() for c in text), repr(text)
