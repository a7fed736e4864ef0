"""The LakeFormation job API as the hooks call it: one :class:`~._wire.Endpoint` declaration per
operation (method, path, reply parser, hook method), the parsers that read a reply another way than
one model, and the queries of the list endpoints, their arguments checked (sync and async alike)."""

from __future__ import annotations

from typing import Any

from airflow_provider_lakeformation.hooks._replies import (
    ModelReply,
    parse_model,
    parse_nothing,
    read_json,
    response_error,
)
from airflow_provider_lakeformation.hooks._wire import Call, Endpoint, QueryValue, RawResponse
from airflow_provider_lakeformation.models.arguments import check_page, job_type_arg, status_arg
from airflow_provider_lakeformation.models.jobs import (
    Instance,
    InstancePage,
    Job,
    JobLog,
    JobPage,
    JobState,
    JobStatePage,
    JobType,
)
from airflow_provider_lakeformation.models.status import JobStatus, parse_status

# ------------------------------------------------------------------------- reply parsers
# A reply holding one model is read by ``ModelReply(Model)`` (``hooks._replies``: status, JSON, error
# bodies, validation); a reply read another way has its own named parser here.


def parse_job_status(call: Call, resp: RawResponse) -> JobStatus:
    """The status of a job from a get-job response (``status`` as a string or ``{"status": ...}``),
    without validating the rest of the job: a plain lookup, cheap enough for thousands of polls a
    second.

    :param call: the request.
    :param resp: its reply.
    :return: the status.
    :raises LakeFormationApiError: a non-2xx reply.
    :raises LakeFormationResponseError: no readable status in a 2xx reply.
    """
    data = read_json(call, resp)
    if "status" not in data:
        raise response_error(call, resp, "status: Field required")
    try:
        return parse_status(data["status"])
    except ValueError as exc:
        raise response_error(call, resp, f"status: {exc}") from None


def parse_job_state(call: Call, resp: RawResponse) -> JobState:
    """Id, type and status of a job from a get-job response (the status feed's single read); a
    reply without a status is refused like :func:`parse_job_status` refuses it.

    :param call: the request.
    :param resp: its reply.
    :return: the state (``status`` set).
    :raises LakeFormationApiError: a non-2xx reply.
    :raises LakeFormationResponseError: no readable status in a 2xx reply.
    """
    state = parse_model(call, resp, JobState)
    if state.status is None:
        raise response_error(call, resp, "status: Field required")
    return state


# ----------------------------------------------------------------------------- endpoints
# One declaration per API operation (method, path under /v1/{project_id}, reply parser, hook
# method); the sync hook and the async client both call it through ``send``.

_JOBS = "instances/{instance_id}/lf-jobs"
_JOB = _JOBS + "/{job_id}"

CREATE_JOB = Endpoint("POST", _JOBS, ModelReply(Job), "create_job")
LIST_JOBS = Endpoint("GET", _JOBS, ModelReply(JobPage), "list_jobs")
GET_JOB = Endpoint("GET", _JOB, ModelReply(Job), "get_job")
#: The same route as :data:`GET_JOB`, reading only the status (a second view: not in ENDPOINTS).
GET_JOB_STATUS = Endpoint("GET", _JOB, parse_job_status)
#: The same routes as :data:`GET_JOB` / :data:`LIST_JOBS`, reading only id, type and status (the
#: status feed's views: not in ENDPOINTS).
GET_JOB_STATE = Endpoint("GET", _JOB, parse_job_state)
LIST_JOB_STATES = Endpoint("GET", _JOBS, ModelReply(JobStatePage))
UPDATE_JOB = Endpoint("PUT", _JOB, ModelReply(Job), "update_job")
DELETE_JOB = Endpoint("DELETE", _JOB, parse_nothing, "delete_job")
START_JOB = Endpoint("POST", _JOB + "/start", parse_nothing, "start_job")
STOP_JOB = Endpoint("POST", _JOB + "/stop", parse_nothing, "stop_job")
GET_JOB_LOG = Endpoint("GET", _JOB + "/log", ModelReply(JobLog), "get_job_log")
LIST_JOB_HISTORY = Endpoint("GET", _JOB + "/history", ModelReply(JobPage), "list_job_history")
LIST_INSTANCES = Endpoint("GET", "instances", ModelReply(InstancePage), "list_instances")
GET_INSTANCE = Endpoint("GET", "instances/{instance_id}", ModelReply(Instance), "get_instance")

_DECLARED: tuple[Endpoint[Any], ...] = (
    CREATE_JOB,
    LIST_JOBS,
    GET_JOB,
    UPDATE_JOB,
    DELETE_JOB,
    START_JOB,
    STOP_JOB,
    GET_JOB_LOG,
    LIST_JOB_HISTORY,
    LIST_INSTANCES,
    GET_INSTANCE,
)
#: Every LakeFormation API endpoint the hook calls, as (method, path template) -> hook method (from
#: the declarations above, plus the console page whose URL the hook builds). A test checks this
#: against the emulator's routes, so a new route needs a declaration, a hook method and a test.
ENDPOINTS: dict[tuple[str, str], str] = {
    **{(e.method, e.route): e.hook_method for e in _DECLARED},
    ("GET", "/console/jobs/{job_id}"): "job_console_url",
}


def jobs_query(
    job_type: JobType | str,
    name_pattern: str | None,
    status: JobStatus | str | None,
    offset: int,
    limit: int,
) -> dict[str, QueryValue]:
    """The query of :data:`LIST_JOBS`, its arguments checked (sync and async alike).

    :param job_type: jobs of this type (required by the API).
    :param name_pattern: only names containing this text.
    :param status: only jobs in this status.
    :param offset: index of the first job, 0..1000.
    :param limit: page size, 1..1000.
    :return: the query.
    :raises LakeFormationSpecError: an argument is invalid.
    """
    check_page(offset, limit)
    return {
        "type": job_type_arg(job_type).value,
        "name_pattern": name_pattern or None,
        "status": status_arg(status),
        "offset": offset,
        "limit": limit,
    }


def history_query(status: JobStatus | str | None, offset: int, limit: int) -> dict[str, QueryValue]:
    """The query of :data:`LIST_JOB_HISTORY`, its arguments checked (sync and async alike).

    :param status: only runs that ended in this status.
    :param offset: index of the first run, 0..1000.
    :param limit: page size, 1..1000.
    :return: the query.
    :raises LakeFormationSpecError: an argument is invalid.
    """
    check_page(offset, limit)
    return {"status": status_arg(status), "offset": offset, "limit": limit}
