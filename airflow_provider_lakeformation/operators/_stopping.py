"""Stopping a run, shared by the stop, delete and start (``if_running="restart"``) operators."""

from __future__ import annotations

from airflow_provider_lakeformation.exceptions import LakeFormationBadRequestError
from airflow_provider_lakeformation.mixins import LakeFormationPollMixin
from airflow_provider_lakeformation.models.status import IN_PROGRESS_STATUSES, JobStatus

__all__: list[str] = []

#: Every status in which a job is not running (what "stopped" means when waiting for a stop).
_NOT_RUNNING: frozenset[JobStatus] = frozenset(JobStatus) - IN_PROGRESS_STATUSES


class _StopMixin(LakeFormationPollMixin):
    """Stop a run and (optionally) wait until it is no longer SUBMITTED/RUNNING."""

    def stop_run(self, job_id: str, *, wait: bool, timeout: float | None) -> JobStatus:
        """Stop ``job_id`` if it is in progress (or in a status this client does not know); return
        the status it ends up in (or was in). Without ``wait``, the status read right after the stop
        was accepted: never the one read before it."""
        status = self.hook.get_job_status(job_id)
        if status.is_known and status not in IN_PROGRESS_STATUSES:
            self.log.info("LakeFormation job %s is %s: nothing to stop", job_id, status.value)
            return status
        try:
            self.hook.stop_job(job_id)
        except LakeFormationBadRequestError:
            status = self.hook.get_job_status(job_id)
            if status in IN_PROGRESS_STATUSES:
                raise
            self.log.info(
                "LakeFormation job %s finished (%s) before it could be stopped", job_id, status.value
            )
            return status
        self.log.info("LakeFormation job %s: stop requested (was %s)", job_id, status.value)
        if not wait:
            return self._status_after_stop(job_id, status)
        return self.wait_for_job(
            job_id, success_states=_NOT_RUNNING, failure_states=frozenset(), timeout=timeout, initial=status
        )

    def _status_after_stop(self, job_id: str, before: JobStatus) -> JobStatus:
        """The status read after the stop was accepted (the stop may still be under way)."""
        after = self.hook.get_job_status(job_id)
        if after == before:
            self.log.info(
                "LakeFormation job %s is still %s: the stop was accepted and is not applied yet "
                "(wait_for_stop=True waits for it)",
                job_id,
                after.value,
            )
        return after
