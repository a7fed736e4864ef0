"""Hook for Huawei Cloud LakeFormation jobs: the sync :class:`LakeFormationHook` (operators) and the
async :class:`AsyncLakeFormationClient` (trigger), sharing settings, auth, retries and parsing.

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
* **Listing.** The API's ``offset`` stops at 1000: :meth:`LakeFormationHook.iter_jobs` cannot
  reach jobs past offset 1000 + page_size and logs a warning when it had to stop there.
* **Console URL.** For ``*.myhuaweicloud.com`` endpoints the best-known console address
  ``https://console.huaweicloud.com/lakeformation/?region={region}#/lakeformation/instance/{instance_id}/jobs/{job_id}``;
  any other endpoint (the emulator) serves ``{endpoint}/console/jobs/{job_id}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import requests
import requests.auth
from pydantic import ValidationError

from airflow_provider_lakeformation._compat import AirflowNotFoundException, BaseHook
from airflow_provider_lakeformation.auth import (
    IamToken,
    TokenCache,
    shared_token_cache,
    token_cache_key,
)
from airflow_provider_lakeformation.exceptions import (
    LakeFormationApiError,
    LakeFormationBadRequestError,
    LakeFormationConnectionError,
    LakeFormationError,
    LakeFormationNotFoundError,
    LakeFormationSpecError,
)
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.hooks._async import AsyncLakeFormationClient
from airflow_provider_lakeformation.hooks._calls import (
    CONSOLE_URL,
    MAX_LIST_OFFSET,
    MAX_PAGE_SIZE,
    check_page,
    console_url,
    iam_call,
    job_call,
    job_id_arg,
    job_type_arg,
    parse_job,
    parse_page,
    quick_policy,
    requests_not_sent,
    short_error,
    spec_error,
    start_query,
    started_since,
    status_arg,
    tls_error,
)
from airflow_provider_lakeformation.hooks._retry import is_ambiguous, retry_sync
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings, RetrySettings
from airflow_provider_lakeformation.hooks._wire import (
    USER_AGENT,
    Call,
    QueryValue,
    RawResponse,
    TransportError,
    auth_headers,
    build_call,
    parse_iam_token,
    parse_job_status,
    parse_model,
    parse_nothing,
)
from airflow_provider_lakeformation.models.jobs import (
    CreateJobRequest,
    Instance,
    InstancePage,
    Job,
    JobLog,
    JobPage,
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
    failed_statuses,
    parse_status,
    successful_statuses,
)

__all__ = [
    "CONSOLE_URL",
    "FAILED_STATUSES",
    "IN_PROGRESS_STATUSES",
    "MAX_LIST_OFFSET",
    "MAX_PAGE_SIZE",
    "SUCCESSFUL_STATUSES",
    "TERMINAL_STATUSES",
    "AsyncLakeFormationClient",
    "AuthType",
    "ConnectionSettings",
    "JobStatus",
    "LakeFormationHook",
    "RetrySettings",
    "failed_statuses",
    "parse_status",
    "successful_statuses",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


# ---------------------------------------------------------------------------------- the hook


class _KeepHeaders(requests.auth.AuthBase):
    """An explicit no-op auth: stops requests from replacing our X-Auth-Token/signature headers
    with credentials from ``~/.netrc`` (proxy variables are still honoured)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


_KEEP_HEADERS = _KeepHeaders()


