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
    LakeFormationJobNameError,
    LakeFormationTimeoutError,
    shown,
    shown_log,
)
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.links.lakeformation import CONSOLE_URL_XCOM_KEY
from airflow_provider_lakeformation.models.arguments import (
    MAX_TRANSIENT_ERRORS,
    count_arg,
    duration_arg,
    job_ref_arg,
    spec_error,
)
from airflow_provider_lakeformation.models.redaction import redact_urls_in
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


#: A log line at an error level, and (failing that) one whose wording reports an error.
_ERROR_LEVEL = re.compile(r"\b(ERROR|FATAL|CRITICAL|SEVERE)\b")
_ERROR_WORDING = re.compile(r"\b(error|exception|failed|failure)\b", re.IGNORECASE)
#: Longest error line quoted in a failure message.
ERROR_LINE_CHARS = 500


def last_error_line(tail: str | None) -> str | None:
    """The last line of a job log's tail at an error level (else the last whose wording reports an
    error, else its last non-blank line),
    control characters escaped and cut to :data:`ERROR_LINE_CHARS` (:func:`shown`), for an alert to
    quote.

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
    return shown(line, ERROR_LINE_CHARS)


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
    :param hook_params: this task's retry policy over the connection's, under the connection-extra
        names and rules (``max_retries``, ``retry_min_wait``, ``retry_max_wait``,
        ``retry_after_cap``); checked when the task is built. Applies to the calls the task makes;
        a deferred wait's trigger polls under the connection's policy.
    """

    if TYPE_CHECKING:
        log: Logger
        do_xcom_push: bool

    #: The console URL this try pushed (or would have, under ``do_xcom_push=False``): the extra link
    #: reads it here in the task, so a task that failed before it had one asks XCom for nothing.
    shown_console_url: str | None = None

    def __init__(
        self,
        *,
        lakeformation_conn_id: str = DEFAULT_CONN_ID,
        project_id: str | None = None,
        instance_id: str | None = None,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lakeformation_conn_id = lakeformation_conn_id
        self.project_id = project_id
        self.instance_id = instance_id
        if hook_params is not None and not isinstance(hook_params, Mapping):
            raise spec_error("hook_params", "hook_params: must be a dict of connection-extra retry settings")
        self.hook_params = dict(hook_params or {})
        if self.hook_params:  # the connection's rules, when the task is built
            from airflow_provider_lakeformation.hooks.lakeformation import RetrySettings

            RetrySettings.from_extras(self.hook_params)

    @cached_property
    def hook(self) -> LakeFormationHook:
        """The task's hook (created on first use)."""
        from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook, RetrySettings

        hook = LakeFormationHook(
            self.lakeformation_conn_id, project_id=self.project_id, instance_id=self.instance_id
        )
        if not self.hook_params:
            return hook
        settings = hook.settings  # the connection, read once; the task's retry settings over its own
        policy = RetrySettings.from_extras(self.hook_params, base=settings.retry)
        return LakeFormationHook.from_settings(settings.model_copy(update={"retry": policy}))

    def push_xcoms(self, context: Context, **values: Any) -> None:
        """Push each non-``None`` value under its key (job_id, job_status, console_url), unless the
        task has ``do_xcom_push=False``; a console URL is kept for the extra link either way."""
        url = values.get(XCOM_CONSOLE_URL)
        if url is not None:
            self.shown_console_url = url
        if not getattr(self, "do_xcom_push", True):
            return
        ti = context["ti"]
        for key, value in values.items():
            if value is not None:
                ti.xcom_push(key=key, value=value.value if isinstance(value, JobStatus) else value)

    def console_url(self, job_id: str, run: str | int | None = None) -> str | None:
        """The job's console page (of the run that started at ``run``, where the page can address
        one), or ``None`` if it cannot be built (never fails the task)."""
        try:
            return self.hook.job_console_url(job_id, run)
        except Exception as err:
            self.log.warning("could not build the console URL of LakeFormation job %s: %s", job_id, err)
            return None


class LakeFormationJobRefMixin(LakeFormationOperatorMixin):
    """A job given by id, or by type and exact name (start, stop, delete, sensor).

    :param job_id: the job (templated); or
    :param job_name: the job's exact name (templated), with
    :param job_type: its type (templated).
    """

    job_id: Any
    job_name: Any
    job_type: Any

    def set_job_ref(self, job_id: Any, job_name: Any, job_type: Any) -> None:
        """Keep the reference after checking what can be checked before rendering."""
        job_ref_arg(job_id, job_name, job_type, rendered=False)
        self.job_id, self.job_name, self.job_type = job_id, job_name, job_type

    def resolve_job_id(self) -> str:
        """The job id, looked up by name (one list call per page) when given by name; then kept in
        ``job_id`` (``job_name``/``job_type`` cleared) for the rest of the try.

        :raises LakeFormationSpecError: the rendered reference breaks a rule (before any HTTP call).
        :raises LakeFormationJobNameError: no job, or more than one, has that type and name.
        """
        job_id, name, job_type = job_ref_arg(self.job_id, self.job_name, self.job_type)
        if job_id is not None:
            self.job_id = job_id
            return job_id
        assert name is not None
        assert job_type is not None
        found = [job.id for job in self.hook.iter_jobs(job_type, name_pattern=name) if job.name == name]
        if len(found) != 1:
            raise LakeFormationJobNameError(job_type=job_type.value, job_name=name, job_ids=found)
        self.log.info("LakeFormation %s job %r is %s", job_type.value, name, found[0])
        # The job is fixed for the rest of this try: later calls take the id path, no second lookup.
        self.job_id, self.job_name, self.job_type = found[0], None, None
        return found[0]

    @property
    def job_ref(self) -> str:
        """How the job was given, for messages written before it was looked up."""
        if self.job_id is not None:
            return str(self.job_id)
        return f"{self.job_type} job named {self.job_name!r}"


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
    #: Seconds after the deferral before the trigger may resume the task (checked by
    #: :func:`~airflow_provider_lakeformation.config.checked_min_deferral` in each ``__init__``).
    min_deferral_seconds: float

    def log_tail(self, job_id: str) -> str | None:
        """Print the last ``log_tail_lines`` lines of the job log in the task log (:func:`shown_log`:
        escaped, each line cut and prefixed, the whole capped) and return them; either way every URL
        in them has lost its credentials (:func:`redact_urls_in`)."""
        if self.log_tail_lines <= 0:
            return None
        try:
            # a job log may echo the URLs of its spec, credentials included: never pass those on
            tail = redact_urls_in(self.hook.get_job_log(job_id).tail(self.log_tail_lines))
        except LakeFormationError as err:
            self.log.warning("could not fetch the log of LakeFormation job %s: %s", job_id, err)
            return None
        if tail:
            self.log.info(
                "last %d lines of the log of LakeFormation job %s (control characters escaped, long "
                "lines cut):\n%s",
                self.log_tail_lines,
                job_id,
                shown_log(tail),
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
        limit); the task resumes in ``execute_complete`` (given ``console_url``, when there is one)."""
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
            hold_until=time.time() + self.min_deferral_seconds if self.min_deferral_seconds else None,
        )
        self.defer(  # type: ignore[attr-defined]
            trigger=trigger,
            method_name="execute_complete",
            # The resumed task's extra link shows the same page (read in the task, not from XCom).
            kwargs={"console_url": self.shown_console_url} if self.shown_console_url else None,
            timeout=None if timeout is None else timedelta(seconds=timeout + DEFER_GRACE),
        )
        raise AssertionError("defer() returned")  # pragma: no cover - defer always raises

    def resume(
        self,
        context: Context,
        event: Mapping[str, Any] | None,
        expected_job_id: str,
        failure_states: frozenset[JobStatus],
        console_url: str | None = None,
    ) -> tuple[str, str, JobStatus | None]:
        """Judge a trigger event: return ``(kind, job_id, job_status)`` for ``"success"`` (job_status
        pushed to XCom) and ``"timeout"`` (the caller decides); raise for ``"error"``: a run that ended
        in ``failure_states`` fails with the log tail, anything else (auth, 404, polling gave up after
        transient errors) with the trigger's message. ``console_url`` is the one the task had before
        deferring (for the extra link)."""
        self.shown_console_url = console_url
        if not isinstance(event, Mapping) or event.get("status") not in ("success", "error", "timeout"):
            raise LakeFormationError(f"LakeFormation job {expected_job_id}: the trigger sent no usable event")
        job_id = str(event.get("job_id") or expected_job_id)
        # The extra link of the resumed task: the URL pushed before deferring (handed over in the
        # method kwargs), else the job's page (``dag.test()`` resumes without those kwargs).
        self.shown_console_url = console_url or self.console_url(job_id)
        raw = event.get("job_status")
        job_status = parse_status(raw) if raw else None
        kind = str(event["status"])
        if kind == "success":
            self.push_xcoms(context, job_status=job_status)
            return kind, job_id, job_status
        if kind == "timeout":
            return kind, job_id, job_status
        if job_status is not None and job_status in failure_states:
            self.push_xcoms(context, job_status=job_status)
            self.fail_job(job_id, job_status)
        raise LakeFormationError(str(event.get("message") or f"LakeFormation job {job_id}: waiting failed"))
