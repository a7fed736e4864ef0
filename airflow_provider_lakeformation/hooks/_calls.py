"""Request builders and argument checks shared by the sync hook and the async client (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from airflow_provider_lakeformation.auth import build_password_auth_body
from airflow_provider_lakeformation.exceptions import LakeFormationConnectionError, LakeFormationSpecError
from airflow_provider_lakeformation.hooks._settings import ConnectionSettings, RetrySettings
from airflow_provider_lakeformation.hooks._wire import Call, QueryValue, RawResponse, build_call, parse_model
from airflow_provider_lakeformation.models.jobs import Job, JobPage, JobType, StartMode
from airflow_provider_lakeformation.models.status import IN_PROGRESS_STATUSES, JobStatus, parse_status

#: Largest ``offset`` the list APIs accept.
MAX_LIST_OFFSET = 1000
#: Largest ``limit`` the list APIs accept.
MAX_PAGE_SIZE = 1000
#: Best-known console address of a job on Huawei Cloud.
CONSOLE_URL = (
    "https://console.huaweicloud.com/lakeformation/?region={region}"
    "#/lakeformation/instance/{instance_id}/jobs/{job_id}"
)


# --------------------------------------------------------------------------- argument checks


def spec_error(what: str, problem: str) -> LakeFormationSpecError:
    return LakeFormationSpecError(what, [problem])


def job_id_arg(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id.strip() or job_id.strip() in (".", ".."):
        raise spec_error("arguments", "job_id: must be a non-empty job id")
    return job_id.strip()


def job_type_arg(value: JobType | str) -> JobType:
    try:
        return JobType(value.strip().upper() if isinstance(value, str) else value)
    except ValueError:
        known = ", ".join(t.value for t in JobType)
        raise spec_error("arguments", f"job_type: must be one of {known}") from None


def status_arg(value: JobStatus | str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_status(value).value
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise spec_error("arguments", f"status: must be one of {known}") from None


def check_page(offset: int, limit: int) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_LIST_OFFSET:
        raise spec_error("arguments", f"offset: must be an integer from 0 to {MAX_LIST_OFFSET}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise spec_error("arguments", f"limit: must be an integer from 1 to {MAX_PAGE_SIZE}")


def start_query(mode: StartMode | str | None, cascade: bool | None) -> dict[str, QueryValue]:
    query: dict[str, QueryValue] = {}
    if mode is not None:
        try:
            query["mode"] = StartMode(mode.strip().upper() if isinstance(mode, str) else mode).value
        except ValueError:
            raise spec_error("arguments", "mode: must be NORMAL or COMPARISON") from None
    if cascade is not None:
        if not isinstance(cascade, bool):
            raise spec_error("arguments", "cascade: must be true or false")
        query["cascade"] = cascade
    return query


# ----------------------------------------------------------------------------- call builders


def jobs_base(s: ConnectionSettings) -> str:
    return f"{s.api_root}/instances/{quote(s.instance_id, safe='~')}/lf-jobs"


def job_call(
    s: ConnectionSettings,
    method: str,
    job_id: str | None = None,
    action: str | None = None,
    *,
    query: Mapping[str, QueryValue] | None = None,
    body: Any = None,
) -> Call:
    segments = [seg for seg in (job_id, action) if seg is not None]
    return build_call(method, jobs_base(s), segments, query, body)


def iam_call(s: ConnectionSettings) -> Call:
    assert s.iam_endpoint
    assert s.user_name
    assert s.password
    assert s.domain_name
    body = build_password_auth_body(
        s.user_name, s.password.get_secret_value(), s.domain_name, s.project_id, s.project_name
    )
    return build_call("POST", f"{s.iam_endpoint}/v3/auth/tokens", body=body, auth=False)


def parse_job(call: Call, resp: RawResponse) -> Job:
    return parse_model(call, resp, Job)


def started_since(before: Job, now: Job) -> bool:
    """Did a run start between two reads of a job?"""
    if now.start_time is not None and now.start_time != before.start_time:
        return True
    if now.end_time is not None and now.end_time != before.end_time:
        return True
    return now.status in IN_PROGRESS_STATUSES and before.status not in IN_PROGRESS_STATUSES


def quick_policy(policy: RetrySettings) -> RetrySettings:
    """A short retry budget for interactive checks (test_connection)."""
    return RetrySettings(
        max_retries=min(1, policy.max_retries),
        min_wait=min(policy.min_wait, 1.0),
        max_wait=min(policy.max_wait, 2.0),
        retry_after_cap=0.0,
    )


def tls_error(s: ConnectionSettings, exc: BaseException) -> LakeFormationConnectionError:
    where = "the CA bundle " + repr(s.ca_bundle) if s.ca_bundle else "the system CA store"
    return LakeFormationConnectionError(
        f"TLS handshake with {s.endpoint} failed (certificate checked against {where}): "
        f"{type(exc).__name__}: {str(exc)[:300]}; set the connection extra ca_bundle to the CA that "
        "signed the server certificate (or verify=false for a test endpoint only)"
    )


def short_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def requests_not_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established (refused, DNS, connect timeout)."""
    import urllib3.exceptions as u3

    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return isinstance(reason, (u3.NewConnectionError, u3.ConnectTimeoutError))


def console_url(s: ConnectionSettings, job_id: str) -> str:
    if s.is_cloud_endpoint:
        return CONSOLE_URL.format(
            region=quote(s.region or "", safe=""),
            instance_id=quote(s.instance_id, safe=""),
            job_id=quote(job_id, safe=""),
        )
    return f"{s.endpoint}/console/jobs/{quote(job_id, safe='')}"


def parse_page(call: Call, resp: RawResponse) -> JobPage:
    return parse_model(call, resp, JobPage)
