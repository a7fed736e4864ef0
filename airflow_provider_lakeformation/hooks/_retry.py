"""Retry policy of the hook and the async client (tenacity), in one place.

Retried: connection errors, timeouts, HTTP 408, 429, 500, 502, 503, 504. Everything else
(400, 401, 403, 404, a bad 2xx body, TLS verification failures, a host name that does not exist)
fails at once. Waits follow
:class:`~airflow_provider_lakeformation.hooks._settings.RetrySettings` (exponential backoff with
jitter; a ``Retry-After`` lengthens a wait up to its cap, never shortens it). Each retry is logged
once at WARNING; when the budget is spent the error says how many attempts were made.

**Worst case of one call with the defaults** (no caller deadline): 6 attempts (``max_retries`` 5)
of at most 70 s each (connect 10 s + read 60 s: the attempt's bound, however slowly the server
sends), and 5 waits of at most 120 s (``retry_after_cap``; without ``Retry-After`` at most
``max_wait`` 30 s): 6 x 70 + 5 x 120 = 1,020 s, 17 min. An IAM token fetch inside an attempt has
the same policy of its own. :func:`call_deadline` (the operators' ``timeout``, the trigger's
``end_time``) bounds the whole call, waits included.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import NoReturn, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from airflow_provider_lakeformation.exceptions import (
    RETRYABLE_STATUS_CODES,
    LakeFormationApiError,
    LakeFormationConnectionError,
    LakeFormationDeadlineError,
    TransportError,
)
from airflow_provider_lakeformation.hooks._settings import RetrySettings

__all__ = [
    "BackoffWait",
    "call_deadline",
    "current_deadline",
    "failure_reason",
    "give_up",
    "is_ambiguous",
    "is_retryable",
    "quick_policy",
    "retry_async",
    "retry_sync",
    "unresolved_host",
]

T = TypeVar("T")

#: Indirections so tests can observe or skip the waits.
SLEEP: Callable[[float], None] = time.sleep
ASLEEP: Callable[[float], Awaitable[None]] = asyncio.sleep


def _sleep(seconds: float) -> None:
    SLEEP(seconds)


async def _asleep(seconds: float) -> None:
    await ASLEEP(seconds)


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("lf_call_deadline", default=None)


@contextlib.contextmanager
def call_deadline(seconds: float | None) -> Iterator[None]:
    """Every hook call made inside the block (sync or async, retries and ``Retry-After`` waits
    included) ends within ``seconds`` (``None``: no deadline beyond each attempt's own)."""
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + max(0.0, seconds)
    outer = _DEADLINE.get()
    token = _DEADLINE.set(deadline if outer is None else min(deadline, outer))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def current_deadline() -> float | None:
    """The caller's deadline (``time.monotonic()`` value) set by :func:`call_deadline`, if any."""
    return _DEADLINE.get()


#: ``getaddrinfo`` answers that the name does not exist (not ``EAI_AGAIN``, "try again"): a typo in
#: the connection's host, which no retry repairs.
_NO_SUCH_NAME = frozenset(
    code for code in (getattr(socket, n, None) for n in ("EAI_NONAME", "EAI_NODATA", "EAI_FAIL")) if code
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts, urllib3's ``reason``, aiohttp's ``os_error``."""
    todo: list[object] = [exc]
    seen: set[int] = set()
    while todo:
        err = todo.pop()
        if not isinstance(err, BaseException) or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo += [err.__cause__, err.__context__, getattr(err, "reason", None), getattr(err, "os_error", None)]
        todo += [arg for arg in err.args if isinstance(arg, BaseException)]


def unresolved_host(exc: BaseException) -> str | None:
    """The host name a transport failure found not to exist in DNS (``""`` when the failure does not
    say which), or ``None`` for any other failure.

    :param exc: a failed attempt.
    :return: the host name, ``""``, or ``None``.
    """
    if not isinstance(exc, TransportError):
        return None
    errors = list(_causes(exc))
    if not any(isinstance(e, socket.gaierror) and e.errno in _NO_SUCH_NAME for e in errors):
        return None
    for err in errors:  # urllib3's NameResolutionError keeps it as _host, aiohttp's errors as host
        host = getattr(err, "_host", None) or (
            getattr(err, "host", None) if hasattr(err, "os_error") else None
        )
        if isinstance(host, str) and host:
            return host
    return ""


def is_retryable(exc: BaseException) -> bool:
    """Transient: a transport failure (but for a host name that does not exist) or HTTP
    408/429/5xx (and not an already exhausted error)."""
    if getattr(exc, "attempts", None) is not None:  # gave up already (e.g. the nested IAM call)
        return False
    if isinstance(exc, LakeFormationDeadlineError):
        return False
    if isinstance(exc, TransportError):
        return unresolved_host(exc) is None
    if isinstance(exc, LakeFormationApiError):
        return exc.status_code in RETRYABLE_STATUS_CODES
    return False


def is_ambiguous(exc: BaseException) -> bool:
    """The request may have been processed although it failed: read timeout, connection dropped
    after sending, or 408/429/5xx. Only a connection that was never established is unambiguous."""
    if isinstance(exc, TransportError):
        return exc.sent
    return isinstance(exc, LakeFormationApiError) and exc.status_code in RETRYABLE_STATUS_CODES


def failure_reason(exc: BaseException) -> str:
    """A short, secret-free description of a failed attempt for logs."""
    if isinstance(exc, TransportError):
        return exc.reason
    if isinstance(exc, LakeFormationApiError):
        parts = [f"HTTP {exc.status_code}"]
        if exc.error_code:
            parts.append(f"error_code {exc.error_code}")
        if exc.request_id:
            parts.append(f"request_id {exc.request_id}")
        if exc.retry_after is not None:
            parts.append(f"Retry-After {exc.retry_after:g}s")
        return ", ".join(parts)
    return type(exc).__name__


class BackoffWait:
    """tenacity wait: the policy's backoff, random in ``[min_wait, min(max_wait, min_wait * 2**attempt)]``;
    a ``Retry-After`` the failure carried lengthens it (capped at ``retry_after_limit``, plus up to
    10 % / 1 s of jitter so many clients do not return at once) but never shortens it: a zero,
    negative or past ``Retry-After`` waits the backoff, never retries back to back. ``offset`` =
    attempts made before tenacity took over (the fast path)."""

    def __init__(self, policy: RetrySettings, offset: int = 0) -> None:
        self.policy = policy
        self.offset = offset

    def compute(self, attempt: int, exc: BaseException | None) -> float:
        """The wait before the next attempt.

        :param attempt: the attempts made so far.
        :param exc: the last attempt's failure (its ``retry_after``, if any, is honoured).
        :return: seconds to wait.
        """
        policy = self.policy
        high = min(policy.max_wait, policy.min_wait * 2 ** min(attempt, 60))
        backoff = random.uniform(policy.min_wait, max(policy.min_wait, high))
        retry_after = getattr(exc, "retry_after", None)
        if not isinstance(retry_after, (int, float)):
            return backoff
        limit = policy.retry_after_limit
        wait = min(float(retry_after), limit)
        return max(backoff, min(limit, wait + random.uniform(0.0, min(1.0, 0.1 * wait))))

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self.compute(state.attempt_number + self.offset, exc)


def give_up(exc: BaseException, attempts: int, what: str) -> BaseException:
    """The error raised when the retry budget is spent: same class and fields, saying how many
    attempts were made (``.attempts``)."""
    plural = "attempt" if attempts == 1 else "attempts"
    final: BaseException
    if isinstance(exc, LakeFormationApiError):
        summary = getattr(exc, "summary", None) or type(exc).__name__
        final = type(exc)(
            f"{summary}; gave up after {attempts} {plural}",
            status_code=exc.status_code,
            error_code=exc.error_code,
            error_msg=exc.error_msg,
            solution_msg=exc.solution_msg,
            request_id=exc.request_id,
            method=exc.method,
            path=exc.path,
            retry_after=exc.retry_after,
        )
    elif isinstance(exc, TransportError):
        final = LakeFormationConnectionError(
            f"LakeFormation {what} failed: {exc.reason}; gave up after {attempts} {plural}"
        )
    else:
        return exc
    final.__dict__["attempts"] = attempts
    return final


def _sleeps_past_deadline(wait: float) -> bool:
    """Whether sleeping ``wait`` seconds (a backoff or a ``Retry-After``) would end past the
    caller's deadline: then the retries stop and the last error is raised at once."""
    deadline = current_deadline()
    return deadline is not None and time.monotonic() + wait >= deadline


class _StopAtDeadline(stop_base):
    """tenacity stop: the next wait would end past the caller's deadline."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        return _sleeps_past_deadline(retry_state.upcoming_sleep)


class _Hooks:
    """before_sleep (one WARNING per retry) and retry_error_callback (raise the final error)."""

    def __init__(self, what: str, attempts: int, logger: logging.Logger, offset: int = 0) -> None:
        self.what = what
        self.attempts = attempts
        self.logger = logger
        self.offset = offset

    def log_retry(self, attempt: int, exc: BaseException | None, wait: float) -> None:
        self.logger.warning(
            "LakeFormation %s: attempt %d of %d failed (%s); retrying in %.2f s",
            self.what,
            attempt,
            self.attempts,
            failure_reason(exc) if exc is not None else "no result",
            wait,
        )

    def before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        self.log_retry(state.attempt_number + self.offset, exc, wait)

    def exhausted(self, state: RetryCallState) -> NoReturn:
        assert state.outcome is not None
        exc = state.outcome.exception()
        assert exc is not None
        raise give_up(exc, state.attempt_number + self.offset, self.what) from exc


def _after_first_failure(
    first: BaseException, policy: RetrySettings, what: str, logger: logging.Logger
) -> tuple[float, dict[str, object]]:
    """The wait after the failed fast-path attempt, and the tenacity arguments for the rest."""
    if not is_retryable(first):
        host = unresolved_host(first)
        if host is not None:
            raise LakeFormationConnectionError(
                f"LakeFormation {what} failed: the host name {host or '(not given)'!r} does not exist "
                f"in DNS ({failure_reason(first)}); check the connection's host (or the region). Not "
                "retried: a mistyped name does not appear by retrying"
            ) from first
        raise first
    if policy.max_retries == 0:
        raise give_up(first, 1, what) from first
    hooks = _Hooks(what, policy.attempts, logger, offset=1)
    backoff = BackoffWait(policy, offset=1)
    wait = backoff.compute(1, first)
    if _sleeps_past_deadline(wait):
        raise give_up(first, 1, what) from first
    hooks.log_retry(1, first, wait)
    kwargs: dict[str, object] = {
        "stop": stop_after_attempt(policy.attempts - 1) | _StopAtDeadline(),
        "wait": backoff,
        "retry": retry_if_exception(is_retryable),
        "before_sleep": hooks.before_sleep,
        "retry_error_callback": hooks.exhausted,
        "reraise": True,
    }
    return wait, kwargs


def retry_sync(fn: Callable[[], T], *, policy: RetrySettings, what: str, logger: logging.Logger) -> T:
    """Call ``fn`` with retries per ``policy``. The first attempt runs directly (no per-call retry
    machinery on the happy path); after a retryable failure tenacity ``Retrying`` runs the rest."""
    try:
        return fn()
    except Exception as exc:
        wait, kwargs = _after_first_failure(exc, policy, what, logger)
    _sleep(wait)
    retrying = Retrying(sleep=_sleep, **kwargs)  # type: ignore[arg-type]
    return retrying(fn)


async def retry_async(
    fn: Callable[[], Awaitable[T]], *, policy: RetrySettings, what: str, logger: logging.Logger
) -> T:
    """Async :func:`retry_sync` (tenacity ``AsyncRetrying`` with ``asyncio.sleep``). The happy
    path costs one ``await``: a trigger polling thousands of jobs pays nothing for retries."""
    try:
        return await fn()
    except Exception as exc:
        wait, kwargs = _after_first_failure(exc, policy, what, logger)
    await _asleep(wait)
    retrying = AsyncRetrying(sleep=_asleep, **kwargs)  # type: ignore[arg-type]
    return await retrying(fn)


def quick_policy(policy: RetrySettings) -> RetrySettings:
    """A short retry budget for interactive checks (test_connection)."""
    return RetrySettings(
        max_retries=min(1, policy.max_retries),
        min_wait=min(policy.min_wait, 1.0),
        max_wait=min(policy.max_wait, 2.0),
        retry_after_cap=0.0,
    )
