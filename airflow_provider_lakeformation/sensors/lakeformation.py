"""Sensor that waits for a LakeFormation job to reach a target status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSensorTimeout, PokeReturnValue

from airflow_provider_lakeformation._compat import BaseSensorOperator
from airflow_provider_lakeformation.config import checked_min_deferral, checked_poll_interval
from airflow_provider_lakeformation.links.lakeformation import LakeFormationJobLink
from airflow_provider_lakeformation.mixins import (
    LakeFormationJobRefMixin,
    LakeFormationJobWaitMixin,
    default_deferrable,
    transient_budget,
)
from airflow_provider_lakeformation.models.jobs import JobType
from airflow_provider_lakeformation.models.status import JobStatus, resolve_states
from airflow_provider_lakeformation.waiter import JobPoll, poll_once

__all__ = [
    "LakeFormationJobSensor",
]

if TYPE_CHECKING:
    from airflow_provider_lakeformation._compat import Context


class LakeFormationJobSensor(LakeFormationJobWaitMixin, LakeFormationJobRefMixin, BaseSensorOperator):
    """Wait until a LakeFormation job's current run reaches one of ``target_states``.

    Works in ``poke`` and ``reschedule`` mode, and deferrable (one poke on the worker, then the
    wait moves to the triggerer only if the job is not done yet). A status in ``failure_states``
    fails the task with the tail of the job log; any other status keeps it waiting (so a sensor may
    wait on a job someone else starts later). The final status is the return-value XCom and the
    ``job_status`` XCom. The sensor never stops the job: killing it leaves the job running.

    :param job_id: the job to watch (templated); or give ``job_name`` and ``job_type``.
    :param job_name: the exact name of the job to watch (templated), instead of ``job_id``; looked
        up when the task starts (each poke in ``reschedule`` mode); the id found is the ``job_id`` XCom.
    :param job_type: the job's type, with ``job_name`` (templated).
    :param target_states: statuses that end the wait with success (default SUCCESS, plus
        PARTIAL_SUCCESS when ``fail_on_partial_success`` is False).
    :param failure_states: statuses that fail the task (default: the other terminal statuses).
    :param fail_on_partial_success: decides where PARTIAL_SUCCESS goes when the sets are defaulted.
    :param deferrable: wait on the triggerer (default ``[operators] default_deferrable``).
    :param log_tail_lines: lines of the job log printed when the job failed.
    :param max_transient_errors: consecutive transient errors tolerated (poke mode and trigger;
        0..1000).
    :param min_deferral_seconds: in deferrable mode, the trigger holds back the event that resumes
        the task until this many seconds after the deferral (0..300; ``None``: ``[lakeformation]
        min_deferral_seconds``, 10 s), so Airflow's scheduler has handled the deferring process's
        exit first (docs/operators.md, "Airflow's deferral race"). Costs a short wait at most this
        long; a longer one is not slowed.

    ``poke_interval`` (Airflow's) is also how often the trigger polls in deferrable mode, and it
    follows the poll-interval rule in every mode: a finite number of seconds of at least
    ``[lakeformation] min_poll_interval`` (1 s), so ``poke_interval=0`` is refused with a
    ``LakeFormationSpecError`` naming ``poke_interval`` when the DAG file is parsed.
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "job_type", "project_id", "instance_id")
    operator_extra_links = (LakeFormationJobLink(),)
    ui_color = "#f0f0e0"

    def __init__(
        self,
        *,
        job_id: str | None = None,
        job_name: str | None = None,
        job_type: JobType | str | None = None,
        target_states: Iterable[JobStatus | str] | None = None,
        failure_states: Iterable[JobStatus | str] | None = None,
        fail_on_partial_success: bool = True,
        deferrable: bool = default_deferrable(),
        log_tail_lines: int = 50,
        max_transient_errors: int = 10,
        min_deferral_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_job_ref(job_id, job_name, job_type)
        self.target_states, self.failure_states = resolve_states(
            target_states, failure_states, fail_on_partial_success=fail_on_partial_success
        )
        self.fail_on_partial_success = fail_on_partial_success
        self.deferrable = deferrable
        self.log_tail_lines = log_tail_lines
        self.max_transient_errors = transient_budget(max_transient_errors)
        self.min_deferral_seconds = checked_min_deferral(min_deferral_seconds)
        # the trigger polls as often as the sensor pokes: the poll-interval rule applies to both
        self.poll_interval = checked_poll_interval("poke_interval", self.poke_interval)
        self._poll: JobPoll | None = None

    def execute(self, context: Context) -> Any:
        job_id = self.resolve_job_id()
        self.push_xcoms(context, job_id=job_id, console_url=self.console_url(job_id))
        if not self.deferrable:
            return super().execute(context)
        result = self.poke(context)
        if result:
            return result.xcom_value if isinstance(result, PokeReturnValue) else None
        self.defer_wait(
            self.job_id,
            timeout=float(self.timeout),
            fail_on_partial_success=self.fail_on_partial_success,
            cancel_on_kill=False,
            target_states=self.target_states,
            failure_states=self.failure_states,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Read the status once (through the shared poll step): ``False`` while undecided or after a
        tolerated transient error; the final status when it is in ``target_states``; fail with the
        log tail when it is in ``failure_states``."""
        if self._poll is None:
            self._poll = JobPoll(
                self.job_id, self.log, self.target_states, self.failure_states, self.max_transient_errors
            )
        outcome = poll_once(self._poll, self.hook.get_job_status)
        status = self._poll.last
        if outcome is None or status is None:
            return False
        self.push_xcoms(context, job_status=status)
        if outcome == "error":
            self.fail_job(self.job_id, status)
        return PokeReturnValue(is_done=True, xcom_value=status.value)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, console_url: str | None = None
    ) -> str | None:
        """Resume after the trigger: return the final status, or fail / time out.

        :param console_url: the console URL pushed before deferring (for the extra link).
        """
        kind, job_id, status = self.resume(context, event, self.job_ref, self.failure_states, console_url)
        if kind == "timeout":
            shown = status.value if status is not None else "unknown"
            raise AirflowSensorTimeout(
                f"LakeFormation job {job_id} did not reach {sorted(s.value for s in self.target_states)} "
                f"within {self.timeout} s (last status {shown})"
            )
        return status.value if status is not None else None
