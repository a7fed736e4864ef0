"""The job API as a FastAPI router: one function per route. Authentication (:mod:`.gateway`) and
the project/instance scope check are dependencies of the router; bodies are validated with the
emulator's own schema (:mod:`.schema`)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from .common import (
    MAX_PAGE_LIMIT,
    MAX_PAGE_OFFSET,
    Emu,
    Emulator,
    app_emulator,
    empty_response,
    int_param,
    json_body,
    json_response,
    now_ms,
    status_param,
    validation_problems,
)
from .engine import (
    JobRecord,
    MarkerError,
    RunRecord,
    job_status,
    job_to_wire,
    parse_markers,
    run_log,
    run_snapshot,
    run_to_wire,
)
from .errors import ApiError, bad_request, conflict
from .gateway import authenticate
from .matching import name_matcher
from .schema import (
    BLOCK_FOR_TYPE,
    JOB_TYPES,
    SECRET_FIELDS,
    START_MODES,
    CreateJobBody,
    UpdateJobBody,
    missing_block,
    wire_body,
)
from .store import NameTakenError

_M = TypeVar("_M", bound=BaseModel)
JOBS_PATH = "/v1/{project_id}/instances/{instance_id}/lf-jobs"
JOB_PATH = JOBS_PATH + "/{job_id}"


def check_scope(project_id: str, instance_id: str, emu: Emulator) -> None:
    """The path names this emulator's project and instance (else 404)."""
    check_project(project_id, emu)
    if instance_id != emu.config.instance_id:
        raise ApiError(
            404,
            f"response status exception, code: 404, reason: instance {instance_id} not found",
            solution_msg="Use the instance ID shown by GET /v1/{project_id}/instances.",
        )


def check_project(project_id: str, emu: Emulator) -> None:
    """The path names this emulator's project (else 404)."""
    if project_id != emu.config.project_id:
        raise ApiError(
            404,
            f"response status exception, code: 404, reason: project {project_id} not found",
            solution_msg="Use the project ID of the region (see the emulator ready line).",
        )


async def guard_instance_scope(request: Request) -> None:
    """Dependency of every job route: authenticated first, then the path names this emulator's
    project and instance (else 404). One dependency reading the path itself (see ``emulator_of``)."""
    await authenticate(request)
    params = request.path_params
    check_scope(params["project_id"], params["instance_id"], app_emulator(request))


router = APIRouter(dependencies=[Depends(guard_instance_scope)])

# ----------------------------------------------------------------------------------- helpers


def job_not_found(job_id: str) -> ApiError:
    return ApiError(
        404,
        f"response status exception, code: 404, reason: job {job_id} not found",
        solution_msg="Check the job ID; list jobs with GET .../lf-jobs?type=<type>.",
    )


def split_secrets(emu: Emulator, value: Any, path: str = "") -> tuple[Any, dict[str, str]]:
    """Remove secret fields from a wire body; return the clean body and ``{json.path: digest}``."""
    if isinstance(value, dict):
        clean: dict[str, Any] = {}
        found: dict[str, str] = {}
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else key
            if key in SECRET_FIELDS and isinstance(item, str):
                found[item_path] = emu.secret_digest(item)
                continue
            clean[key], nested = split_secrets(emu, item, item_path)
            found.update(nested)
        return clean, found
    if isinstance(value, list):
        items = [split_secrets(emu, item, f"{path}[{i}]") for i, item in enumerate(value)]
        merged: dict[str, str] = {}
        for _, nested in items:
            merged.update(nested)
        return [item for item, _ in items], merged
    return value, {}


def _path_exists(body: dict[str, Any], dotted: str) -> bool:
    """Whether the object that held secret ``dotted`` (``a.b.password``) still exists in ``body``."""
    node: Any = body
    for key in dotted.split(".")[:-1]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return isinstance(node, dict)


def _check_markers(description: str | None) -> None:
    try:
        parse_markers(description)
    except MarkerError as exc:
        raise bad_request(f"description: {exc}") from None


def _validated(model: type[_M], data: dict[str, Any]) -> _M:
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        raise bad_request(validation_problems("job", exc)) from None
    _check_markers(getattr(spec, "description", None))
    return spec


def _wire(emu: Emulator, job: JobRecord, run: RunRecord | None, stamp: int) -> dict[str, Any]:
    with emu.store.read() as tx:
        reported = tx.reported_statuses().get(job.id)
    return job_to_wire(job, run, stamp, emu.config.status_shape, reported)


