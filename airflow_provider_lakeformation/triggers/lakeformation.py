"""Trigger that waits for a LakeFormation job run on the triggerer, plus the status logic it shares.

:class:`LakeFormationJobTrigger` polls one job over one aiohttp session until the run is decided,
then yields exactly one event::

    {"status": "success" | "error" | "timeout", "job_id": str, "job_status": str | None, "message": str}

It is cheap per poll (no connection lookup, no new session, no log line unless the status changes),
absorbs transient errors (5xx, 429, dropped connections that outlast the hook's own retries) up to
``max_transient_errors`` consecutive polls, and stops the job in :meth:`~LakeFormationJobTrigger.on_kill`
(a user marked the deferred task failed/success or cleared it) when ``cancel_on_kill`` is set.

:func:`resolve_states`, :func:`job_outcome` and :class:`StatusTransitionLogger` are the one place that
decides "done / failed / keep waiting" and logs status changes, for the trigger, the operators' sync
wait loop and the sensor alike.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_lakeformation.exceptions import (
    LakeFormationBadRequestError,
    LakeFormationConnectionError,
    LakeFormationError,
    LakeFormationRetryableError,
    LakeFormationSpecError,
)
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.models.status import (
    IN_PROGRESS_STATUSES,
    JobStatus,
    failed_statuses,
    parse_status,
    successful_statuses,
)

#: Errors worth polling through: the hook already retried them and the service may recover.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (LakeFormationRetryableError, LakeFormationConnectionError)

#: Event ``status`` values.
EventStatus = Literal["success", "error", "timeout"]
#: What a status means for a waiter: finished well, finished badly, or not yet (``None``).
Outcome = Literal["success", "error"]

#: Upper bound for :meth:`LakeFormationJobTrigger.on_kill` (Airflow allows 30 s by default).
ON_KILL_TIMEOUT = 25.0

if TYPE_CHECKING:
    from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook


class _Log(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


def _state_set(values: Iterable[JobStatus | str], what: str) -> frozenset[JobStatus]:
    try:
        return frozenset(parse_status(v) for v in values)
    except ValueError as err:
        raise LakeFormationSpecError(what, [str(err)]) from None


def resolve_states(
    target_states: Iterable[JobStatus | str] | None = None,
    failure_states: Iterable[JobStatus | str] | None = None,
    *,
    fail_on_partial_success: bool = True,
) -> tuple[frozenset[JobStatus], frozenset[JobStatus]]:
    """The (success, failure) status sets of a waiter.

    Defaults come from :mod:`models.status`: SUCCESS (plus PARTIAL_SUCCESS unless
    ``fail_on_partial_success``) and the complementary failed terminal states. Raises
    :class:`LakeFormationSpecError` for unknown names or overlapping sets.
    """
    partial_ok = not fail_on_partial_success
    success = None if target_states is None else _state_set(target_states, "target_states")
    failure = None if failure_states is None else _state_set(failure_states, "failure_states")
    if success is not None and failure is not None:
        if overlap := success & failure:
            names = ", ".join(sorted(s.value for s in overlap))
            raise LakeFormationSpecError("failure_states", [f"overlaps target_states ({names})"])
    elif success is not None:  # a defaulted set never claims what the caller put in the other one
        failure = failed_statuses(partial_success_ok=partial_ok) - success
    elif failure is not None:
        success = successful_statuses(partial_success_ok=partial_ok) - failure
    else:
        success = successful_statuses(partial_success_ok=partial_ok)
        failure = failed_statuses(partial_success_ok=partial_ok)
    if not success:
        raise LakeFormationSpecError("target_states", ["must name at least one status"])
    return success, failure


def job_outcome(
    status: JobStatus, success_states: frozenset[JobStatus], failure_states: frozenset[JobStatus]
) -> Outcome | None:
    """``"success"``, ``"error"`` or ``None`` (keep waiting) for ``status``."""
    if status in success_states:
        return "success"
    if status in failure_states:
        return "error"
    return None


class StatusTransitionLogger:
    """Logs each status change of a job once, with the time spent in the previous status."""

    __slots__ = ("_changed_at", "_clock", "_job_id", "_last", "_log", "_started_at")

    def __init__(
        self,
        job_id: str,
        log: _Log,
        *,
        initial: JobStatus | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job_id = job_id
        self._log = log
        self._last = initial
        self._clock = clock
        self._started_at = self._changed_at = clock()

    @property
    def last(self) -> JobStatus | None:
        return self._last

    def observe(self, status: JobStatus) -> bool:
        """Record ``status``; log and return True when it differs from the previous one."""
        if status == self._last:
            return False
        now = self._clock()
        if self._last is None:
            self._log.info("LakeFormation job %s: %s", self._job_id, status.value)
        else:
            self._log.info(
                "LakeFormation job %s: %s -> %s after %.1f s (%.1f s since waiting began)",
                self._job_id,
                self._last.value,
                status.value,
                now - self._changed_at,
                now - self._started_at,
            )
        self._last = status
        self._changed_at = now
        return True


class LakeFormationJobTrigger(BaseTrigger):
    """Wait on the triggerer until a LakeFormation job run succeeds, fails or ``end_time`` passes.

    :param job_id: the job whose current run is watched.
    :param lakeformation_conn_id: Airflow connection (looked up once per run, asynchronously).
    :param project_id: overrides the connection's project.
    :param instance_id: overrides the connection's instance.
    :param poll_interval: seconds between status reads (+-10 % jitter, so triggers started
        together spread their polls).
    :param end_time: epoch seconds after which a ``"timeout"`` event is sent; ``None`` waits forever.
    :param fail_on_partial_success: PARTIAL_SUCCESS is an ``"error"`` (default) or a ``"success"``.
    :param max_transient_errors: consecutive transient failures tolerated before an ``"error"`` event.
    :param cancel_on_kill: stop the job when a user kills the deferred task (see :meth:`on_kill`).
    :param target_states: statuses that mean success (default from ``fail_on_partial_success``).
    :param failure_states: statuses that mean failure (default: the other terminal statuses).
        Other statuses keep the trigger polling.
    """

    def __init__(
        self,
        job_id: str,
        lakeformation_conn_id: str = DEFAULT_CONN_ID,
        project_id: str | None = None,
        instance_id: str | None = None,
        poll_interval: float = 30.0,
        end_time: float | None = None,
        fail_on_partial_success: bool = True,
        max_transient_errors: int = 10,
        cancel_on_kill: bool = True,
        target_states: Iterable[JobStatus | str] | None = None,
        failure_states: Iterable[JobStatus | str] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job_id = job_id
        self.lakeformation_conn_id = lakeformation_conn_id
        self.project_id = project_id
        self.instance_id = instance_id
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.fail_on_partial_success = bool(fail_on_partial_success)
        self.max_transient_errors = int(max_transient_errors)
        self.cancel_on_kill = bool(cancel_on_kill)
        self._success, self._failure = resolve_states(
            target_states, failure_states, fail_on_partial_success=self.fail_on_partial_success
        )
        self.target_states = None if target_states is None else sorted(s.value for s in self._success)
        self.failure_states = None if failure_states is None else sorted(s.value for s in self._failure)
        self._kill_lock = asyncio.Lock()
        self._kill_done = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON kwargs; no credentials (the triggerer reads the connection itself)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "lakeformation_conn_id": self.lakeformation_conn_id,
                "project_id": self.project_id,
                "instance_id": self.instance_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "fail_on_partial_success": self.fail_on_partial_success,
                "max_transient_errors": self.max_transient_errors,
                "cancel_on_kill": self.cancel_on_kill,
                "target_states": self.target_states,
                "failure_states": self.failure_states,
            },
        )

    def _hook(self) -> LakeFormationHook:
        from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

        return LakeFormationHook(
            self.lakeformation_conn_id, project_id=self.project_id, instance_id=self.instance_id
        )

    def _event(self, status: EventStatus, job_status: JobStatus | None, message: str) -> dict[str, Any]:
        return {
            "status": status,
            "job_id": self.job_id,
            "job_status": None if job_status is None else job_status.value,
            "message": message,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the run is decided; yield one event (after the HTTP session is closed)."""
        event = await self._watch()
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _watch(self) -> dict[str, Any]:
        job_id = self.job_id
        tracker = StatusTransitionLogger(job_id, self.log)
        last: JobStatus | None = None
        transient = 0
        try:
            async with self._hook().async_client() as api:
                while True:
                    try:
                        status = await api.get_job_status(job_id)
                    except TRANSIENT_ERRORS as err:
                        transient += 1
                        if transient > self.max_transient_errors:
                            return self._event(
                                "error",
                                last,
                                f"LakeFormation job {job_id}: gave up after {transient} consecutive "
                                f"transient errors while polling; last error: {err}",
                            )
                        self.log.warning(
                            "LakeFormation job %s: transient error %d/%d while polling, will retry: %s",
                            job_id,
                            transient,
                            self.max_transient_errors,
                            err,
                        )
                    else:
                        transient = 0
                        last = status
                        tracker.observe(status)
                        outcome = job_outcome(status, self._success, self._failure)
                        if outcome is not None:
                            verb = "succeeded" if outcome == "success" else "failed"
                            return self._event(
                                outcome, status, f"LakeFormation job {job_id} {verb}: {status}"
                            )
                    # +-10 % jitter: a fleet restarted together does not keep polling in lockstep
                    delay = self.poll_interval * (0.9 + 0.2 * random.random())
                    if self.end_time is not None:
                        remaining = self.end_time - time.time()
                        if remaining <= 0:
                            shown = last.value if last is not None else "unknown"
                            return self._event(
                                "timeout",
                                last,
                                f"LakeFormation job {job_id} still {shown} at the end of the wait",
                            )
                        delay = min(delay, remaining)
                    await asyncio.sleep(delay)
        except LakeFormationError as err:
            return self._event("error", last, f"LakeFormation job {job_id}: {err}")
        except Exception as err:  # anything unexpected becomes an event, never a hung task
            return self._event("error", last, f"LakeFormation job {job_id}: {type(err).__name__}: {err}")

    async def on_kill(self) -> None:
        """A user killed the deferred task: stop the job if it is still SUBMITTED/RUNNING.

        Idempotent (a second call does nothing once a stop was sent or found unnecessary) and bounded
        by :data:`ON_KILL_TIMEOUT`. Never runs on triggerer restarts (Airflow calls only ``cleanup``).
        """
        if not self.cancel_on_kill:
            self.log.info("LakeFormation job %s: cancel_on_kill is off, leaving the job running", self.job_id)
            return
        async with self._kill_lock:
            if self._kill_done:
                return
            try:
                await asyncio.wait_for(self._stop_if_running(), timeout=ON_KILL_TIMEOUT)
            except asyncio.TimeoutError:
                self.log.warning(
                    "LakeFormation job %s: stopping took longer than %.0f s", self.job_id, ON_KILL_TIMEOUT
                )

    async def _stop_if_running(self) -> None:
        async with self._hook().async_client() as api:
            status = await api.get_job_status(self.job_id)
            if status not in IN_PROGRESS_STATUSES:
                self.log.info("LakeFormation job %s is %s: nothing to stop", self.job_id, status.value)
                self._kill_done = True
                return
            try:
                await api.stop_job(self.job_id)
            except LakeFormationBadRequestError as err:  # finished in the meantime
                self.log.warning("LakeFormation job %s: stop refused: %s", self.job_id, err)
            else:
                self.log.info(
                    "LakeFormation job %s: stop requested because the task was killed (was %s)",
                    self.job_id,
                    status.value,
                )
            self._kill_done = True

    async def cleanup(self) -> None:
        """Nothing to release: the HTTP session lives only inside :meth:`run`."""
