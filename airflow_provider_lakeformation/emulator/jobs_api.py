"""The job and instance API (and the console pages), as a FastAPI router."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from airflow_provider_lakeformation.models.jobs import (
    SECRET_FIELDS,
    CreateJobRequest,
    JobType,
    StartMode,
    UpdateJobRequest,
)

from . import console
from .common import (
    MAX_PAGE_LIMIT,
    MAX_PAGE_OFFSET,
    Emulator,
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
from .store import NameTakenError


def name_matcher(pattern: str | None) -> Callable[[str], bool]:
    """``*`` matches any run of characters, ``?`` one character (whole name); a pattern without
    wildcards matches names that contain it."""
    if not pattern:
        return lambda name: True
    if "*" not in pattern and "?" not in pattern:
        return lambda name: pattern in name
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S
    )
    return lambda name: regex.fullmatch(name) is not None


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


def build_api(emu: Emulator) -> APIRouter:
    router = APIRouter()
    jobs_path = "/v1/{project_id}/instances/{instance_id}/lf-jobs"

    def scope_check(project_id: str, instance_id: str | None = None) -> None:
        if project_id != emu.config.project_id:
            raise ApiError(
                404,
                f"response status exception, code: 404, reason: project {project_id} not found",
                solution_msg="Use the project ID of the region (see the emulator ready line).",
            )
        if instance_id is not None and instance_id != emu.config.instance_id:
            raise ApiError(
                404,
                f"response status exception, code: 404, reason: instance {instance_id} not found",
                solution_msg="Use the instance ID shown by GET /v1/{project_id}/instances.",
            )

    def job_not_found(job_id: str) -> ApiError:
        return ApiError(
            404,
            f"response status exception, code: 404, reason: job {job_id} not found",
            solution_msg="Check the job ID; list jobs with GET .../lf-jobs?type=<type>.",
        )

    def shape() -> str:
        return emu.config.status_shape

    # jobs ---------------------------------------------------------------------------------------

    @router.post(jobs_path, name="create_job")
    async def create_job(request: Request, project_id: str, instance_id: str) -> Response:
        scope_check(project_id, instance_id)
        data = await json_body(request)
        try:
            spec = CreateJobRequest.model_validate(data)
        except ValidationError as exc:
            raise bad_request(validation_problems("job", exc)) from None
        _check_markers(spec.description)
        wire = spec.to_wire()
        parameter, secret_digests = split_secrets(emu, wire["parameter"])
        stamp = now_ms()
        job = JobRecord(
            id=str(uuid.uuid4()),
            name=spec.name,
            type=spec.type.value,
            description=spec.description,
            parameter=parameter,
            secrets=secret_digests,
            create_ms=stamp,
            update_ms=stamp,
        )
        try:
            with emu.store.write() as tx:
                tx.insert_job(job)
        except NameTakenError:
            raise conflict(
                f"job name {spec.name} already exists",
                "Choose another name, or modify the existing job.",
            ) from None
        emu.stats.add("creates")
        return json_response(201, job_to_wire(job, None, stamp, shape()))

    @router.get(jobs_path, name="list_jobs")
    async def list_jobs(request: Request, project_id: str, instance_id: str) -> Response:
        scope_check(project_id, instance_id)
        raw_type = request.query_params.get("type")
        if not raw_type:
            raise bad_request(f"type: required query parameter, one of {', '.join(t.value for t in JobType)}")
        try:
            job_type = JobType(raw_type)
        except ValueError:
            raise bad_request(f"type: must be one of {', '.join(t.value for t in JobType)}") from None
        status = status_param(request)
        offset = int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
        limit = int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
        matches = name_matcher(request.query_params.get("name_pattern"))
        with emu.store.read() as tx:
            rows = tx.jobs(job_type.value)
        stamp = now_ms()
        selected = [
            (job, run)
            for job, run in rows
            if matches(job.name) and (status is None or job_status(run, stamp) == status)
        ]
        page = selected[offset : offset + limit]
        return json_response(
            200, {"total": len(selected), "jobs": [job_to_wire(j, r, stamp, shape()) for j, r in page]}
        )

    @router.get(jobs_path + "/{job_id}", name="get_job")
    async def get_job(project_id: str, instance_id: str, job_id: str) -> Response:
        scope_check(project_id, instance_id)
        with emu.store.read() as tx:
            found = tx.job(job_id)
        if found is None:
            raise job_not_found(job_id)
        return json_response(200, job_to_wire(found[0], found[1], now_ms(), shape()))

    @router.put(jobs_path + "/{job_id}", name="update_job")
    async def update_job(request: Request, project_id: str, instance_id: str, job_id: str) -> Response:
        scope_check(project_id, instance_id)
        data = await json_body(request)
        try:
            spec = UpdateJobRequest.model_validate(data)
        except ValidationError as exc:
            raise bad_request(validation_problems("job", exc)) from None
        if spec.description is not None:
            _check_markers(spec.description)
        wire = spec.to_wire()
        parameter, new_secrets = split_secrets(emu, wire["parameter"])
        stamp = now_ms()
        try:
            with emu.store.write() as tx:
                found = tx.job(job_id)
                if found is None:
                    raise job_not_found(job_id)
                job, run = found
                try:
                    spec.parameter.check_type(JobType(job.type))
                except ValueError as exc:
                    raise bad_request(str(exc)) from None
                status = job_status(run, stamp)
                if status.is_in_progress and not emu.config.allow_modify_running:
                    raise conflict(
                        f"job {job_id} is {status.value}: a SUBMITTED or RUNNING job cannot be modified",
                        "Stop the job or wait for it to finish, then modify it.",
                    )
                # Secrets are never returned, so a read-modify-write client cannot resend them:
                # a secret left out keeps its stored value while its object is still there.
                kept = {
                    path: digest
                    for path, digest in job.secrets.items()
                    if path not in new_secrets and _path_exists(parameter, path)
                }
                job.name = spec.name
                if spec.description is not None:
                    job.description = spec.description
                job.parameter = parameter
                job.secrets = {**kept, **new_secrets}
                job.update_ms = stamp
                tx.update_job(job)
        except NameTakenError:
            raise conflict(
                f"job name {spec.name} already exists", "Choose a name no other job uses."
            ) from None
        return json_response(200, job_to_wire(job, run, stamp, shape()))

    @router.delete(jobs_path + "/{job_id}", name="delete_job")
    async def delete_job(project_id: str, instance_id: str, job_id: str) -> Response:
        scope_check(project_id, instance_id)
        with emu.store.write() as tx:
            found = tx.job(job_id)
            if found is None:
                raise job_not_found(job_id)
            status = job_status(found[1], now_ms())
            if status.is_in_progress:
                raise conflict(
                    f"job {job_id} is {status.value}: "
                    "a SUBMITTED or RUNNING job must be stopped before it is deleted",
                    "Stop the job (POST .../stop), wait until it is STOPPED, then delete it.",
                )
            tx.delete_job(job_id)
        return empty_response(200)

    @router.post(jobs_path + "/{job_id}/start", name="start_job")
    async def start_job(request: Request, project_id: str, instance_id: str, job_id: str) -> Response:
        scope_check(project_id, instance_id)
        mode = request.query_params.get("mode")
        if mode is not None and mode not in {m.value for m in StartMode}:
            raise bad_request(f"mode: must be one of {', '.join(m.value for m in StartMode)}")
        raw_cascade = request.query_params.get("cascade")
        cascade: bool | None = None
        if raw_cascade is not None:
            if raw_cascade.lower() not in ("true", "false"):
                raise bad_request("cascade: must be true or false")
            cascade = raw_cascade.lower() == "true"
        stamp = now_ms()
        with emu.store.write() as tx:
            found = tx.job(job_id)
            if found is None:
                raise job_not_found(job_id)
            emu.stats.add(f"startreq:{job_id}")
            job, previous = found
            status = job_status(previous, stamp)
            if status.is_in_progress:
                raise conflict(
                    f"job {job_id} is already {status.value}: it cannot be started again before it ends",
                    "Wait for the current run to finish, or stop it first.",
                )
            try:
                markers = parse_markers(job.description)
            except MarkerError:
                markers = parse_markers(None)
            cfg = emu.config
            submit = markers.submit if markers.submit is not None else cfg.submit_seconds
            duration = markers.duration if markers.duration is not None else cfg.run_seconds
            run = RunRecord(
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
            tx.insert_run(run)
        emu.stats.add(f"start:{job_id}")
        return empty_response(202)

    @router.post(jobs_path + "/{job_id}/stop", name="stop_job")
    async def stop_job(project_id: str, instance_id: str, job_id: str) -> Response:
        scope_check(project_id, instance_id)
        stamp = now_ms()
        with emu.store.write() as tx:
            found = tx.job(job_id)
            if found is None:
                raise job_not_found(job_id)
            run = found[1]
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

    @router.get(jobs_path + "/{job_id}/log", name="get_job_log")
    async def get_job_log(project_id: str, instance_id: str, job_id: str) -> Response:
        scope_check(project_id, instance_id)
        with emu.store.read() as tx:
            found = tx.job(job_id)
        if found is None:
            raise job_not_found(job_id)
        return json_response(200, {"log": run_log(found[1], now_ms())})

    @router.get(jobs_path + "/{job_id}/history", name="list_job_history")
    async def list_job_history(request: Request, project_id: str, instance_id: str, job_id: str) -> Response:
        scope_check(project_id, instance_id)
        status = status_param(request)
        offset = int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
        limit = int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
        with emu.store.read() as tx:
            found = tx.job(job_id)
            runs = tx.runs(job_id) if found else []
        if found is None:
            raise job_not_found(job_id)
        stamp = now_ms()
        selected = [r for r in runs if status is None or r.status_at(stamp) == status]
        page = selected[offset : offset + limit]
        return json_response(
            200, {"total": len(selected), "jobs": [run_to_wire(found[0], r, stamp, shape()) for r in page]}
        )

    # instances ----------------------------------------------------------------------------------

    def instance_wire() -> dict[str, Any]:
        cfg = emu.config
        return {
            "id": cfg.instance_id,
            "name": cfg.instance_name,
            "description": "LakeFormation emulator instance",
            "status": "RUNNING",
            "region": cfg.region,
            "project_id": cfg.project_id,
            "enterprise_project_id": "0",
            "shared": False,
            "default_instance": True,
            "create_time": str(emu.started_ms),
        }

    @router.get("/v1/{project_id}/instances", name="list_instances")
    async def list_instances(request: Request, project_id: str) -> Response:
        scope_check(project_id)
        offset = int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
        limit = int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
        name = request.query_params.get("name")
        items = [i for i in [instance_wire()] if not name or name in i["name"]]
        return json_response(200, {"instances": items[offset : offset + limit], "total": len(items)})

    @router.get("/v1/{project_id}/instances/{instance_id}", name="get_instance")
    async def get_instance(project_id: str, instance_id: str) -> Response:
        scope_check(project_id, instance_id)
        return json_response(200, instance_wire())

    # console ------------------------------------------------------------------------------------

    @router.get("/console/jobs", name="console_jobs", response_class=HTMLResponse)
    async def console_jobs() -> HTMLResponse:
        with emu.store.read() as tx:
            rows = tx.jobs()
        stamp = now_ms()
        return HTMLResponse(console.jobs_page([job_to_wire(j, r, stamp, "string") for j, r in rows]))

    @router.get("/console/jobs/{job_id}", name="console_job", response_class=HTMLResponse)
    async def console_job(job_id: str) -> HTMLResponse:
        with emu.store.read() as tx:
            found = tx.job(job_id)
            runs = tx.runs(job_id) if found else []
        if found is None:
            return HTMLResponse(console.not_found_page(job_id), status_code=404)
        job, run = found
        stamp = now_ms()
        status = job_status(run, stamp)
        return HTMLResponse(
            console.job_page(
                job_to_wire(job, run, stamp, "string"),
                [run_to_wire(job, r, stamp, "string") for r in runs],
                run_log(run, stamp),
                in_progress=status.is_in_progress,
            )
        )

    return router