def _find(tx: Any, job_id: str) -> tuple[JobRecord, RunRecord | None]:
    found = tx.job(job_id)
    if found is None:
        raise job_not_found(job_id)
    return found  # type: ignore[no-any-return]


def _name_taken(name: str, solution: str) -> ApiError:
    return conflict(f"job name {name} already exists", solution)


# -------------------------------------------------------------------------------------- routes


@router.post(JOBS_PATH, name="create_job")
async def create_job(request: Request, emu: Emu) -> Response:
    spec = _validated(CreateJobBody, await json_body(request))
    wire = wire_body(spec)
    problem = missing_block(spec.type, wire["parameter"])
    if problem:
        raise bad_request(f"invalid job: {problem}")
    parameter, secret_digests = split_secrets(emu, wire["parameter"])
    stamp = now_ms()
    job = JobRecord(
        id=str(uuid.uuid4()), name=spec.name, type=spec.type, description=spec.description,
        parameter=parameter, secrets=secret_digests, create_ms=stamp, update_ms=stamp,
    )  # fmt: skip
    try:
        with emu.store.write() as tx:
            tx.insert_job(job)
    except NameTakenError:
        raise _name_taken(spec.name, "Choose another name, or modify the existing job.") from None
    emu.stats.add("creates")
    return json_response(201, job_to_wire(job, None, stamp, emu.config.status_shape))


def _job_type_param(request: Request) -> str:
    raw_type = request.query_params.get("type")
    if not raw_type:
        raise bad_request(f"type: required query parameter, one of {', '.join(JOB_TYPES)}")
    if raw_type not in JOB_TYPES:
        raise bad_request(f"type: must be one of {', '.join(JOB_TYPES)}")
    return raw_type


@router.get(JOBS_PATH, name="list_jobs")
async def list_jobs(request: Request, emu: Emu) -> Response:
    job_type = _job_type_param(request)
    status = status_param(request)
    offset = int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
    limit = int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
    matches = name_matcher(request.query_params.get("name_pattern"))
    with emu.store.read() as tx:
        rows = tx.jobs_undecoded(job_type)  # thousands of jobs: decode only the page's
        reported = tx.reported_statuses()
    stamp = now_ms()
    shown = {job.id: reported.get(job.id) or job_status(run, stamp).value for job, run, _ in rows}
    selected = [
        row for row in rows
        if matches(row[0].name) and (status is None or shown[row[0].id] == status.value)
    ]  # fmt: skip
    page = selected[offset : offset + limit]
    shape = emu.config.status_shape
    jobs = [
        job_to_wire(replace(j, parameter=json.loads(raw)), r, stamp, shape, reported.get(j.id))
        for j, r, raw in page
    ]
    return json_response(200, {"total": len(selected), "jobs": jobs})


@router.get(JOB_PATH, name="get_job")
async def get_job(job_id: str, emu: Emu) -> Response:
    with emu.store.read() as tx:
        job, run = _find(tx, job_id)
    return json_response(200, _wire(emu, job, run, now_ms()))


def _modify(emu: Emulator, job: JobRecord, run: RunRecord | None, spec: UpdateJobBody, stamp: int) -> None:
    """Apply a validated PUT body to ``job`` (state and type checked here)."""
    parameter, new_secrets = split_secrets(emu, wire_body(spec)["parameter"])
    problem = missing_block(job.type, parameter)
    if problem:
        raise bad_request(problem)
    status = job_status(run, stamp)
    if status.is_in_progress and not emu.config.allow_modify_running:
        raise conflict(
            f"job {job.id} is {status.value}: a SUBMITTED or RUNNING job cannot be modified",
            "Stop the job or wait for it to finish, then modify it.",
        )
    # Secrets are never returned, so a read-modify-write client cannot resend them:
    # a secret left out keeps its stored value while its object is still there.
    kept = {
        path: digest for path, digest in job.secrets.items()
        if path not in new_secrets and _path_exists(parameter, path)
    }  # fmt: skip
    job.name = spec.name
    if spec.description is not None:
        job.description = spec.description
    job.parameter = parameter
    job.secrets = {**kept, **new_secrets}
    job.update_ms = stamp


@router.put(JOB_PATH, name="update_job")
async def update_job(request: Request, job_id: str, emu: Emu) -> Response:
    spec = _validated(UpdateJobBody, await json_body(request))
    stamp = now_ms()
    try:
        with emu.store.write() as tx:
            job, run = _find(tx, job_id)
            _modify(emu, job, run, spec, stamp)
            tx.update_job(job)
    except NameTakenError:
        raise _name_taken(spec.name, "Choose a name no other job uses.") from None
    return json_response(200, _wire(emu, job, run, stamp))


