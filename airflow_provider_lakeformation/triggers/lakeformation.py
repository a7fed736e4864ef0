"""Trigger that waits for a LakeFormation job run on the triggerer.

:class:`LakeFormationJobTrigger` waits for one job until the run is decided, then yields exactly one
event::

    {"status": "success" | "error" | "timeout", "job_id": str, "job_status": str | None, "message": str}

By default it subscribes to the status feed of its connection, project and instance
(:mod:`~airflow_provider_lakeformation.triggers.status_feed`): the triggers of a triggerer that
wait on jobs of one instance learn their statuses from a few list pages per interval instead of one
request each. ``[lakeformation] status_feed = false`` makes it read its job alone every interval
(over the aiohttp session that the triggers of one loop and connection share, see
:mod:`~.hooks._sessions`). Either way it is cheap per poll (no connection lookup, no new
session, no log line unless the status changes), absorbs transient errors (5xx, 429, dropped
connections that outlast the hook's own retries) up to ``max_transient_errors`` consecutive polls
(the shared loops :func:`~airflow_provider_lakeformation.waiter.async_follow` and
:func:`~airflow_provider_lakeformation.waiter.async_wait`), and stops the job in
:meth:`~LakeFormationJobTrigger.on_kill` (a user marked the deferred task failed/success or cleared
it) when ``cancel_on_kill`` is set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar, Literal

from airflow.triggers.base import TriggerEvent

from airflow_provider_lakeformation.config import checked_poll_interval, status_feed_enabled
from airflow_provider_lakeformation.exceptions import LakeFormationBadRequestError, LakeFormationError
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.models.arguments import (
    MAX_DEFERRAL_HOLD,
    MAX_TRANSIENT_ERRORS,
    count_arg,
    epoch_arg,
    flag_arg,
    job_id_arg,
)
from airflow_provider_lakeformation.models.status import (
    IN_PROGRESS_STATUSES,
    TRANSIENT_ERRORS,
    JobStatus,
    Outcome,
    resolve_states,
)
from airflow_provider_lakeformation.triggers.base import LakeFormationBaseTrigger
from airflow_provider_lakeformation.triggers.status_feed import subscribe
from airflow_provider_lakeformation.waiter import JobPoll, async_follow, async_wait, hold_until, jittered

__all__ = [
    "LakeFormationJobTrigger",
]

#: Event ``status`` values.
EventStatus = Literal["success", "error", "timeout"]

#: Upper bound for :meth:`LakeFormationJobTrigger.on_kill` (Airflow allows 30 s by default).
ON_KILL_TIMEOUT = 25.0


class LakeFormationJobTrigger(LakeFormationBaseTrigger):
    """Wait on the triggerer until a LakeFormation job run succeeds, fails or ``end_time`` passes.

    Every argument is checked when the trigger is built (a ``LakeFormationSpecError`` naming it),
    never inside the run loop.

    :param job_id: the job whose current run is watched (the id rule of the hook).
    :param lakeformation_conn_id: Airflow connection (looked up once per run, asynchronously).
    :param project_id: overrides the connection's project.
    :param instance_id: overrides the connection's instance.
    :param poll_interval: seconds between status reads (+-10 % jitter, so triggers started
        together spread their polls); at least ``[lakeformation] min_poll_interval`` (1 s), at most
        30 days.
    :param end_time: epoch seconds after which a ``"timeout"`` event is sent; ``None`` waits forever.
    :param fail_on_partial_success: PARTIAL_SUCCESS is an ``"error"`` (default) or a ``"success"``
        (a bool, or one of the words true/false, yes/no, on/off, 1/0).
    :param max_transient_errors: consecutive transient failures tolerated before an ``"error"``
        event (0..1000).
    :param cancel_on_kill: stop the job when a user kills the deferred task (see :meth:`on_kill`).
    :param target_states: statuses that mean success (default from ``fail_on_partial_success``).
    :param failure_states: statuses that mean failure (default: the other terminal statuses).
        Other statuses keep the trigger polling.
    :param hold_until: epoch seconds before which no event is sent, whatever the job does (the
        deferring task sets it ``min_deferral_seconds`` after its deferral, so Airflow's scheduler
        has handled the deferring process's exit before the task resumes; docs/operators.md,
        "Airflow's deferral race"). ``None`` (the default, and triggers stored before it existed):
        no hold. A hold never lasts longer than 300 s, whatever the clocks say.
    """

    serialized_fields: ClassVar[tuple[str, ...]] = (
        "job_id",
        *LakeFormationBaseTrigger.serialized_fields,
        "poll_interval",
        "end_time",
        "fail_on_partial_success",
        "max_transient_errors",
        "cancel_on_kill",
        "target_states",
        "failure_states",
        "hold_until",
    )

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
        hold_until: float | None = None,
    ) -> None:
        super().__init__(
            lakeformation_conn_id=lakeformation_conn_id, project_id=project_id, instance_id=instance_id
        )
        self.job_id = job_id_arg(job_id)
        self.poll_interval = checked_poll_interval("poll_interval", poll_interval)
        self.end_time = epoch_arg("end_time", end_time)
        self.fail_on_partial_success = flag_arg(fail_on_partial_success, "fail_on_partial_success", True)
        self.max_transient_errors = count_arg(
            "max_transient_errors", max_transient_errors, 0, MAX_TRANSIENT_ERRORS
        )
        self.cancel_on_kill = flag_arg(cancel_on_kill, "cancel_on_kill", True)
        self.hold_until = epoch_arg("hold_until", hold_until)
        self._success, self._failure = resolve_states(
            target_states, failure_states, fail_on_partial_success=self.fail_on_partial_success
        )
        self.target_states = None if target_states is None else sorted(s.value for s in self._success)
        self.failure_states = None if failure_states is None else sorted(s.value for s in self._failure)
        self._kill_lock: asyncio.Lock | None = None  # made on first use: most triggers are never killed
        self._kill_done = False

    def _event(self, status: EventStatus, job_status: JobStatus | None, message: str) -> dict[str, Any]:
        return {
            "status": status,
            "job_id": self.job_id,
            "job_status": None if job_status is None else job_status.value,
            "message": message,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the run is decided; yield one event (after the HTTP session is closed), never
        before ``hold_until``."""
        event = await self._watch()
        held = await hold_until(self.hold_until, MAX_DEFERRAL_HOLD)
        if held > 0:
            self.log.info(
                "LakeFormation job %s: event held %.1f s after the deferral (min_deferral_seconds; "
                "Airflow's deferral race)",
                self.job_id,
                held,
            )
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    def _delay(self) -> float:
        return jittered(self.poll_interval)

    def _remaining(self) -> float | None:
        return None if self.end_time is None else self.end_time - time.time()

    async def _watch(self) -> dict[str, Any]:
        job_id = self.job_id
        poll = JobPoll(job_id, self.log, self._success, self._failure, self.max_transient_errors)
        try:
            outcome = await (self._follow(poll) if status_feed_enabled() else self._poll_alone(poll))
        except TRANSIENT_ERRORS as err:
            if not poll.gave_up:
                return self._event("error", poll.last, f"LakeFormation job {job_id}: {err}")
            return self._event(
                "error",
                poll.last,
                f"LakeFormation job {job_id}: gave up after {poll.transient} consecutive "
                f"transient errors while polling; last error: {err}",
            )
        except LakeFormationError as err:
            return self._event("error", poll.last, f"LakeFormation job {job_id}: {err}")
        except Exception as err:  # anything unexpected becomes an event, never a hung task
            return self._event("error", poll.last, f"LakeFormation job {job_id}: {type(err).__name__}: {err}")
        if outcome is None:
            shown = poll.last.value if poll.last is not None else "unknown"
            return self._event(
                "timeout", poll.last, f"LakeFormation job {job_id} still {shown} at the end of the wait"
            )
        verb = "succeeded" if outcome == "success" else "failed"
        return self._event(outcome, poll.last, f"LakeFormation job {job_id} {verb}: {poll.last}")

    async def _follow(self, poll: JobPoll) -> Outcome | None:
        """Wait through the status feed of this connection, project and instance (the default)."""
        async with subscribe(self._hook(), self.job_id, self.poll_interval) as feed:
            return await async_follow(poll, feed.next_status, remaining=self._remaining)

    async def _poll_alone(self, poll: JobPoll) -> Outcome | None:
        """Read the job alone every interval (``[lakeformation] status_feed = false``)."""
        async with self._hook().async_client() as api:
            return await async_wait(poll, api.get_job_status, delay=self._delay, remaining=self._remaining)

    async def on_kill(self) -> None:
        """A user killed the deferred task: stop the job if it is still SUBMITTED/RUNNING.

        Idempotent (a second call does nothing once a stop was sent or found unnecessary) and bounded
        by :data:`ON_KILL_TIMEOUT`. Never runs on triggerer restarts (Airflow calls only ``cleanup``).
        """
        if not self.cancel_on_kill:
            self.log.info("LakeFormation job %s: cancel_on_kill is off, leaving the job running", self.job_id)
            return
        if self._kill_lock is None:
            self._kill_lock = asyncio.Lock()
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
            # A status this client does not know may be a run under way (QUEUED...): ask for a stop.
            if status.is_known and status not in IN_PROGRESS_STATUSES:
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
        """Nothing to release: :meth:`run` gives its share of the loop's HTTP session back itself."""
