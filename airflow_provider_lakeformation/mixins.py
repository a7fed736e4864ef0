"""What the operators and the sensor share: the connection arguments and the hook, the sync wait
(through :func:`~airflow_provider_lakeformation.waiter.wait`), deferring to the trigger, judging its
event, failing with the job log's tail, and XComs."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import conf

from airflow_provider_lakeformation.exceptions import (
    LakeFormationError,
    LakeFormationJobFailedError,
    LakeFormationTimeoutError,
)
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.links.lakeformation import CONSOLE_URL_XCOM_KEY
from airflow_provider_lakeformation.models.arguments import MAX_TRANSIENT_ERRORS, count_arg, duration_arg
from airflow_provider_lakeformation.models.status import JobStatus, parse_status
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
from airflow_provider_lakeformation.waiter import JobPoll, wait

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from airflow_provider_lakeformation._compat import Context
    from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

#: XCom keys pushed by the operators and the sensor (the return value is the job id / final status).
XCOM_JOB_ID = "job_id"
XCOM_JOB_STATUS = "job_status"
XCOM_CONSOLE_URL = CONSOLE_URL_XCOM_KEY
#: Extra time the scheduler grants a deferred task beyond its wait before failing it on its own.
DEFER_GRACE = 120.0


class WaitTimedOut(LakeFormationTimeoutError):
    """The sync wait ran out of time; ``last_status`` is the last status read (if any)."""

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


#: A log line at an error level, and (failing that) one whose wording reports an error.
_ERROR_LEVEL = re.compile(r"\b(ERROR|FATAL|CRITICAL|SEVERE)\b")
_ERROR_WORDING = re.compile(r"\b(error|exception|failed|failure)\b", re.IGNORECASE)
#: Longest error line quoted in a failure message.
ERROR_LINE_CHARS = 500


def last_error_line(tail: str | None) -> str | None:
    """The last line of a job log's tail at an error level (else the last whose wording reports an
    error, else its last non-blank line),
    control characters escaped and cut to :data:`ERROR_LINE_CHARS`, for an alert to quote.

    :param tail: the end of the job log.
    :return: the line, or ``None`` for an empty log.
    """
    lines = [line.strip() for line in (tail or "").splitlines() if line.strip()]
    if not lines:
        return None
    line = next(
        (ln for pattern in (_ERROR_LEVEL, _ERROR_WORDING) for ln in reversed(lines) if pattern.search(ln)),
        lines[-1],
    )
    line = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in line)
    return line if len(line) <= ERROR_LINE_CHARS else line[: ERROR_LINE_CHARS - 3] + "..."


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: the default of every ``deferrable`` argument here."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def positive(value: float, what: str) -> float:
    """``value`` as a float: a finite number of seconds above 0 and bounded
    (:func:`~airflow_provider_lakeformation.models.arguments.duration_arg`), else
    :class:`LakeFormationSpecError` naming ``what``."""
    seconds = duration_arg(what, value, allow_zero=False)
    assert seconds is not None
    return seconds


def transient_budget(value: int) -> int:
    """``max_transient_errors`` of an operator or the sensor: an integer from 0 to
    :data:`~airflow_provider_lakeformation.models.arguments.MAX_TRANSIENT_ERRORS`, else
    :class:`LakeFormationSpecError` naming it."""
    return count_arg("max_transient_errors", value, 0, MAX_TRANSIENT_ERRORS)


class LakeFormationOperatorMixin:
    """The connection arguments and the hook of every LakeFormation operator and sensor.

    :param lakeformation_conn_id: Airflow connection of type ``lakeformation``.
    :param project_id: overrides the connection's project.
    :param instance_id: overrides the connection's instance.
    """

    if TYPE_CHECKING:
        log: Logger

    def __init__(
        self,
        *,
        lakeformation_conn_id: str = DEFAULT_CONN_ID,
        project_id: str | None = None,
        instance_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lakeformation_conn_id = lakeformation_conn_id
        self.project_id = project_id
        self.instance_id = instance_id

    @cached_property
    def hook(self) -> LakeFormationHook:
        """The task's hook (created on first use)."""
        from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

        return LakeFormationHook(
            self.lakeformation_conn_id, project_id=self.project_id, instance_id=self.instance_id
        )

    def console_url(self, job_id: str, run: str | int | None = None) -> str | None:
        """The job's console page (of the run that started at ``run``, where the page can address
        one), or ``None`` if it cannot be built (never fails the task)."""
        try:
            return self.hook.job_console_url(job_id, run)
        except Exception as err:
            self.log.warning("could not build the console URL of LakeFormation job %s: %s", job_id, err)
            return None