class LakeFormationHook(BaseHook):
    """Talk to the LakeFormation job API of one instance.

    :param lakeformation_conn_id: Airflow connection (conn_type ``lakeformation``).
    :param project_id: overrides the connection extra ``project_id``.
    :param instance_id: overrides the connection extra ``instance_id``.
    :param region: overrides the connection extra ``region``.
    :param retry: retry policy (``RetrySettings`` or a mapping of its fields); default from the
        connection extras ``max_retries``, ``retry_min_wait``, ``retry_max_wait``.
    :param timeout: seconds for connect and read, or a (connect, read) tuple; default from the
        connection extras ``connect_timeout`` (10) and ``read_timeout`` (60).
    """

    conn_name_attr = "lakeformation_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "lakeformation"
    hook_name = "Huawei Cloud LakeFormation"

    def __init__(
        self,
        lakeformation_conn_id: str = default_conn_name,
        *,
        project_id: str | None = None,
        instance_id: str | None = None,
        region: str | None = None,
        retry: RetrySettings | Mapping[str, Any] | None = None,
        timeout: float | tuple[float, float] | None = None,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        self.lakeformation_conn_id = lakeformation_conn_id
        self.project_id = project_id
        self.instance_id = instance_id
        self.region = region
        self.retry = retry
        self.timeout = timeout
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._token_cache: TokenCache | None = None

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> LakeFormationHook:
        """A hook using ready ``settings`` (no Airflow connection lookup)."""
        hook = cls(settings.conn_id or cls.default_conn_name)
        hook._settings = settings
        return hook

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lakeformation_conn_id={self.lakeformation_conn_id!r})"

    # ------------------------------------------------------------------ settings

    def _settings_from(self, conn: Any, extra: Mapping[str, Any]) -> ConnectionSettings:
        return ConnectionSettings.from_connection(
            conn,
            extra=extra,
            project_id=self.project_id,
            instance_id=self.instance_id,
            region=self.region,
            retry=self.retry,
            timeout=self.timeout,
        )

    @property
    def settings(self) -> ConnectionSettings:
        """Validated settings from the connection and the overrides (looked up once, then cached).

        :raises LakeFormationSpecError: a required setting is missing or invalid.
        """
        if self._settings is None:
            conn = self.get_connection(self.lakeformation_conn_id)
            self._settings = self._settings_from(conn, conn.extra_dejson)
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """:attr:`settings`, looking the connection up with ``aget_connection`` (never blocking
        the event loop; falls back to ``sync_to_async(get_connection)`` on older Airflow)."""
        if self._settings is None:
            from asgiref.sync import sync_to_async

            getter = getattr(type(self), "aget_connection", None)
            if getter is not None:
                try:
                    conn = await getter(self.lakeformation_conn_id)
                except AirflowNotFoundException:
                    # Airflow 3.3's in-process supervisor (``airflow dags test`` running a trigger
                    # inline) has no async channel, so aget_connection misses connections stored
                    # in the metadata DB; the sync lookup in a worker thread finds them.
                    conn = await sync_to_async(self.get_connection)(self.lakeformation_conn_id)
            else:  # pragma: no cover - Airflow < 3.1
                conn = await sync_to_async(self.get_connection)(self.lakeformation_conn_id)
            aextra = getattr(conn, "aextra_dejson", None)
            extra = await aextra() if aextra is not None else conn.extra_dejson
            if self._settings is None:
                self._settings = self._settings_from(conn, extra)
        return self._settings

    def _iam_cache(self, s: ConnectionSettings) -> TokenCache:
        if self._token_cache is None:
            assert s.iam_endpoint
            assert s.domain_name
            assert s.user_name
            assert s.password
            key = token_cache_key(
                s.iam_endpoint,
                s.domain_name,
                s.user_name,
                s.project_id,
                s.password.get_secret_value(),
            )
            self._token_cache = shared_token_cache(key)
        return self._token_cache

    # ------------------------------------------------------------------ transport (sync)

    def get_conn(self) -> requests.Session:
        """The hook's ``requests.Session`` (created on first use, kept alive)."""
        if self._session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the HTTP session (a new one is created if the hook is used again)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> LakeFormationHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _token(self, s: ConnectionSettings) -> str | None:
        if s.auth_type is AuthType.TOKEN:
            assert s.token is not None
            return s.token.get_secret_value()
        if s.auth_type is AuthType.IAM:
            return self._iam_cache(s).get(self._fetch_iam_token)
        return None

    def _fetch_iam_token(self) -> IamToken:
        s = self.settings
        call = iam_call(s)
        log.info("Fetching an IAM token from %s for LakeFormation", s.iam_endpoint)
        return retry_sync(
            lambda: parse_iam_token(call, self._send(call, auth_headers(s, call, None), s)),
            policy=s.retry,
            what=call.what,
            logger=log,
        )

    def _send(self, call: Call, headers: dict[str, str], s: ConnectionSettings) -> RawResponse:
        try:
            resp = self.get_conn().request(
                call.method,
                call.url,
                data=call.body,
                headers=headers,
                timeout=s.timeout,
                verify=s.requests_verify,
                allow_redirects=False,
                auth=_KEEP_HEADERS,
            )
            body = resp.content
        except requests.exceptions.SSLError as exc:
            raise tls_error(s, exc) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError(f"connect timeout after {s.connect_timeout:g} s", sent=False) from exc
        except requests.exceptions.Timeout as exc:
            raise TransportError(f"no response within the read timeout of {s.read_timeout:g} s") from exc
        except requests.exceptions.ConnectionError as exc:
            if requests_not_sent(exc):
                raise TransportError(f"could not connect: {short_error(exc)}", sent=False) from exc
            raise TransportError(f"connection lost: {short_error(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError(short_error(exc)) from exc
        return RawResponse(resp.status_code, resp.reason or "", resp.headers, body)

    def _transmit(self, call: Call) -> RawResponse:
        """One attempt; with IAM auth a 401 drops the cached token and re-sends once."""
        s = self.settings
        token = self._token(s) if call.auth else None
        resp = self._send(call, auth_headers(s, call, token), s)
        if resp.status == 401 and token is not None and s.auth_type is AuthType.IAM:
            log.info(
                "LakeFormation %s: token rejected (401); fetching a new IAM token, re-sending once", call.what
            )
            self._iam_cache(s).invalidate(token)
            token = self._token(s)
            resp = self._send(call, auth_headers(s, call, token), s)
        return resp

    def _attempt(self, call: Call, parse: Callable[[Call, RawResponse], T]) -> T:
        return parse(call, self._transmit(call))

    def _execute(
        self,
        call: Call,
        parse: Callable[[Call, RawResponse], T],
        *,
        reconcile: Callable[[], T | None] | None = None,
        retry: RetrySettings | None = None,
    ) -> T:
        """Send ``call`` with retries. With ``reconcile`` (non-idempotent calls), an ambiguous
        failure is followed by ``reconcile()`` before anything is re-sent: a non-None result means
        the call took effect and is returned as is. If the call finally fails after any ambiguous
        failure (retries spent, or e.g. a 400 "already running" for a re-sent start whose first
        copy was processed late), ``reconcile()`` gets one last say."""
        policy = retry or self.settings.retry
        pending = False  # the last attempt failed ambiguously: check before re-sending
        ambiguous_seen = False

        def attempt() -> T:
            nonlocal pending, ambiguous_seen
            if pending and reconcile is not None:
                done = reconcile()
                if done is not None:
                    return done
                pending = False
            try:
                return self._attempt(call, parse)
            except Exception as exc:
                pending = reconcile is not None and is_ambiguous(exc)
                ambiguous_seen = ambiguous_seen or pending
                raise

        try:
            return retry_sync(attempt, policy=policy, what=call.what, logger=log)
        except LakeFormationError:
            if ambiguous_seen and reconcile is not None:
                try:
                    done = reconcile()
                except Exception:  # the original error is the one worth reporting
                    done = None
                if done is not None:
                    return done
            raise

    # ------------------------------------------------------------------ jobs

    def _create_request(self, spec: CreateJobRequest | Mapping[str, Any]) -> CreateJobRequest:
        if isinstance(spec, CreateJobRequest):
            return spec
        if not isinstance(spec, Mapping):
            raise spec_error("job spec", "must be a CreateJobRequest or a mapping")
        try:
            return CreateJobRequest.model_validate(
                dict(spec), context={"default_instance_id": self.settings.instance_id}
            )
        except ValidationError as exc:
            raise LakeFormationSpecError.from_validation_error("job spec", exc) from None

    def create_job(self, spec: CreateJobRequest | Mapping[str, Any]) -> Job:
        """Create a job (``POST /lf-jobs``, 201). A mapping is validated first (errors raise
        :class:`LakeFormationSpecError` before any HTTP call); a missing parameter-block
        ``instance_id`` is taken from the connection. Never creates the job twice."""
        s = self.settings
        request = self._create_request(spec)
        call = job_call(s, "POST", body=request.to_wire())

        def reconcile() -> Job | None:
            job = self._find_job_by_name(request.type, request.name, single_attempt=True)
            if job is not None:
                log.warning(
                    "Create of LakeFormation job %r failed ambiguously, but job %s with that name now "
                    "exists: the create went through; not sending it again",
                    request.name,
                    job.id,
                )
            return job

        job = self._execute(call, parse_job, reconcile=reconcile)
        log.info("Created LakeFormation job %s (%s)", job.id, request.name)
        return job

    def get_job(self, job_id: str) -> Job:
        """``GET /lf-jobs/{job_id}``."""
        return self._execute(job_call(self.settings, "GET", job_id_arg(job_id)), parse_job)

    def get_job_status(self, job_id: str) -> JobStatus:
        """The job's status (string or ``{"status": ...}`` on the wire)."""
        return self._execute(job_call(self.settings, "GET", job_id_arg(job_id)), parse_job_status)

    def list_jobs(
        self,
        job_type: JobType | str,
        *,
        name_pattern: str | None = None,
        status: JobStatus | str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> JobPage:
        """One page of ``GET /lf-jobs`` (``offset`` 0..1000, ``limit`` 1..1000)."""
        check_page(offset, limit)
        query: dict[str, QueryValue] = {
            "type": job_type_arg(job_type).value,
            "name_pattern": name_pattern or None,
            "status": status_arg(status),
            "offset": offset,
            "limit": limit,
        }
        return self._execute(job_call(self.settings, "GET", query=query), parse_page)

    def iter_jobs(
        self,
        job_type: JobType | str,
        *,
        name_pattern: str | None = None,
        status: JobStatus | str | None = None,
        page_size: int = 100,
    ) -> Iterator[Job]:
        """Every matching job, page by page. The API accepts ``offset`` up to 1000 only, so jobs
        beyond offset ``1000 + page_size`` cannot be reached (a warning is logged)."""
        check_page(0, page_size)
        jt = job_type_arg(job_type)
        status_arg(status)
        return self._iter_jobs(
            lambda off: self.list_jobs(
                jt, name_pattern=name_pattern, status=status, offset=off, limit=page_size
            )
        )

    @staticmethod
    def _iter_jobs(fetch: Callable[[int], JobPage]) -> Iterator[Job]:
        offset = 0
        while True:
            page = fetch(offset)
            yield from page.jobs
            offset += len(page.jobs)
            if not page.jobs or offset >= page.total:
                return
            if offset > MAX_LIST_OFFSET:
                log.warning(
                    "LakeFormation lists %d matching jobs but its API cannot page beyond offset %d: "
                    "only the first %d were read (narrow name_pattern/status to see the rest)",
                    page.total,
                    MAX_LIST_OFFSET,
                    offset,
                )
                return

    def _find_job_by_name(self, job_type: JobType, name: str, *, single_attempt: bool = False) -> Job | None:
        s = self.settings

        def fetch(offset: int) -> JobPage:
            if not single_attempt:
                return self.list_jobs(job_type, name_pattern=name, offset=offset, limit=100)
            query: dict[str, QueryValue] = {
                "type": job_type.value,
                "name_pattern": name,
                "offset": offset,
                "limit": 100,
            }
            return self._attempt(job_call(s, "GET", query=query), parse_page)

        return next((job for job in self._iter_jobs(fetch) if job.name == name), None)

    def find_job_by_name(self, job_type: JobType | str, name: str) -> Job | None:
        """The job of this type whose name is exactly ``name`` (listed with ``name_pattern``)."""
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

    def update_job(
        self,
        job_id: str,
        spec: UpdateJobRequest | Mapping[str, Any],
        *,
        job_type: JobType | str | None = None,
    ) -> Job:
        """Modify a job (``PUT /lf-jobs/{job_id}``, 200). The parameter block must match the job's
        type: ``job_type`` when given, else the spec's ``type`` key, else read with :meth:`get_job`.
        A spec given as a CreateJobRequest or a create-style mapping (with ``type``) is accepted."""
        job_id = job_id_arg(job_id)
        request, spec_type = self._update_request(spec)
        wanted = job_type_arg(job_type) if job_type is not None else None
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
                log.debug("Job %s has type %r; skipping the parameter-block check", job_id, current)
        if wanted is not None:
            try:
                request.parameter.check_type(wanted)
            except ValueError as exc:
                raise spec_error("job spec", str(exc)) from None
        call = job_call(self.settings, "PUT", job_id, body=request.to_wire())
        return self._execute(call, parse_job)

    def delete_job(self, job_id: str) -> None:
        """``DELETE /lf-jobs/{job_id}`` (a SUBMITTED/RUNNING job must be stopped first). A 404 on a
        retry after an ambiguous failure counts as deleted."""
        s = self.settings
        call = job_call(s, "DELETE", job_id_arg(job_id))
        ambiguous = False

        def attempt() -> bool:
            nonlocal ambiguous
            try:
                return self._attempt(call, parse_nothing)
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
        ambiguous failure re-reads it and does not re-send when the run has started."""
        job_id = job_id_arg(job_id)
        query = start_query(mode, cascade)
        s = self.settings
        before = self.get_job(job_id)
        read = job_call(s, "GET", job_id)
        call = job_call(s, "POST", job_id, "start", query=query)

        def reconcile() -> bool | None:
            now = self._attempt(read, parse_job)
            if started_since(before, now):
                log.warning(
                    "Start of LakeFormation job %s failed ambiguously, but the job is now %s "
                    "(start_time %s -> %s): the start went through; not sending it again",
                    job_id,
                    now.status,
                    before.start_time,
                    now.start_time,
                )
                return True
            return None

        self._execute(call, parse_nothing, reconcile=reconcile)
        log.info("Started LakeFormation job %s", job_id)

    def stop_job(self, job_id: str) -> None:
        """Ask a run to stop (``POST /lf-jobs/{job_id}/stop``, 202). A 400 is treated as success
        when the job is not SUBMITTED/RUNNING (nothing to stop)."""
        job_id = job_id_arg(job_id)
        try:
            self._execute(job_call(self.settings, "POST", job_id, "stop"), parse_nothing)
        except LakeFormationBadRequestError as exc:
            try:
                status = self.get_job(job_id).status
            except LakeFormationError:
                raise exc from None
            if status is None or status in IN_PROGRESS_STATUSES:
                raise
            log.info(
                "LakeFormation job %s is %s, not running: nothing to stop (%s)", job_id, status, exc.error_msg
            )

    def get_job_log(self, job_id: str) -> JobLog:
        """``GET /lf-jobs/{job_id}/log``."""
        call = job_call(self.settings, "GET", job_id_arg(job_id), "log")
        return self._execute(call, lambda c, r: parse_model(c, r, JobLog))

    def list_job_history(
        self,
        job_id: str,
        *,
        status: JobStatus | str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> JobPage:
        """Past runs: ``GET /lf-jobs/{job_id}/history``."""
        check_page(offset, limit)
        query: dict[str, QueryValue] = {"status": status_arg(status), "offset": offset, "limit": limit}
        call = job_call(self.settings, "GET", job_id_arg(job_id), "history", query=query)
        return self._execute(call, parse_page)

    # ------------------------------------------------------------------ instances

    def list_instances(self, *, name: str | None = None, offset: int = 0, limit: int = 10) -> InstancePage:
        """``GET /v1/{project_id}/instances``."""
        check_page(offset, limit)
        query: dict[str, QueryValue] = {"name": name or None, "offset": offset, "limit": limit}
        call = build_call("GET", self.settings.api_root, ["instances"], query)
        return self._execute(call, lambda c, r: parse_model(c, r, InstancePage))

    def get_instance(self, instance_id: str | None = None, *, retry: RetrySettings | None = None) -> Instance:
        """``GET /v1/{project_id}/instances/{instance_id}`` (default: the connection's instance)."""
        s = self.settings
        if instance_id is not None and not instance_id.strip():
            raise spec_error("arguments", "instance_id: must not be empty")
        call = build_call("GET", s.api_root, ["instances", instance_id or s.instance_id])
        return self._execute(call, lambda c, r: parse_model(c, r, Instance), retry=retry)

    # ------------------------------------------------------------------ misc

    def test_connection(self) -> tuple[bool, str]:
        """Check the settings and reach the instance (falling back to listing jobs); never raises."""
        try:
            s = self.settings
            quick = quick_policy(s.retry)
        except Exception as exc:
            return False, f"Invalid LakeFormation connection: {exc}"
        try:
            instance = self.get_instance(retry=quick)
        except LakeFormationSpecError as exc:
            return False, str(exc)
        except LakeFormationNotFoundError as exc:
            try:
                call = job_call(s, "GET", query={"type": JobType.METADATA_MIGRATION.value, "limit": 1})
                self._execute(call, parse_page, retry=quick)
            except Exception:
                return False, f"LakeFormation instance {s.instance_id} not found at {s.endpoint}: {exc}"
            return True, (
                f"Connected to LakeFormation at {s.endpoint}: the jobs API of instance {s.instance_id} "
                "answers (the instance itself could not be read)"
            )
        except LakeFormationApiError as exc:
            return False, f"LakeFormation at {s.endpoint} refused the request: {exc}"
        except LakeFormationConnectionError as exc:
            return False, f"Could not reach LakeFormation at {s.endpoint}: {exc}"
        except Exception as exc:
            return False, f"LakeFormation connection test failed: {type(exc).__name__}: {exc}"
        if instance.status and instance.status.upper() != "RUNNING":
            return False, (
                f"LakeFormation instance {instance.id} is {instance.status}, not RUNNING: it cannot run jobs"
            )
        label = f" ({instance.name})" if instance.name else ""
        return True, f"Connected to LakeFormation instance {instance.id}{label} at {s.endpoint}"

    def job_console_url(self, job_id: str) -> str:
        """Where a person can see the job: the Huawei Cloud console for ``*.myhuaweicloud.com``
        endpoints (best-known URL layout), else ``{endpoint}/console/jobs/{job_id}`` (emulator)."""
        return console_url(self.settings, job_id_arg(job_id))

    def async_client(self) -> AsyncLakeFormationClient:
        """``async with hook.async_client() as api:`` one aiohttp session for the block."""
        return AsyncLakeFormationClient(self)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Custom field behaviour (for Airflow versions that read it from the hook)."""
        from airflow_provider_lakeformation.get_provider_info import UI_FIELD_BEHAVIOUR

        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra-field widgets (for Airflow versions that read them from the hook). ``verify`` is
        a text field (true/false/CA path): an unticked checkbox would silently disable TLS checks."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, PasswordField, StringField

        from airflow_provider_lakeformation.get_provider_info import CONN_FIELDS

        widgets: dict[str, Any] = {}
        for name, field in CONN_FIELDS.items():
            schema = field.get("schema", {})
            types = schema.get("type", "string")
            types = [types] if isinstance(types, str) else list(types)
            label = lazy_gettext(field["label"])
            description = field.get("description")
            if field.get("sensitive") or schema.get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=description)
            elif "integer" in types:
                widgets[name] = IntegerField(label, widget=BS3TextFieldWidget(), description=description)
            else:
                widgets[name] = StringField(label, widget=BS3TextFieldWidget(), description=description)
        return widgets
