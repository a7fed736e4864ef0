"""Hardening of paging, argument rules and the triggers (issues #23 and #24, items 2, 4 and 7).
Every scenario talks HTTP to a real local server (a canned-reply server or the emulator) and
records what it cost: requests per poll or listing, seconds, bytes of state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationError, LakeFormationResponseError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from tests.reliability.recorder import Row
from tests.reliability.servers import CannedServer, Reply

CAT = "hardening"


def _job(i: int) -> dict[str, Any]:
    return {"id": f"job-{i:05d}", "name": f"n{i}", "type": "METADATA_DISCOVERY", "status": "SUCCESS"}


def _query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


Serve = Callable[..., tuple[CannedServer, str]]


def _repeating(method: str, path: str) -> Reply:
    """The same page of 10 jobs at every offset, with a ``total`` of 1,000,000."""
    return Reply(200, {"total": 1_000_000, "jobs": [_job(i) for i in range(10)]})


def _oversized(method: str, path: str) -> Reply:
    """50,000 jobs whatever ``limit`` asked for."""
    return Reply(200, {"total": 50_000, "jobs": [_job(i) for i in range(50_000)]})


async def _alist(conn_id: str, page_size: int) -> list[str]:
    async with LakeFormationHook(conn_id).async_client() as api:
        return [job.id async for job in api.iter_jobs("METADATA_DISCOVERY", page_size=page_size)]


def _list_jobs(side: str, conn_id: str, page_size: int) -> list[str]:
    """Every job id ``iter_jobs`` of the sync hook or the async client returns."""
    if side == "sync":
        return [
            job.id for job in LakeFormationHook(conn_id).iter_jobs("METADATA_DISCOVERY", page_size=page_size)
        ]
    return asyncio.run(_alist(conn_id, page_size))


@pytest.mark.parametrize("side", ["sync", "async"])
def test_iter_jobs_on_a_repeating_page(canned: Serve, record: Row, side: str) -> None:
    """#24.7: a server that repeats one page and overstates ``total`` (before: 1,001 requests and
    1,001 x 10 duplicate jobs from the sync hook)."""
    server, conn_id = canned(_repeating)
    started = time.monotonic()
    ids = _list_jobs(side, conn_id, 10)
    seconds = time.monotonic() - started
    assert ids == [f"job-{i:05d}" for i in range(10)]
    assert server.requests == 2, "the second page brought nothing new: paging stops there"
    record(
        CAT, f"#24.7 iter_jobs ({side}), server repeats one page, total 1,000,000", "10 jobs once, 2 requests"
    ).count(requests=server.requests, jobs=len(ids), seconds=round(seconds, 3))


@pytest.mark.parametrize("side", ["sync", "async"])
def test_iter_jobs_refuses_a_page_larger_than_asked(canned: Serve, record: Row, side: str) -> None:
    """#24.7: a 50,000-job page when 10 were asked for (before: accepted)."""
    server, conn_id = canned(_oversized)
    with pytest.raises(LakeFormationResponseError, match="page of 50000 jobs when 10 were asked"):
        _list_jobs(side, conn_id, 10)
    assert server.requests == 1
    assert _query(server.seen[0].path)["limit"] == "10"
    record(
        CAT, f"#24.7 iter_jobs ({side}), 50,000-job page when 10 asked", "LakeFormationResponseError"
    ).count(requests=server.requests)


@pytest.mark.parametrize(
    "bad",
    ["..", ".", "a\x00b", "x" * 5000, "\ud800", "a/b", " "],
    ids=["dotdot", "dot", "nul", "5000-chars", "lone-surrogate", "slash", "blank"],
)
def test_get_instance_applies_the_id_rule(canned: Serve, record: Row, bad: str) -> None:
    """#23.2: ``get_instance(id)`` sent ``..``, NUL, 5,000-char ids (and raised a raw
    UnicodeEncodeError on a lone surrogate)."""
    server, conn_id = canned(Reply(200, {"id": "i1"}))
    with pytest.raises(LakeFormationError, match="instance_id") as info:
        LakeFormationHook(conn_id).get_instance(bad)
    assert server.requests == 0
    record(
        CAT, f"#23.2 get_instance({bad[:12]!r}{'...' if len(bad) > 12 else ''})", type(info.value).__name__
    ).count(requests=server.requests)
