"""Hook for Huawei Cloud LakeFormation jobs: the sync :class:`LakeFormationHook` (operators) and the
async :class:`AsyncLakeFormationClient` (trigger). Each API operation is declared once here as an
:class:`~._wire.Endpoint` (method, path, reply parser); the methods of both call it through the
transport's ``send`` (:mod:`.base`, which knows no endpoint).

Decisions where the vendor docs are silent (see also ``_settings``/``_retry``):

* **Status codes.** The documented success codes are 201 (create), 200 (get, list, modify,
  delete) and 202 (start, stop); any other 2xx is accepted as success too.
* **Non-idempotent calls never run twice.** ``start_job`` reads the job first; after an
  ambiguous failure (read timeout, connection dropped after sending, 408/429/5xx) it re-reads the
  job and treats "now SUBMITTED/RUNNING (and not before)" or "start_time/end_time changed" as
  "the start went through" instead of re-sending. ``create_job`` looks for a job with the same
  name after an ambiguous failure and returns it. A connection refused before sending is always
  re-sent. The same check runs once more if the retry budget runs out after an ambiguous failure.
* **stop_job** is re-sent freely (stopping twice is harmless). A 400 answer is treated as success
  when the job, read back, is not SUBMITTED/RUNNING (there is nothing to stop).
* **delete_job** is re-sent freely; a 404 on a retry after an ambiguous failure means the first
  delete went through and is treated as success.
* **IAM tokens** are cached process-wide per (IAM endpoint, domain, user, project, password hash);
  a 401 invalidates that token and the call is re-sent once with a fresh one (only 401: a 403 is a
  permission problem and is raised at once).
* **Listing.** The API's ``offset`` stops at 1000: :meth:`LakeFormationHook.iter_jobs` (and
  :meth:`AsyncLakeFormationClient.iter_jobs`) cannot reach jobs past offset 1000 + page_size and
  logs a warning when it had to stop there. Both page by the rules of :class:`~._paging.JobPager`: every job
  once (by id), stop at the first page that brings no job not seen yet (a server repeating a page or
  overstating ``total``), and refuse a page with more jobs than were asked for.
* **Console URL.** For ``*.myhuaweicloud.com`` endpoints the best-known console address
  ``https://console.huaweicloud.com/lakeformation/?region={region}#/lakeformation/instance/{instance_id}/jobs/{job_id}``;
  any other endpoint (the emulator) serves ``{endpoint}/console/jobs/{job_id}``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from airflow_provider_lakeformation.exceptions import (
    LakeFormationBadRequestError,
    LakeFormationError,
    LakeFormationNotFoundError,
    LakeFormationSpecError,
    shown,
)
from airflow_provider_lakeformation.hooks._connection import (
    connection_form_widgets,
    connection_verdict,
    ui_field_behaviour,
)
from airflow_provider_lakeformation.hooks._endpoints import (  # noqa: F401  (also read from here)
    CREATE_JOB,
    DELETE_JOB,
    ENDPOINTS,
    GET_INSTANCE,
    GET_JOB,
    GET_JOB_LOG,
    GET_JOB_STATE,
    GET_JOB_STATUS,
    LIST_INSTANCES,
    LIST_JOB_HISTORY,
    LIST_JOB_STATES,
    LIST_JOBS,
    START_JOB,
    STOP_JOB,
    UPDATE_JOB,
    history_query,
    jobs_query,
    parse_job_status,
)
from airflow_provider_lakeformation.hooks._paging import JobPager
from airflow_provider_lakeformation.hooks._retry import is_ambiguous, retry_sync
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings, RetrySettings
from airflow_provider_lakeformation.hooks._wire import Call, QueryValue
from airflow_provider_lakeformation.hooks.base import LakeFormationBaseAsyncClient, LakeFormationBaseHook
from airflow_provider_lakeformation.models.arguments import (
    MAX_PAGE_SIZE,
    check_page,
    create_request,
    job_id_arg,
    job_type_arg,
    parameter_blocks,
    path_segment_arg,
    spec_error,
    start_args,
    status_arg,
)
from airflow_provider_lakeformation.models.jobs import (
    CreateJobRequest,
    Instance,
    InstancePage,
    Job,
    JobLog,
    JobPage,
    JobState,
    JobStatePage,
    JobType,
    StartMode,
    UpdateJobRequest,
)
from airflow_provider_lakeformation.models.status import (
    FAILED_STATUSES,
    IN_PROGRESS_STATUSES,
    SUCCESSFUL_STATUSES,
    TERMINAL_STATUSES,
    JobStatus,
)

# The hook module's public names: the hook, its async client, the settings types its arguments
# take, and (Airflow convention, as in the dbt Cloud and Databricks providers) the status names.
__all__ = [
    "FAILED_STATUSES",
    "IN_PROGRESS_STATUSES",
    "SUCCESSFUL_STATUSES",
    "TERMINAL_STATUSES",
    "AsyncLakeFormationClient",
    "AuthType",
    "ConnectionSettings",
    "JobStatus",
    "LakeFormationHook",
    "RetrySettings",
]

log = logging.getLogger(__name__)

#: Best-known console address of a job on Huawei Cloud.
CONSOLE_URL = (
    "https://console.huaweicloud.com/lakeformation/?region={region}"
    "#/lakeformation/instance/{instance_id}/jobs/{job_id}"
)


def console_url(s: ConnectionSettings, job_id: str, run: str | int | None = None) -> str:
    """The console page of ``job_id`` (Huawei Cloud, or the emulator's own page). ``run`` (the
    run's ``start_time``) addresses one run where the page can (the emulator's ``?run=``)."""
    if s.is_cloud_endpoint:
        return CONSOLE_URL.format(
            region=quote(s.region or "", safe=""),
            instance_id=quote(s.instance_id, safe=""),
            job_id=quote(job_id, safe=""),
        )
    page = f"{s.endpoint}/console/jobs/{quote(job_id, safe='')}"
    return page if run in (None, "") else f"{page}?run={quote(str(run), safe='')}"


def started_since(before: Job, now: Job) -> bool:
    """Did a run start between two reads of a job?"""
    if now.start_time is not None and now.start_time != before.start_time:
        return True
    if now.end_time is not None and now.end_time != before.end_time:
        return True
    return now.status in IN_PROGRESS_STATUSES and before.status not in IN_PROGRESS_STATUSES


def _start_query(mode: StartMode | str | None, cascade: bool | None) -> dict[str, QueryValue]:
    parsed_mode, parsed_cascade = start_args(mode, cascade)
    query: dict[str, QueryValue] = {}
    if parsed_mode is not None:
        query["mode"] = parsed_mode.value
    if parsed_cascade is not None:
        query["cascade"] = parsed_cascade
    return query


def _not_running(job_id: str, status: JobStatus | None, exc: LakeFormationBadRequestError) -> bool:
    """After a 400 to a stop: True (logged) when the job is not SUBMITTED/RUNNING, so there was
    nothing to stop."""
    if status is None or status in IN_PROGRESS_STATUSES:
        return False
    log.info(
        "LakeFormation job %s is %s, not running: nothing to stop (%s)", job_id, status, shown(exc.error_msg)
    )
    return True


class LakeFormationHook(LakeFormationBaseHook):
    """Talk to the LakeFormation job API of one instance: one method per endpoint.

    :param lakeformation_conn_id: Airflow connection (conn_type ``lakeformation``).
    :param project_id: overrides the connection extra ``project_id``.
    :param instance_id: overrides the connection extra ``instance_id``.
    :param region: overrides the connection extra ``region``.
    :param retry: retry policy (``RetrySettings`` or a mapping of its fields); default from the
        connection extras ``max_retries``, ``retry_min_wait``, ``retry_max_wait``.
    :param timeout: seconds for connect and read, or a (connect, read) tuple; default from the
        connection extras ``connect_timeout`` (10) and ``read_timeout`` (60).
    :param logger_name: name of the hook's ``log`` (Airflow's ``BaseHook`` argument).
    """

    # ------------------------------------------------------------------ jobs

    def create_job(self, spec: CreateJobRequest | Mapping[str, Any]) -> Job:
        """Create a job (``POST /lf-jobs``, 201). Never creates the job twice: after an ambiguous
        failure it looks for a job of that name before re-sending.

        :param spec: a :class:`CreateJobRequest` or a mapping of its fields; a mapping is validated
            first, and a missing parameter-block ``instance_id`` is taken from the connection.
        :return: the created job.
        :raises LakeFormationSpecError: the spec is invalid (before any HTTP call).
        :raises LakeFormationApiError: the service refused the request.
        :raises LakeFormationConnectionError: the service could not be reached.
        """
        s = self.settings
        request = create_request(spec, s.instance_id)
        parameter_blocks(request.parameter, request.type, log)

        def reconcile() -> Job | None:
            job = self._find_job_by_name(request.type, request.name, single_attempt=True)
            if job is not None:
                log.warning(
                    "Create of LakeFormation job %r failed ambiguously, but job %s with that name now "
                    "exists: the create went through; not sending it again",
                    request.name,
                    shown(job.id),
                )
            return job

        job = self.send(CREATE_JOB, body=request.to_wire(), reconcile=reconcile)
        log.info("Created LakeFormation job %s (%s)", shown(job.id), request.name)
        return job

    def get_job(self, job_id: str) -> Job:
        """Read a job (``GET /lf-jobs/{job_id}``).

        :param job_id: the job.
        :return: the job.
        :raises LakeFormationNotFoundError: no such job.
        :raises LakeFormationApiError: any other refusal.
        """
        return self.send(GET_JOB, job_id=job_id_arg(job_id))

    def get_job_status(self, job_id: str) -> JobStatus:
        """The job's status, reading only ``status`` (string or ``{"status": ...}`` on the wire).

        :param job_id: the job.
        :return: its status.
        :raises LakeFormationApiError: the service refused the request.
        """
        return self.send(GET_JOB_STATUS, job_id=job_id_arg(job_id))

    def list_jobs(
        self,
        job_type: JobType | str,
        *,
        name_pattern: str | None = None,
        status: JobStatus | str | None = None,
        offset: int = 0,
        limit: int = 10,
        retry: RetrySettings | None = None,
    ) -> JobPage:
        """One page of ``GET /lf-jobs``.

        :param job_type: jobs of this type (required by the API).
        :param name_pattern: only names containing this text.
        :param status: only jobs in this status.
        :param offset: index of the first job, 0..1000.
        :param limit: page size, 1..1000.
        :param retry: a policy other than the connection's.
        :return: the page (``total`` and ``jobs``).
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        """
        query = jobs_query(job_type, name_pattern, status, offset, limit)
        return self.send(LIST_JOBS, query=query, retry=retry)

    def iter_jobs(
        self,
        job_type: JobType | str,
        *,
        name_pattern: str | None = None,
        status: JobStatus | str | None = None,
        page_size: int = 100,
    ) -> Iterator[Job]:
        """Every matching job, page by page. The API accepts ``offset`` up to 1000 only, so jobs
        beyond offset ``1000 + page_size`` cannot be reached (a warning is logged).

        :param job_type: jobs of this type.
        :param name_pattern: only names containing this text.
        :param status: only jobs in this status.
        :param page_size: jobs per request, 1..1000.
        :return: an iterator over the jobs (each job once, see :class:`JobPager`).
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        :raises LakeFormationResponseError: a page held more jobs than ``page_size``.
        """
        jt = job_type_arg(job_type)
        wire_status = status_arg(status)
        pager: JobPager[Job] = JobPager(page_size)

        def fetch(offset: int) -> JobPage:
            return self.list_jobs(
                jt, name_pattern=name_pattern, status=wire_status, offset=offset, limit=page_size
            )

        return self._iter_jobs(fetch, pager)

    @staticmethod
    def _iter_jobs(fetch: Callable[[int], JobPage], pager: JobPager[Job]) -> Iterator[Job]:
        while not pager.done:
            yield from pager.take(fetch(pager.offset))

    def _find_job_by_name(self, job_type: JobType, name: str, *, single_attempt: bool = False) -> Job | None:
        s = self.settings

        def fetch(offset: int) -> JobPage:
            if not single_attempt:
                return self.list_jobs(job_type, name_pattern=name, offset=offset, limit=100)
            query = jobs_query(job_type, name, None, offset, 100)
            return self.attempt(LIST_JOBS.call(s, query=query), LIST_JOBS.parse)

        return next((job for job in self._iter_jobs(fetch, JobPager(100)) if job.name == name), None)

    def find_job_by_name(self, job_type: JobType | str, name: str) -> Job | None:
        """The job of this type whose name is exactly ``name`` (listed with ``name_pattern``).

        :param job_type: the job's type.
        :param name: the exact name.
        :return: the job, or ``None``.
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        """
        if not isinstance(name, str) or not name:
            raise spec_error("arguments", "name: must be a non-empty job name")
        return self._find_job_by_name(job_type_arg(job_type), name)

    def _update_request(
        self, spec: UpdateJobRequest | CreateJobRequest | Mapping[str, Any]
    ) -> tuple[UpdateJobRequest, JobType | None]:
        if isinstance(spec, UpdateJobRequest):
            return spec, None
        if isinstance(spec, CreateJobRequest):
            return UpdateJobRequest.from_create(spec), spec.type
        if not isinstance(spec, Mapping):
            raise spec_error("job spec", "must be an UpdateJobRequest or a mapping")
        data = dict(spec)
        spec_type = job_type_arg(data.pop("type")) if data.get("type") is not None else None
        data.pop("type", None)
        try:
            request = UpdateJobRequest.model_validate(
                data, context={"default_instance_id": self.settings.instance_id}
            )
        except ValidationError as exc:
            raise LakeFormationSpecError.from_validation_error("job spec", exc) from None
        return request, spec_type

    def _job_type_for(self, job_id: str, wanted: JobType | None, spec_type: JobType | None) -> JobType | None:
        """The type the update's parameter block must match: argument, spec, or the job's own."""
        if wanted is not None and spec_type is not None and wanted is not spec_type:
            raise spec_error(
                "job spec", f"type: the spec says {spec_type.value} but job_type is {wanted.value}"
            )
        wanted = wanted or spec_type
        if wanted is None:
            current = self.get_job(job_id).type
            try:
                wanted = JobType(current) if current is not None else None
            except ValueError:
                log.debug("Job %s has type %r; skipping the parameter-block check", job_id, shown(current))
        return wanted

    def update_job(
        self,
        job_id: str,
        spec: UpdateJobRequest | CreateJobRequest | Mapping[str, Any],
        *,
        job_type: JobType | str | None = None,
    ) -> Job:
        """Modify a job (``PUT /lf-jobs/{job_id}``, 200).

        :param job_id: the job.
        :param spec: an :class:`UpdateJobRequest`, a :class:`CreateJobRequest` or a mapping (a
            create-style mapping with ``type`` is accepted).
        :param job_type: the job's type; else the spec's ``type``, else read with :meth:`get_job`.
            The parameter block must match it.
        :return: the modified job.
        :raises LakeFormationSpecError: the spec is invalid or of another type (before the PUT).
        :raises LakeFormationApiError: the service refused the request.
        """
        job_id = job_id_arg(job_id)
        request, spec_type = self._update_request(spec)
        wanted = self._job_type_for(
            job_id, job_type_arg(job_type) if job_type is not None else None, spec_type
        )
        if wanted is not None:
            parameter_blocks(request.parameter, wanted, log)
        return self.send(UPDATE_JOB, body=request.to_wire(), job_id=job_id)

    def delete_job(self, job_id: str) -> None:
        """Delete a job (``DELETE /lf-jobs/{job_id}``; a SUBMITTED/RUNNING job must be stopped
        first). A 404 on a retry after an ambiguous failure counts as deleted.

        :param job_id: the job.
        :raises LakeFormationNotFoundError: no such job.
        :raises LakeFormationBadRequestError: the job is running.
        """
        s = self.settings
        call = DELETE_JOB.call(s, job_id=job_id_arg(job_id))
        ambiguous = False

        def attempt() -> bool:
            nonlocal ambiguous
            try:
                return self.attempt(call, DELETE_JOB.parse)
            except LakeFormationNotFoundError:
                if ambiguous:
                    log.info("LakeFormation job %s is gone: the earlier delete attempt went through", job_id)
                    return True
                raise
            except Exception as exc:
                ambiguous = ambiguous or is_ambiguous(exc)
                raise

        retry_sync(attempt, policy=s.retry, what=call.what, logger=log)

    def start_job(
        self, job_id: str, *, mode: StartMode | str | None = None, cascade: bool | None = None
    ) -> None:
        """Start a run (``POST /lf-jobs/{job_id}/start``, 202). Reads the job first; after an
        ambiguous failure re-reads it and does not re-send when the run has started.

        :param job_id: the job.
        :param mode: ``NORMAL`` or ``COMPARISON`` (service default when ``None``).
        :param cascade: the start call's ``cascade`` flag.
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        :raises LakeFormationBadRequestError: the service refused (e.g. the job is running).
        """
        job_id = job_id_arg(job_id)
        query = _start_query(mode, cascade)
        s = self.settings
        before = self.get_job(job_id)
        read = GET_JOB.call(s, job_id=job_id)

        def reconcile() -> bool | None:
            now = self.attempt(read, GET_JOB.parse)
            if not started_since(before, now):
                return None
            log.warning(
                "Start of LakeFormation job %s failed ambiguously, but the job is now %s "
                "(start_time %s -> %s): the start went through; not sending it again",
                job_id,
                now.status,
                shown(before.start_time),
                shown(now.start_time),
            )
            return True

        self.send(START_JOB, query=query, reconcile=reconcile, job_id=job_id)
        log.debug("Start of LakeFormation job %s accepted", job_id)  # callers log the run's facts

    def stop_job(self, job_id: str) -> None:
        """Ask a run to stop (``POST /lf-jobs/{job_id}/stop``, 202). A 400 is treated as success
        when the job is not SUBMITTED/RUNNING (nothing to stop).

        :param job_id: the job.
        :raises LakeFormationBadRequestError: the service refused to stop a running job.
        """
        job_id = job_id_arg(job_id)
        try:
            self.send(STOP_JOB, job_id=job_id)
        except LakeFormationBadRequestError as exc:
            try:
                status = self.get_job(job_id).status
            except LakeFormationError:
                raise exc from None
            if not _not_running(job_id, status, exc):
                raise

    def get_job_log(self, job_id: str) -> JobLog:
        """The job's log (``GET /lf-jobs/{job_id}/log``).

        :param job_id: the job.
        :return: the log.
        :raises LakeFormationApiError: the service refused the request.
        """
        return self.send(GET_JOB_LOG, job_id=job_id_arg(job_id))

    def list_job_history(
        self,
        job_id: str,
        *,
        status: JobStatus | str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> JobPage:
        """Past runs of a job (``GET /lf-jobs/{job_id}/history``).

        :param job_id: the job.
        :param status: only runs that ended in this status.
        :param offset: index of the first run, 0..1000.
        :param limit: page size, 1..1000.
        :return: the page of runs.
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        """
        return self.send(
            LIST_JOB_HISTORY, query=history_query(status, offset, limit), job_id=job_id_arg(job_id)
        )

    # ------------------------------------------------------------------ instances

    def list_instances(self, *, name: str | None = None, offset: int = 0, limit: int = 10) -> InstancePage:
        """One page of instances (``GET /v1/{project_id}/instances``).

        :param name: only instances whose name contains this text.
        :param offset: index of the first instance, 0..1000.
        :param limit: page size, 1..1000.
        :return: the page.
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        """
        check_page(offset, limit)
        return self.send(LIST_INSTANCES, query={"name": name or None, "offset": offset, "limit": limit})

    def get_instance(self, instance_id: str | None = None, *, retry: RetrySettings | None = None) -> Instance:
        """One instance (``GET /v1/{project_id}/instances/{instance_id}``).

        :param instance_id: the instance (default: the connection's).
        :param retry: a policy other than the connection's.
        :return: the instance.
        :raises LakeFormationSpecError: ``instance_id`` breaks the id rule (before any HTTP call).
        :raises LakeFormationNotFoundError: no such instance.
        """
        s = self.settings
        wanted = s.instance_id if instance_id is None else path_segment_arg("instance_id", instance_id)
        return self.send(GET_INSTANCE, retry=retry, instance_id=wanted)

    # ------------------------------------------------------------------ misc

    def test_connection(self) -> tuple[bool, str]:
        """Check the settings and reach the instance (falling back to listing jobs); never raises.

        :return: ``(ok, message)`` for the Airflow UI's "Test" button (see ``hooks._connection``).
        """
        return connection_verdict(self)

    def job_console_url(self, job_id: str, run: str | int | None = None) -> str:
        """Where a person can see the job: the Huawei Cloud console for ``*.myhuaweicloud.com``
        endpoints (best-known URL layout), else ``{endpoint}/console/jobs/{job_id}`` (emulator),
        there with ``?run={start_time}`` to open one run.

        :param job_id: the job.
        :param run: the ``start_time`` of the run to open (the emulator's page highlights it).
        :return: the URL.
        """
        return console_url(self.settings, job_id_arg(job_id), run)

    def async_client(self) -> AsyncLakeFormationClient:
        """``async with hook.async_client() as api:`` the loop's shared aiohttp session for the block.

        :return: the async client (open it with ``async with``).
        """
        return AsyncLakeFormationClient(self)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Custom field behaviour (for Airflow versions that read it from the hook).

        :return: hidden fields, relabeling and placeholders.
        """
        return ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra-field widgets (for Airflow versions that read them from the hook). ``verify`` is
        a text field (true/false/CA path): an unticked checkbox would silently disable TLS checks.

        :return: the widgets by extra-field name.
        """
        return connection_form_widgets()


class AsyncLakeFormationClient(LakeFormationBaseAsyncClient):
    """Async LakeFormation client for triggers: ``async with hook.async_client() as api``. The
    endpoint methods a trigger needs, over the async transport.

    :param hook: the hook whose connection, overrides and IAM token cache are used.
    """

    def __init__(self, hook: LakeFormationHook) -> None:
        super().__init__(hook)
        #: The status request of the job last polled, built once (a trigger polls one job).
        self._status_job: str | None = None
        self._status_call: Call | None = None

    async def get_job(self, job_id: str) -> Job:
        """See :meth:`LakeFormationHook.get_job`.

        :param job_id: the job.
        :return: the job.
        """
        return await self.send(GET_JOB, job_id=job_id_arg(job_id))

    async def get_job_status(self, job_id: str) -> JobStatus:
        """The job's status (reads only ``status`` from the body: cheap enough to poll often).

        :param job_id: the job.
        :return: its status.
        """
        call = self._status_call
        if call is None or self._status_job != job_id:
            call = self._status_call = GET_JOB_STATUS.call(self.settings, job_id=job_id_arg(job_id))
            self._status_job = job_id
        return await self.execute(call, GET_JOB_STATUS.parse)

    async def get_job_state(self, job_id: str) -> JobState:
        """The job's id, type and status (the status feed's single read; nothing else is read; a
        reply without a status is refused).

        :param job_id: the job.
        :return: its state.
        """
        return await self.send(GET_JOB_STATE, job_id=job_id_arg(job_id))

    async def list_job_states(
        self, job_type: JobType | str, status: JobStatus | str, *, offset: int = 0, limit: int = 1000
    ) -> JobStatePage:
        """One page of the jobs of ``job_type`` in ``status``, reading only id, type and status of
        each (the status feed's list read).

        :param job_type: jobs of this type (required by the API).
        :param status: only jobs in this status.
        :param offset: index of the first job, 0..1000.
        :param limit: page size, 1..1000.
        :return: the page.
        """
        return await self.send(LIST_JOB_STATES, query=jobs_query(job_type, None, status, offset, limit))

    async def reachable_job_states(
        self, job_type: JobType | str, status: JobStatus | str
    ) -> tuple[list[JobState], int]:
        """Every job of ``job_type`` in ``status`` that the list can reach (pages of 1,000 at offsets
        0 and 1,000: the API's offset limit), each once, by the paging rules of :class:`JobPager`
        (no warning at the limit: the status feed reads the rest one by one).

        :param job_type: jobs of this type.
        :param status: jobs in this status.
        :return: the jobs' states and the number of requests made.
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        """
        pager: JobPager[JobState] = JobPager(MAX_PAGE_SIZE, quiet=True)
        states: list[JobState] = []
        requests = 0
        while not pager.done:
            requests += 1
            page = await self.list_job_states(job_type, status, offset=pager.offset, limit=MAX_PAGE_SIZE)
            states += pager.take(page)
        return states, requests

    async def get_job_log(self, job_id: str) -> JobLog:
        """See :meth:`LakeFormationHook.get_job_log`.

        :param job_id: the job.
        :return: the log.
        """
        return await self.send(GET_JOB_LOG, job_id=job_id_arg(job_id))

    async def list_jobs(
        self, job_type: JobType | str, *, name_pattern: str | None = None, offset: int = 0, limit: int = 100
    ) -> JobPage:
        """See :meth:`LakeFormationHook.list_jobs` (used by the job-run watcher).

        :param job_type: jobs of this type (required by the API).
        :param name_pattern: the service's name pattern.
        :param offset: index of the first job, 0..1000.
        :param limit: page size, 1..1000.
        :return: the page (``total`` and ``jobs``).
        """
        return await self.send(LIST_JOBS, query=jobs_query(job_type, name_pattern, None, offset, limit))

    def iter_jobs(
        self, job_type: JobType | str, *, name_pattern: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Job]:
        """See :meth:`LakeFormationHook.iter_jobs`: every matching job, page by page, each once
        (the paging rules of :class:`JobPager`); the arguments are checked before it is iterated.

        :param job_type: jobs of this type.
        :param name_pattern: the service's name pattern.
        :param page_size: jobs per request, 1..1000.
        :return: an async iterator over the jobs (``async for job in api.iter_jobs(...)``).
        :raises LakeFormationSpecError: an argument is invalid (before any HTTP call).
        """
        return self._iter_jobs(job_type_arg(job_type), name_pattern, JobPager(page_size))

    async def _iter_jobs(
        self, job_type: JobType, name_pattern: str | None, pager: JobPager[Job]
    ) -> AsyncIterator[Job]:
        while not pager.done:
            page = await self.list_jobs(
                job_type, name_pattern=name_pattern, offset=pager.offset, limit=pager.page_size
            )
            for job in pager.take(page):
                yield job

    async def list_job_history(self, job_id: str, *, offset: int = 0, limit: int = 10) -> JobPage:
        """See :meth:`LakeFormationHook.list_job_history`: a job's runs, newest first.

        :param job_id: the job.
        :param offset: index of the first run, 0..1000.
        :param limit: page size, 1..1000.
        :return: the page of runs.
        """
        query = history_query(None, offset, limit)
        return await self.send(LIST_JOB_HISTORY, query=query, job_id=job_id_arg(job_id))

    async def stop_job(self, job_id: str) -> None:
        """See :meth:`LakeFormationHook.stop_job`.

        :param job_id: the job.
        :raises LakeFormationBadRequestError: the service refused to stop a running job.
        """
        job_id = job_id_arg(job_id)
        try:
            await self.send(STOP_JOB, job_id=job_id)
        except LakeFormationBadRequestError as exc:
            try:
                status = await self.get_job_status(job_id)
            except LakeFormationError:
                raise exc from None
            if not _not_running(job_id, status, exc):
                raise

    def job_console_url(self, job_id: str) -> str:
        """See :meth:`LakeFormationHook.job_console_url`.

        :param job_id: the job.
        :return: the URL.
        """
        return console_url(self.settings, job_id_arg(job_id))
