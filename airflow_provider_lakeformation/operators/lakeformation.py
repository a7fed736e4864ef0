"""Operators that create, update, start, stop and delete Huawei Cloud LakeFormation jobs.

Every operator returns the job id (return-value XCom) and pushes the XComs ``job_id`` and
``console_url`` (the "LakeFormation Job" extra link); operators that see a final status push
``job_status`` too. Job specs are validated after templating and before any HTTP call; their secrets
are masked in logs and never returned, pushed or put into an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn

from airflow_provider_lakeformation._compat import BaseOperator, ResumableJobMixin
from airflow_provider_lakeformation.config import checked_min_deferral, checked_poll_interval
from airflow_provider_lakeformation.exceptions import (
    LakeFormationBadRequestError,
    LakeFormationError,
    LakeFormationJobNameError,
    LakeFormationNotFoundError,
    LakeFormationTimeoutError,
    shown,
)
from airflow_provider_lakeformation.lineage.operator import LakeFormationLineageMixin
from airflow_provider_lakeformation.links.lakeformation import LakeFormationJobLink
from airflow_provider_lakeformation.mixins import (
    LakeFormationJobRefMixin,
    LakeFormationJobWaitMixin,
    LakeFormationOperatorMixin,
    WaitTimedOut,
    default_deferrable,
    positive,
    transient_budget,
)
from airflow_provider_lakeformation.models.arguments import (
    choice_arg,
    create_request,
    job_id_arg,
    list_args,
    start_args,
)
from airflow_provider_lakeformation.models.jobs import (
    CreateJobRequest,
    Job,
    JobType,
    StartMode,
    UpdateJobRequest,
)
from airflow_provider_lakeformation.models.status import (
    IN_PROGRESS_STATUSES,
    JobStatus,
    job_outcome,
    parse_status,
    resolve_states,
)
from airflow_provider_lakeformation.operators._spec_templating import (
    _JobSpecTemplatingMixin,
    mask_job_secrets,
)
from airflow_provider_lakeformation.operators._stopping import _StopMixin

__all__ = [
    "LakeFormationCreateJobOperator",
    "LakeFormationDeleteJobOperator",
    "LakeFormationListJobsOperator",
    "LakeFormationStartJobOperator",
    "LakeFormationStopJobOperator",
    "LakeFormationUpdateJobOperator",
]

if TYPE_CHECKING:
    from pydantic import JsonValue

    from airflow_provider_lakeformation._compat import Context


IfExists = Literal["fail", "reuse", "update"]
_IF_EXISTS: tuple[str, ...] = ("fail", "reuse", "update")
IfRunning = Literal["attach", "fail", "restart"]
_IF_RUNNING: tuple[str, ...] = ("attach", "fail", "restart")


def _max_tries(context: Context) -> int | None:
    """The task instance's ``max_tries``: the same for every retry, raised each time it is cleared."""
    value = getattr(context.get("ti"), "max_tries", None)
    return value if isinstance(value, int) else None


# ------------------------------------------------------------------------------------------ create