@router.delete(JOB_PATH, name="delete_job")
async def delete_job(job_id: str, emu: Emu) -> Response:
    with emu.store.write() as tx:
        _, run = _find(tx, job_id)
        status = job_status(run, now_ms())
        if status.is_in_progress:
            raise conflict(
                f"job {job_id} is {status.value}: "
                "a SUBMITTED or RUNNING job must be stopped before it is deleted",
                "Stop the job (POST .../stop), wait until it is STOPPED, then delete it.",
            )
        tx.delete_job(job_id)
    return empty_response(200)


def _start_params(request: Request) -> tuple[str | None, bool | None]:
    mode = request.query_params.get("mode")
    if mode is not None and mode not in START_MODES:
        raise bad_request(f"mode: must be one of {', '.join(START_MODES)}")
    raw_cascade = request.query_params.get("cascade")
    if raw_cascade is None:
        return mode, None
    if raw_cascade.lower() not in ("true", "false"):
        raise bad_request("cascade: must be true or false")
    return mode, raw_cascade.lower() == "true"


def _new_run(emu: Emulator, job: JobRecord, stamp: int, mode: str | None, cascade: bool | None) -> RunRecord:
    try:
        markers = parse_markers(job.description)
    except MarkerError:
        markers = parse_markers(None)
    cfg = emu.config
    submit = markers.submit if markers.submit is not None else cfg.submit_seconds
    duration = markers.duration if markers.duration is not None else cfg.run_seconds
    return RunRecord(
        job_id=job.id,
        run_no=job.last_run_no + 1,
        run_id=str(uuid.uuid4()),
        # start_time changes on every start, even two starts within one millisecond
        start_ms=max(stamp, (job.last_start_ms or 0) + 1),
        submit_ms=round(submit * 1000),
        run_ms=round(duration * 1000),
        outcome=markers.outcome or cfg.default_outcome,
        reason=markers.reason,
        mode=mode,
        cascade=cascade,
        snapshot=run_snapshot(job),
    )


@router.post(JOB_PATH + "/start", name="start_job")
async def start_job(request: Request, job_id: str, emu: Emu) -> Response:
    mode, cascade = _start_params(request)
    stamp = now_ms()
    with emu.store.write() as tx:
        job, previous = _find(tx, job_id)
        emu.stats.add(f"startreq:{job_id}")
        status = job_status(previous, stamp)
        if status.is_in_progress:
            raise conflict(
                f"job {job_id} is already {status.value}: it cannot be started again before it ends",
                "Wait for the current run to finish, or stop it first.",
            )
        tx.insert_run(_new_run(emu, job, stamp, mode, cascade))
    emu.stats.add(f"start:{job_id}")
    return empty_response(202)


@router.post(JOB_PATH + "/stop", name="stop_job")
async def stop_job(job_id: str, emu: Emu) -> Response:
    stamp = now_ms()
    with emu.store.write() as tx:
        _, run = _find(tx, job_id)
        status = job_status(run, stamp)
        if run is None or not status.is_in_progress:
            raise conflict(
                f"job {job_id} is {status.value}: only a SUBMITTED or RUNNING job can be stopped",
                "Nothing to stop: the job is not running.",
            )
        if run.stop_requested_ms is None:  # a second stop while stopping changes nothing
            run.stop_requested_ms = stamp
            run.stop_effective_ms = stamp + round(emu.config.stop_seconds * 1000)
            tx.stop_run(run)
    emu.stats.add(f"stop:{job_id}")
    return empty_response(202)


@router.get(JOB_PATH + "/log", name="get_job_log")
async def get_job_log(job_id: str, emu: Emu) -> Response:
    with emu.store.read() as tx:
        _, run = _find(tx, job_id)
    return json_response(200, {"log": run_log(run, now_ms())})


@router.get(JOB_PATH + "/history", name="list_job_history")
async def list_job_history(request: Request, job_id: str, emu: Emu) -> Response:
    status = status_param(request)
    offset = int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
    limit = int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
    with emu.store.read() as tx:
        job, _ = _find(tx, job_id)
        runs = tx.runs(job_id)
    stamp = now_ms()
    selected = [r for r in runs if status is None or r.status_at(stamp) == status]
    page = [run_to_wire(job, r, stamp, emu.config.status_shape) for r in selected[offset : offset + limit]]
    return json_response(200, {"total": len(selected), "jobs": page})


__all__ = ["BLOCK_FOR_TYPE", "check_project", "check_scope", "guard_instance_scope", "router"]