class LakeFormationPollMixin(LakeFormationOperatorMixin):
    """Polling a job's status on the worker until it reaches a set (stop, delete, start, sensor)."""

    max_transient_errors: int
    poll_interval: float

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
        poll = JobPoll(
            job_id, self.log, success_states, failure_states, self.max_transient_errors, initial=initial
        )
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        outcome = wait(
            poll,
            self.hook.get_job_status,
            delay=lambda: self.poll_interval,
            remaining=lambda: None if deadline is None else deadline - time.monotonic(),
            read_first=initial is None,
        )
        if outcome is not None and poll.last is not None:
            return poll.last
        waited = time.monotonic() - started
        shown = poll.last.value if poll.last is not None else "unknown"
        raise WaitTimedOut(
            f"LakeFormation job {job_id} is still {shown} after {waited:.1f} s (timeout {timeout} s)",
            job_id=job_id,
            last_status=poll.last,
            waited=waited,
        )


class LakeFormationJobWaitMixin(LakeFormationPollMixin):
    """Waiting for a run (here or deferred) and judging it: the start operator and the sensor."""

    log_tail_lines: int

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
        """Log the tail of the job log, then raise :class:`LakeFormationJobFailedError` whose message
        quotes the log's last error line (so an alert carries the cause)."""
        tail = self.log_tail(job_id)
        shown = status.value if status is not None else "unknown"
        url = self.console_url(job_id)
        message = f"LakeFormation job {job_id} ended with status {shown}"
        if detail:
            message += f": {detail}"
        cause = last_error_line(tail)
        if cause:
            message += f"; last error in the job log: {cause}"
        hints = (["the job log above"] if tail else []) + ([f"the console: {url}"] if url else [])
        if hints:
            message += "; see " + " and ".join(hints)
        raise LakeFormationJobFailedError(message, job_id=job_id, status=shown, log_tail=tail)

    def defer_wait(
        self,
        job_id: str,
        *,
        timeout: float | None,
        fail_on_partial_success: bool = True,
        cancel_on_kill: bool = True,
        target_states: frozenset[JobStatus] | None = None,
        failure_states: frozenset[JobStatus] | None = None,
    ) -> NoReturn:
        """Defer to :class:`LakeFormationJobTrigger` for up to ``timeout`` seconds (``None``: no
        limit); the task resumes in ``execute_complete``."""
        trigger = LakeFormationJobTrigger(
            job_id=job_id,
            lakeformation_conn_id=self.lakeformation_conn_id,
            project_id=self.project_id,
            instance_id=self.instance_id,
            poll_interval=self.poll_interval,
            end_time=None if timeout is None else time.time() + timeout,
            fail_on_partial_success=fail_on_partial_success,
            max_transient_errors=self.max_transient_errors,
            cancel_on_kill=cancel_on_kill,
            target_states=None if target_states is None else sorted(s.value for s in target_states),
            failure_states=None if failure_states is None else sorted(s.value for s in failure_states),
        )
        self.defer(  # type: ignore[attr-defined]
            trigger=trigger,
            method_name="execute_complete",
            timeout=None if timeout is None else timedelta(seconds=timeout + DEFER_GRACE),
        )
        raise AssertionError("defer() returned")  # pragma: no cover - defer always raises

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
