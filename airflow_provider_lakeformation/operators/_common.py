"""What the operators and the sensor share: the hook, the sync wait loop, failing with the job log's
tail, XComs, resuming from a trigger event and masking secrets of a rendered job spec."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import conf
from pydantic import BaseModel

from airflow_provider_lakeformation.exceptions import (
    LakeFormationError,
    LakeFormationJobFailedError,
    LakeFormationSpecError,
    LakeFormationTimeoutError,
)
from airflow_provider_lakeformation.links.lakeformation import CONSOLE_URL_XCOM_KEY
from airflow_provider_lakeformation.models.jobs import SECRET_FIELDS, WireModel
from airflow_provider_lakeformation.models.status import JobStatus, parse_status
from airflow_provider_lakeformation.triggers.lakeformation import (
    TRANSIENT_ERRORS,
    LakeFormationJobTrigger,
    StatusTransitionLogger,
    job_outcome,
)

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from airflow_provider_lakeformation._compat import Context
    from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

#: XCom keys pushed by the operators and the sensor (the return value is the job id / final status).
XCOM_JOB_ID = "job_id"
XCOM_JOB_STATUS = "job_status"
XCOM_CONSOLE_URL = CONSOLE_URL_XCOM_KEY


class WaitTimedOut(LakeFormationTimeoutError):
    """The sync wait loop ran out of time; ``last_status`` is the last status read (if any)."""

    def __init__(self, message: str, *, job_id: str, last_status: JobStatus | None, waited: float) -> None:
        self.job_id = job_id
        self.last_status = last_status
        self.waited = waited
        super().__init__(message)


def push_xcoms(context: Context, **values: Any) -> None:
    """Push each non-``None`` value under its key (job_id, job_status, console_url)."""
    ti = context["ti"]
    for key, value in values.items():
        if value is not None:
            ti.xcom_push(key=key, value=value.value if isinstance(value, JobStatus) else value)


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: the default of every ``deferrable`` argument here."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def collect_secrets(value: Any) -> list[str]:
    """Values of ``password`` / ``access_key`` / ``secret_key`` anywhere in a job spec (dict, JSON
    string or model)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, WireModel):
        value = value.to_wire()
    elif isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in SECRET_FIELDS and isinstance(item, str) and item:
                found.append(item)
            else:
                found.extend(collect_secrets(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(collect_secrets(item))
    return found


def mask_job_secrets(job: Any) -> None:
    """Register the datasource secrets of a (rendered) job spec with Airflow's secrets masker."""
    from airflow.providers.common.compat.sdk import mask_secret

    for secret in collect_secrets(job):
        mask_secret(secret)


def coerce_bool(value: Any, what: str) -> bool | None:
    """A bool argument that may have been rendered from a template ("true"/"False"/"")."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none"):
            return None
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
    raise LakeFormationSpecError(what, [f"{what}: must be true or false"])


class LakeFormationOperatorMixin:
    """The connection arguments and the hook of every LakeFormation operator and sensor."""

    lakeformation_conn_id: str
    project_id: str | None
    instance_id: str | None
    if TYPE_CHECKING:
        log: Logger

    @cached_property
    def hook(self) -> LakeFormationHook:
        from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

        return LakeFormationHook(
            self.lakeformation_conn_id, project_id=self.project_id, instance_id=self.instance_id
        )

    def console_url(self, job_id: str) -> str | None:
        """The job's console page, or ``None`` if it cannot be built (never fails the task)."""
        try:
            return self.hook.job_console_url(job_id)
        except Exception as err:
            self.log.warning("could not build the console URL of LakeFormation job %s: %s", job_id, err)
            return None


class LakeFormationJobWaitMixin(LakeFormationOperatorMixin):
    """Waiting for a run and judging it: used by the start operator and the sensor."""

    log_tail_lines: int
    max_transient_errors: int
    poll_interval: float

    # ---------------------------------------------------------------------------------------- fail

    def log_tail(self, job_id: str) -> str | None:
        """Print the last ``log_tail_lines`` lines of the job log in the task log and return them."""
        if self.log_tail_lines <= 0:
            return None
        try:
            tail = self.hook.get_job_log(job_id).tail(self.log_tail_lines)
        except LakeFormationError as err:
            self.log.warning("could not fetch the log of LakeFormation job %s: %s", job_id, err)
            return None
        if tail:
            self.log.info(
                "last %d lines of the log of LakeFormation job %s:\n%s", self.log_tail_lines, job_id, tail
            )
        else:
            self.log.info("the log of LakeFormation job %s is empty", job_id)
        return tail

    def fail_job(self, job_id: str, status: JobStatus | None, detail: str | None = None) -> NoReturn:
        """Log the tail of the job log, then raise :class:`LakeFormationJobFailedError`."""
        tail = self.log_tail(job_id)
        shown = status.value if status is not None else "unknown"
        url = self.console_url(job_id)
        message = f"LakeFormation job {job_id} ended with status {shown}"
        if detail:
            message += f": {detail}"
        hints = (["the job log above"] if tail else []) + ([f"the console: {url}"] if url else [])
        if hints:
            message += "; see " + " and ".join(hints)
        raise LakeFormationJobFailedError(message, job_id=job_id, status=shown, log_tail=tail)

    # ---------------------------------------------------------------------------------------- wait

    def wait_for_job(
        self,
        job_id: str,
        *,
        success_states: frozenset[JobStatus],
        failure_states: frozenset[JobStatus],
        timeout: float | None,
        initial: JobStatus | None = None,
    ) -> JobStatus:
        """Poll every ``poll_interval`` until the status is in one of the sets; return it.

        ``initial`` is a status the caller has just read (the first poll then waits one interval).
        Transient errors (after the hook's own retries) are tolerated up to ``max_transient_errors``
        in a row. Raises :class:`WaitTimedOut` after ``timeout`` seconds (``None``: no limit).
        """
        tracker = StatusTransitionLogger(job_id, self.log, initial=initial)
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        transient = 0
        if initial is not None:  # just read: the first poll is one interval away
            time.sleep(self.poll_interval if deadline is None else min(self.poll_interval, timeout or 0.0))
        while True:
            try:
                status = self.hook.get_job_status(job_id)
            except TRANSIENT_ERRORS as err:
                transient += 1
                if transient > self.max_transient_errors:
                    raise
                self.log.warning(
                    "LakeFormation job %s: transient error %d/%d while polling, will retry: %s",
                    job_id,
                    transient,
                    self.max_transient_errors,
                    err,
                )
            else:
                transient = 0
                tracker.observe(status)
                if job_outcome(status, success_states, failure_states) is not None:
                    return status
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                last = tracker.last
                shown = last.value if last is not None else "unknown"
                raise WaitTimedOut(
                    f"LakeFormation job {job_id} is still {shown} after {now - started:.1f} s "
                    f"(timeout {timeout} s)",
                    job_id=job_id,
                    last_status=last,
                    waited=now - started,
                )
            delay = self.poll_interval if deadline is None else min(self.poll_interval, deadline - now)
            time.sleep(max(delay, 0.0))

    def trigger(
        self,
        job_id: str,
        *,
        end_time: float | None,
        fail_on_partial_success: bool = True,
        cancel_on_kill: bool = True,
        target_states: frozenset[JobStatus] | None = None,
        failure_states: frozenset[JobStatus] | None = None,
    ) -> LakeFormationJobTrigger:
        """The trigger that waits for ``job_id`` with this task's connection and polling settings."""
        return LakeFormationJobTrigger(
            job_id=job_id,
            lakeformation_conn_id=self.lakeformation_conn_id,
            project_id=self.project_id,
            instance_id=self.instance_id,
            poll_interval=self.poll_interval,
            end_time=end_time,
            fail_on_partial_success=fail_on_partial_success,
            max_transient_errors=self.max_transient_errors,
            cancel_on_kill=cancel_on_kill,
            target_states=None if target_states is None else sorted(s.value for s in target_states),
            failure_states=None if failure_states is None else sorted(s.value for s in failure_states),
        )

    def resume(
        self,
        context: Context,
        event: Mapping[str, Any] | None,
        expected_job_id: str,
        failure_states: frozenset[JobStatus],
    ) -> tuple[str, str, JobStatus | None]:
        """Judge a trigger event: return ``(kind, job_id, job_status)`` for ``"success"`` (job_status
        pushed to XCom) and ``"timeout"`` (the caller decides); raise for ``"error"``: a run that ended
        in ``failure_states`` fails with the log tail, anything else (auth, 404, polling gave up after
        transient errors) with the trigger's message."""
        if not isinstance(event, Mapping) or event.get("status") not in ("success", "error", "timeout"):
            raise LakeFormationError(f"LakeFormation job {expected_job_id}: the trigger sent no usable event")
        job_id = str(event.get("job_id") or expected_job_id)
        raw = event.get("job_status")
        job_status = parse_status(raw) if raw else None
        kind = str(event["status"])
        if kind == "success":
            push_xcoms(context, job_status=job_status)
            return kind, job_id, job_status
        if kind == "timeout":
            return kind, job_id, job_status
        if job_status is not None and job_status in failure_states:
            push_xcoms(context, job_status=job_status)
            self.fail_job(job_id, job_status)
        raise LakeFormationError(str(event.get("message") or f"LakeFormation job {job_id}: waiting failed"))