class LakeFormationCreateJobOperator(
    _JobSpecTemplatingMixin, LakeFormationLineageMixin, LakeFormationOperatorMixin, BaseOperator
):
    """Create a LakeFormation job, idempotently.

    :param job: the job spec: a dict (templated; see ``CreateJobRequest``) or a ``CreateJobRequest``.
        A missing parameter-block ``instance_id`` is filled from the connection. Validated after
        templating, before any HTTP call.
    :param if_exists: what to do when a job of the same type and name exists: ``"fail"`` (default,
        naming the existing job id), ``"reuse"`` (return it unchanged) or ``"update"`` (modify it to
        match ``job``). Makes re-runs and backfills safe.
    """

    template_fields: Sequence[str] = ("job", "project_id", "instance_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"job": "json"}
    operator_extra_links = (LakeFormationJobLink(),)
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        job: dict[str, Any] | CreateJobRequest,
        if_exists: IfExists = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.if_exists = choice_arg("if_exists", if_exists, _IF_EXISTS)

    def _request(self) -> CreateJobRequest:
        spec = self.job if isinstance(self.job, CreateJobRequest) else self.spec()
        return create_request(spec, self.hook.settings.instance_id)

    def execute(self, context: Context) -> str:
        mask_job_secrets(self.job)
        request = self._request()
        hook = self.hook
        existing = hook.find_job_by_name(request.type, request.name)
        if existing is not None:
            job_id = self._handle_existing(existing, request)
        else:
            try:
                job_id = hook.create_job(request).id
            except LakeFormationBadRequestError:
                # Lost a race with a concurrent run that created the same name: apply if_exists to it.
                existing = hook.find_job_by_name(request.type, request.name)
                if existing is None:
                    raise
                job_id = self._handle_existing(existing, request)
            else:
                self.log.info(
                    "created %s LakeFormation job %r: %s", request.type.value, request.name, shown(job_id)
                )
        self.push_xcoms(context, job_id=job_id, console_url=self.console_url(job_id))
        self.lineage_job_id = job_id  # OpenLineage: the job this task defined
        return job_id

    def _handle_existing(self, existing: Job, request: CreateJobRequest) -> str:
        what = f"a {request.type.value} LakeFormation job named {request.name!r}"
        if self.if_exists == "reuse":
            self.log.info(
                "%s already exists (%s): reusing it unchanged (if_exists='reuse')", what, shown(existing.id)
            )
            return existing.id
        if self.if_exists == "update":
            self.hook.update_job(existing.id, UpdateJobRequest.from_create(request), job_type=request.type)
            self.log.info(
                "%s already exists (%s): updated it to the given spec (if_exists='update')",
                what,
                shown(existing.id),
            )
            return existing.id
        raise LakeFormationError(
            f"{what} already exists: job id {existing.id}. Use if_exists='reuse' to use it as is "
            "or if_exists='update' to modify it to this spec"
        )


# ------------------------------------------------------------------------------------------ update


class LakeFormationUpdateJobOperator(_JobSpecTemplatingMixin, LakeFormationOperatorMixin, BaseOperator):
    """Modify a LakeFormation job (name, description, parameters).

    :param job_id: the job to modify (templated).
    :param job: the new spec (templated): a dict like ``UpdateJobRequest``, or a create-style dict or
        ``CreateJobRequest``; its ``type``, if given, is checked against the job's type.
    """

    template_fields: Sequence[str] = ("job_id", "job", "project_id", "instance_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"job": "json"}
    operator_extra_links = (LakeFormationJobLink(),)
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        job_id: str,
        job: dict[str, Any] | UpdateJobRequest | CreateJobRequest,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.job = job

    def execute(self, context: Context) -> str:
        mask_job_secrets(self.job)
        job_id = job_id_arg(self.job_id)
        # The hook validates the spec (and its type against the job's) before sending anything.
        if isinstance(self.job, CreateJobRequest):
            self.hook.update_job(job_id, UpdateJobRequest.from_create(self.job), job_type=self.job.type)
        elif isinstance(self.job, UpdateJobRequest):
            self.hook.update_job(job_id, self.job)
        else:
            self.hook.update_job(job_id, self.spec())
        self.log.info("updated LakeFormation job %s", job_id)
        self.push_xcoms(context, job_id=job_id, console_url=self.console_url(job_id))
        return job_id


# -------------------------------------------------------------------------------------------- list


class LakeFormationListJobsOperator(LakeFormationOperatorMixin, BaseOperator):
    """List the ids of the jobs of one type whose names match a pattern, e.g. to fan out over
    them with dynamic task mapping (``.expand(job_id=list_jobs.output)``).

    Returns the ids (the return-value XCom), in the service's order, each once.

    :param job_type: the jobs' type (templated): ``METADATA_MIGRATION``, ``PERMISSION_MIGRATION`` or
        ``METADATA_DISCOVERY``.
    :param name_pattern: the service's filter on names (templated): ``*`` any run of characters,
        ``?`` one character, against the whole name; without wildcards, names containing it.
        ``None``: every job of the type.
    :param status: only jobs in this status (templated), e.g. ``CREATED``; ``None``: any.
    """

    template_fields: Sequence[str] = ("job_type", "name_pattern", "status", "project_id", "instance_id")
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        job_type: JobType | str,
        name_pattern: str | None = None,
        status: JobStatus | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        list_args(job_type, name_pattern, status, rendered=False)
        self.job_type = job_type
        self.name_pattern = name_pattern
        self.status = status

    def execute(self, context: Context) -> list[str]:
        job_type, pattern, status = list_args(self.job_type, self.name_pattern, self.status)
        assert job_type is not None
        ids = list(
            dict.fromkeys(
                job.id for job in self.hook.iter_jobs(job_type, name_pattern=pattern, status=status)
            )
        )
        self.log.info(
            "%d %s LakeFormation job(s) match name_pattern %r and status %s",
            len(ids),
            job_type.value,
            pattern,
            status or "any",
        )
        return ids


# -------------------------------------------------------------------------------------- stop/delete


class LakeFormationStopJobOperator(_StopMixin, LakeFormationJobRefMixin, BaseOperator):
    """Stop the current run of a LakeFormation job (nothing to do if it is not running).

    Pushes ``job_status``: with ``wait_for_stop`` the status the job ended in; without it, the status
    read *after* the service accepted the stop (``STOPPED`` once applied; ``SUBMITTED``/``RUNNING``
    means the stop is accepted but not applied yet), or the status of a job that was not running.

    :param job_id: the job to stop (templated); or give ``job_name`` and ``job_type``.
    :param job_name: the exact name of the job to stop (templated), instead of ``job_id``.
    :param job_type: the job's type, with ``job_name`` (templated).
    :param wait_for_stop: wait until the job is no longer SUBMITTED/RUNNING.
    :param poll_interval: seconds between status reads while waiting (at least
        ``[lakeformation] min_poll_interval``, 1 s).
    :param timeout: longest wait in seconds (``None``: no limit); then LakeFormationTimeoutError.
    :param max_transient_errors: consecutive transient polling errors tolerated while waiting (0..1000).
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "job_type", "project_id", "instance_id")
    operator_extra_links = (LakeFormationJobLink(),)
    ui_color = "#ffe0e0"

    def __init__(
        self,
        *,
        job_id: str | None = None,
        job_name: str | None = None,
        job_type: JobType | str | None = None,
        wait_for_stop: bool = False,
        poll_interval: float = 10.0,
        timeout: float | None = 600.0,
        max_transient_errors: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_job_ref(job_id, job_name, job_type)
        self.wait_for_stop = wait_for_stop
        self.poll_interval = checked_poll_interval("poll_interval", poll_interval)
        self.timeout = None if timeout is None else positive(timeout, "timeout")
        self.max_transient_errors = transient_budget(max_transient_errors)

    def execute(self, context: Context) -> str:
        job_id = self.resolve_job_id()
        self.push_xcoms(context, job_id=job_id, console_url=self.console_url(job_id))
        status = self.stop_run(job_id, wait=self.wait_for_stop, timeout=self.timeout)
        self.push_xcoms(context, job_status=status)
        return job_id


class LakeFormationDeleteJobOperator(_StopMixin, LakeFormationJobRefMixin, BaseOperator):
    """Delete a LakeFormation job.

    :param job_id: the job to delete (templated); or give ``job_name`` and ``job_type``.
    :param job_name: the exact name of the job to delete (templated), instead of ``job_id``.
    :param job_type: the job's type, with ``job_name`` (templated).
    :param stop_if_running: stop a SUBMITTED/RUNNING job first and wait (up to ``stop_timeout``)
        until it has stopped; otherwise deleting a running job fails with a clear message.
    :param ignore_missing: succeed when the job does not exist, or no job has ``job_name``
        (idempotent clean-up tasks).
    :param poll_interval: seconds between status reads while waiting for the stop (at least
        ``[lakeformation] min_poll_interval``, 1 s).
    :param stop_timeout: longest wait for the stop in seconds; then LakeFormationTimeoutError.
    :param max_transient_errors: consecutive transient polling errors tolerated while waiting (0..1000).
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "job_type", "project_id", "instance_id")
    operator_extra_links = (LakeFormationJobLink(),)
    ui_color = "#ffe0e0"

    def __init__(
        self,
        *,
        job_id: str | None = None,
        job_name: str | None = None,
        job_type: JobType | str | None = None,
        stop_if_running: bool = False,
        ignore_missing: bool = False,
        poll_interval: float = 10.0,
        stop_timeout: float = 600.0,
        max_transient_errors: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_job_ref(job_id, job_name, job_type)
        self.stop_if_running = stop_if_running
        self.ignore_missing = ignore_missing
        self.poll_interval = checked_poll_interval("poll_interval", poll_interval)
        self.stop_timeout = positive(stop_timeout, "stop_timeout")
        self.max_transient_errors = transient_budget(max_transient_errors)

    def execute(self, context: Context) -> str | None:
        try:
            job_id = self.resolve_job_id()
        except LakeFormationJobNameError as err:
            if err.job_ids or not self.ignore_missing:
                raise
            self.log.info("%s: nothing to delete (ignore_missing)", err)
            return None
        self.push_xcoms(context, console_url=self.console_url(job_id))
        try:
            status = self.hook.get_job_status(job_id)
            if status in IN_PROGRESS_STATUSES:
                if not self.stop_if_running:
                    raise LakeFormationError(
                        f"LakeFormation job {job_id} is {status.value}: a running job cannot be deleted; "
                        "stop it first or pass stop_if_running=True"
                    )
                self.stop_run(job_id, wait=True, timeout=self.stop_timeout)
            self.hook.delete_job(job_id)
        except LakeFormationNotFoundError:
            if not self.ignore_missing:
                raise
            self.log.info("LakeFormation job %s does not exist: nothing to delete (ignore_missing)", job_id)
            return None
        self.log.info("deleted LakeFormation job %s", job_id)
        self.push_xcoms(context, job_id=job_id)
        return job_id


# ------------------------------------------------------------------------------------------- start


class LakeFormationStartJobOperator(
    ResumableJobMixin,
    LakeFormationLineageMixin,
    _StopMixin,
    LakeFormationJobWaitMixin,
    LakeFormationJobRefMixin,
    BaseOperator,
):
    """Start a LakeFormation job and (by default) wait until the run finishes.

    Never starts a second run by accident: if the job is already SUBMITTED/RUNNING it attaches to
    that run (logged), and on Airflow 3.3+ a retry after a worker crash reconnects to the run its
    earlier try started (``ResumableJobMixin``; the job id and the run's start time are kept in the
    task state store). The status is checked once right after starting, so a run that is already
    over never defers.

    :param job_id: the job to start (templated); or give ``job_name`` and ``job_type``.
    :param job_name: the exact name of the job to start (templated), instead of ``job_id``; the id
        found is the return value, the ``job_id`` XCom and the extra link's job.
    :param job_type: the job's type, with ``job_name`` (templated).
    :param mode: ``NORMAL`` or ``COMPARISON`` (templated; service default when ``None``).
    :param cascade: the start call's ``cascade`` flag (templated).
    :param wait_for_completion: wait for the run to end; ``False`` returns right after starting.
    :param poll_interval: seconds between status reads (sync loop and trigger; at least
        ``[lakeformation] min_poll_interval``, 1 s).
    :param timeout: longest wait in seconds (``None``: no limit). When it passes the job is stopped
        and the task fails with LakeFormationTimeoutError.
    :param deferrable: wait on the triggerer (default ``[operators] default_deferrable``).
    :param fail_on_partial_success: PARTIAL_SUCCESS fails the task (default) or counts as success.
    :param log_tail_lines: lines of the job log printed in the task log when the run fails.
    :param cancel_on_kill: stop the job when the task is killed (worker ``on_kill`` and trigger).
    :param max_transient_errors: consecutive transient polling errors tolerated while waiting (0..1000).
    :param if_running: when the job is already SUBMITTED/RUNNING at the start: ``"attach"``
        (default: wait on that run), ``"fail"`` (fail naming the run) or ``"restart"`` (stop it,
        wait until it has stopped, within ``timeout``, then start anew). A retry (try 2 or later)
        always attaches: its earlier try may have started that run.
    :param durable: keep the started run (job id and start time) in the task state store, so a retry
        after a worker crash or a lost resume reconnects to it instead of starting the job again
        (Airflow 3.3+; below 3.3 there is no store and it has no effect, ``False`` warns so).
    :param min_deferral_seconds: in deferrable mode, the trigger holds back the event that resumes
        the task until this many seconds after the deferral (0..300; ``None``: ``[lakeformation]
        min_deferral_seconds``, 10 s), so Airflow's scheduler has handled the deferring process's
        exit first (docs/operators.md, "Airflow's deferral race"). Costs a short wait at most this
        long; a longer one is not slowed.

    Lineage (docs/lineage.md): OpenLineage facets of the job (with the ``openlineage`` extra), and
    for a successful waited-for run, ``outlets`` get asset events with the job id and status in
    their extra (``AssetAlias`` outlets get the assets inferred from the job spec).
    """

    template_fields: Sequence[str] = (
        "job_id",
        "job_name",
        "job_type",
        "mode",
        "cascade",
        "project_id",
        "instance_id",
    )
    operator_extra_links = (LakeFormationJobLink(),)
    ui_color = "#e0ffe0"
    #: Task-state-store key of the run this task started: ``{"job_id": ..., "start_time": ...}``.
    external_id_key = "lakeformation_job_run"

    def __init__(
        self,
        *,
        job_id: str | None = None,
        job_name: str | None = None,
        job_type: JobType | str | None = None,
        mode: StartMode | str | None = None,
        cascade: bool | None = None,
        wait_for_completion: bool = True,
        poll_interval: float = 30.0,
        timeout: float | None = None,
        deferrable: bool = default_deferrable(),
        fail_on_partial_success: bool = True,
        log_tail_lines: int = 50,
        cancel_on_kill: bool = True,
        max_transient_errors: int = 10,
        if_running: IfRunning = "attach",
        durable: bool = True,
        min_deferral_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        if not durable:
            # Only a turned-off store reaches the mixin: below 3.3 its stand-in warns about any
            # explicit value, and the default must not warn on every parse.
            kwargs["durable"] = False
        super().__init__(**kwargs)
        self.set_job_ref(job_id, job_name, job_type)
        self.if_running = choice_arg("if_running", if_running, _IF_RUNNING)
        self.mode = mode
        self.cascade = cascade
        self.wait_for_completion = wait_for_completion
        self.poll_interval = checked_poll_interval("poll_interval", poll_interval)
        self.timeout = None if timeout is None else positive(timeout, "timeout")
        self.deferrable = deferrable
        self.fail_on_partial_success = fail_on_partial_success
        self.log_tail_lines = log_tail_lines
        self.cancel_on_kill = cancel_on_kill
        self.max_transient_errors = transient_budget(max_transient_errors)
        self._success, self._failure = resolve_states(fail_on_partial_success=fail_on_partial_success)
        self.min_deferral_seconds = checked_min_deferral(min_deferral_seconds)
        self._run: Job | None = None  # the run started or attached to by this try
        self._in_flight: str | None = None  # job to stop in on_kill
        self._finished = False

    # ------------------------------------------------------------------------------------ execute

    def execute(self, context: Context) -> str:
        self._start_args()  # invalid mode/cascade fail before any HTTP call
        job_id = self.lineage_job_id = self.resolve_job_id()
        self.push_xcoms(context, job_id=job_id, console_url=self.console_url(job_id))
        if not self.wait_for_completion:
            run = self._start_or_attach(context)
            self._in_flight = None  # not waiting: the run outlives this task
            self.push_xcoms(
                context, job_status=run.status, console_url=self.console_url(job_id, run.start_time)
            )
            return job_id
        # Both waits go through the mixin: a retry reconnects to (or re-defers on) the run an earlier
        # try started, or returns at once if that run already succeeded.
        result = self.execute_resumable(context)
        return str(result) if result is not None else job_id

    def _start_args(self) -> tuple[StartMode | None, bool | None]:
        return start_args(self.mode, self.cascade)

    def _start_or_attach(self, context: Context) -> Job:
        """Start the job; if a run is already SUBMITTED/RUNNING, do what ``if_running`` says."""
        job_id = self.job_id
        job = self.hook.get_job(job_id)
        if job.status in IN_PROGRESS_STATUSES:
            if self._keeps_running_run(job, context):
                return self._attach(job, "it is already running")
            job = self.hook.get_job(job_id)  # stopped: its start_time tells the next run from it
        mode, cascade = self._start_args()
        previous_start = job.start_time
        try:
            self.hook.start_job(job_id, mode=mode, cascade=cascade)
        except LakeFormationBadRequestError:
            job = self.hook.get_job(job_id)  # someone else started it between our read and our start?
            if job.status in IN_PROGRESS_STATUSES:
                return self._attach(job, "another run started it just now")
            raise
        job = self.hook.get_job(job_id)
        if job.status is not None and job.status.is_terminal and job.start_time == previous_start:
            # The service still reports the previous run: do not take its result for ours.
            job = job.model_copy(update={"status": JobStatus.SUBMITTED})
        kind = getattr(job.type, "value", job.type)
        self.log.info(
            "Started LakeFormation job %s (%s %r): %s, run start_time %s, mode %s, cascade %s",
            job_id,
            shown(kind or "type unknown"),
            shown(job.name),
            job.status.value if job.status else "status unknown",
            shown(job.start_time),
            mode.value if mode else "not given (service default)",
            "not given (service default)" if cascade is None else str(cascade).lower(),
        )
        self._run, self._in_flight = job, job_id
        return job

    def _keeps_running_run(self, job: Job, context: Context) -> bool:
        """``if_running`` for a run in progress: True to attach to it; after ``"restart"`` stopped
        it, False (start anew); raises for ``"fail"``. A retry always attaches (never a second run)."""
        try_number = getattr(context.get("ti"), "try_number", None)
        if self.if_running == "attach":
            return True
        if isinstance(try_number, int) and try_number > 1:
            self.log.warning(
                "if_running=%r applies to a first try: this is try %d, whose earlier try may have "
                "started the run in progress",
                self.if_running,
                try_number,
            )
            return True
        status = job.status.value if job.status else "unknown"
        if self.if_running == "fail":
            raise LakeFormationError(
                f"LakeFormation job {job.id} is already {status} (run started at {job.start_time}): "
                "not starting it (if_running='fail'); if_running='attach' waits on that run, "
                "'restart' stops it and starts anew"
            )
        self.log.warning(
            "LakeFormation job %s is already %s (run started at %s): stopping it to start anew "
            "(if_running='restart')",
            job.id,
            status,
            job.start_time,
        )
        self.stop_run(str(job.id), wait=True, timeout=self.timeout)
        return False

    def _attach(self, job: Job, why: str) -> Job:
        status = job.status.value if job.status else "unknown"
        self.log.warning(
            "LakeFormation job %s is %s (run started at %s): %s, so this task attaches to that run "
            "instead of starting another one",
            shown(job.id),
            status,
            shown(job.start_time),
            why,
        )
        self._run, self._in_flight = job, self.job_id
        return job

    def _defer(self, job_id: str) -> NoReturn:
        """Hand the wait to the trigger (whose ``on_kill`` stops the run)."""
        self._in_flight = None  # from here the trigger owns the run
        self.defer_wait(
            job_id,
            timeout=self.timeout,
            fail_on_partial_success=self.fail_on_partial_success,
            cancel_on_kill=self.cancel_on_kill,
        )

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, console_url: str | None = None
    ) -> str:
        """Resume after the trigger: success returns the job id, anything else fails the task.

        :param console_url: the console URL pushed before deferring (for the extra link).
        """
        self.lineage_job_id = (event or {}).get("job_id") or self.job_id
        kind, job_id, status = self.resume(context, event, self.job_ref, self._failure, console_url)
        self.lineage_job_id = job_id
        if kind == "timeout":
            self._stop_after_timeout(job_id, status)
        self._finished = True
        self.publish_run_assets(context, job_id)
        return job_id

    # ----------------------------------------------------------------------- waiting and finishing

    def _finish(self, context: Context, job_id: str, status: JobStatus) -> str:
        """Push the final status; fail (with the log tail) unless it counts as success."""
        self._in_flight = None
        self._finished = True
        self.push_xcoms(context, job_status=status)
        if status not in self._success:
            self.fail_job(job_id, status)
        self.log.info("LakeFormation job %s finished: %s", job_id, status.value)
        self.publish_run_assets(context, job_id)
        return job_id

    def _wait(self, job_id: str, initial: JobStatus | None) -> JobStatus:
        try:
            return self.wait_for_job(
                job_id,
                success_states=self._success,
                failure_states=self._failure,
                timeout=self.timeout,
                initial=initial,
            )
        except WaitTimedOut as err:
            self._stop_after_timeout(job_id, err.last_status)

    def _stop_after_timeout(self, job_id: str, last: JobStatus | None) -> NoReturn:
        self._in_flight = None
        try:
            self.hook.stop_job(job_id)
            outcome = "the job was asked to stop"
        except LakeFormationError as err:
            outcome = f"stopping the job failed: {err}"
        shown = last.value if last is not None else "unknown"
        url = self.console_url(job_id)
        self.log.warning("LakeFormation job %s timed out (%s): %s", job_id, shown, outcome)
        raise LakeFormationTimeoutError(
            f"LakeFormation job {job_id} did not finish within the timeout of {self.timeout} s "
            f"(last status {shown}); {outcome}" + (f". Console: {url}" if url else "")
        )

    def on_kill(self) -> None:
        """The task was killed while waiting on the worker: stop the run it started or attached to."""
        job_id = self._in_flight
        if job_id is None or not self.cancel_on_kill:
            return
        try:
            status = self.hook.get_job_status(job_id)
            if status in IN_PROGRESS_STATUSES or not status.is_known:  # an unknown one may be running
                self.hook.stop_job(job_id)
                self.log.info("LakeFormation job %s: stop requested because the task was killed", job_id)
        except LakeFormationError as err:
            self.log.warning("could not stop LakeFormation job %s on kill: %s", job_id, err)
        finally:
            self._in_flight = None

    # --------------------------------------------------------------------- ResumableJobMixin hooks

    @staticmethod
    def _run_ref(external_id: JsonValue) -> tuple[str | None, Any]:
        """``(job_id, start_time)`` of a stored run (a dict, or a bare job id from older versions)."""
        if isinstance(external_id, dict):
            job_id = external_id.get("job_id")
            return (job_id if isinstance(job_id, str) else None), external_id.get("start_time")
        if isinstance(external_id, str):
            return external_id, None
        return None, None

    def submit_job(self, context: Context) -> JsonValue:
        """Start (or attach); the stored id is the job, its run's start time and the task's
        ``max_tries`` (which a clear raises, so a cleared task does not take this run for its own)."""
        run = self._start_or_attach(context)
        return {"job_id": self.job_id, "start_time": run.start_time, "max_tries": _max_tries(context)}

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """Status of the run a previous try stored: the job's current run if it is that run, else
        the run's entry in the job history; ``UNKNOWN`` (so: start again) if neither holds."""
        job_id, start_time = self._run_ref(external_id)
        if job_id is None or job_id != self.job_id:
            return "UNKNOWN"
        # A clear raises max_tries (a retry does not): the stored run is then an earlier request's.
        # A value stored without the key (an older version) is judged by the run alone.
        current = _max_tries(context)
        if isinstance(external_id, dict) and external_id.get("max_tries", current) != current:
            self.log.info(
                "the task was cleared since it started LakeFormation job %s: starting it again", job_id
            )
            return "UNKNOWN"
        job = self.hook.get_job(job_id)
        if start_time is None or job.start_time is None or str(job.start_time) == str(start_time):
            return job.status.value if job.status else "UNKNOWN"
        try:
            page = self.hook.list_job_history(job_id, limit=50)
        except LakeFormationError as err:
            self.log.warning("could not read the run history of LakeFormation job %s: %s", job_id, err)
            return "UNKNOWN"
        for past in page.jobs:
            if str(past.start_time) == str(start_time) and past.status is not None:
                return past.status.value
        return "UNKNOWN"

    def is_job_active(self, status: str) -> bool:
        # A status this client does not know (not the "UNKNOWN" marker above) may be a run under
        # way: treat it as active so that the run is waited on, never started a second time.
        if status == "UNKNOWN":
            return False
        parsed = JobStatus(status)
        return parsed in IN_PROGRESS_STATUSES or not parsed.is_known

    def is_job_succeeded(self, status: str) -> bool:
        return status in {s.value for s in self._success}

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> str:  # type: ignore[override]
        """Wait for the run (here, or deferred to the trigger) and judge it; returns the job id (the
        mixin returns this on reconnect)."""
        job_id = self._run_ref(external_id)[0] or self.job_id
        run = self._run
        # The extra link opens the run this task started (or reconnected to), not whatever ran last.
        self.push_xcoms(context, console_url=self.console_url(job_id, self._run_ref(external_id)[1]))
        if run is None:  # reconnecting: an earlier try of this task started the run
            self.log.warning(
                "reconnected to the run of LakeFormation job %s started by an earlier try of this task "
                "(run started at %s); not starting it again",
                job_id,
                self._run_ref(external_id)[1],
            )
            self._in_flight = job_id
        initial = run.status if run is not None else None
        if initial is not None and job_outcome(initial, self._success, self._failure) is not None:
            if self.deferrable:
                self.log.info("LakeFormation job %s is already %s: not deferring", job_id, initial.value)
            status = initial
        elif self.deferrable:
            self._defer(job_id)  # the status was read once just now (after the start or by the mixin)
        else:
            status = self._wait(job_id, initial)
        return self._finish(context, job_id, status)

    def get_job_result(self, external_id: JsonValue, context: Context) -> str:
        job_id = self._run_ref(external_id)[0] or self.job_id
        if not self._finished:  # the run an earlier try started had already succeeded
            status = parse_status(self.get_job_status(external_id, context))
            self.log.info(
                "the run of LakeFormation job %s started by an earlier try already finished: %s",
                job_id,
                status.value,
            )
            self.push_xcoms(context, job_status=status)
            self._finished = True
            self.publish_run_assets(context, job_id)
        return job_id
