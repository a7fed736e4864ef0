"""The emulator ASGI application: a FastAPI app for the API, wrapped in a thin ASGI layer that
adds X-Request-Id, counts requests, injects faults and enforces authentication.

Handlers are ``async`` and call SQLite directly on the event loop: each call takes microseconds,
and running them one at a time makes every check-then-act step (start, stop, delete) atomic
within a process; ``BEGIN IMMEDIATE`` makes them atomic across worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from airflow_provider_lakeformation.models.jobs import (
    SECRET_FIELDS,
    CreateJobRequest,
    JobType,
    StartMode,
    UpdateJobRequest,
)
from airflow_provider_lakeformation.models.status import JobStatus

from . import console, tokens
from .config import CONFIG_ENV, RUNTIME_FIELDS, EmulatorConfig
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
from .errors import FAULT_CODES, UNAUTHORIZED, UNAUTHORIZED_MSG, ApiError, bad_request, conflict, error_body
from .signing import ALGORITHM, SignatureError, SigningKey, verify_request
from .stats import FLUSH_SECONDS, Stats
from .store import NameTakenError, Store

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
MAX_PAGE_OFFSET = 1000
MAX_PAGE_LIMIT = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(body), status_code=status, media_type="application/json", headers=headers)


def empty_response(status: int) -> Response:
    return Response(b"", status_code=status)


# ------------------------------------------------------------------------------------------ state


class Emulator:
    """What the handlers share: settings (changeable at run time), the store and the counters."""

    def __init__(self, config: EmulatorConfig, store: Store | None = None) -> None:
        self.base_config = config
        self.config = config
        self.store = store or Store(config.state_path)
        self.stats = Stats(self.store, shared=config.shared)
        self.started_ms = now_ms()

    def signing_key(self, access_key: str) -> SigningKey | None:
        cfg = self.config
        if hmac.compare_digest(access_key.encode(), cfg.ak.encode()):
            return SigningKey(cfg.ak, cfg.sk)
        if cfg.temp_ak and hmac.compare_digest(access_key.encode(), cfg.temp_ak.encode()):
            return SigningKey(cfg.temp_ak, cfg.temp_sk, cfg.security_token)
        return None

    def secret_digest(self, value: str) -> str:
        """What is stored instead of a secret: a keyed hash."""
        return "hmac-sha256:" + hmac.new(self.store.token_secret, value.encode(), hashlib.sha256).hexdigest()

    def reset(self) -> None:
        with self.store.write() as tx:
            tx.reset()
        self.stats.reset()
        self.config = self.base_config

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stats.flush()
        self.store.close()


# ------------------------------------------------------------------------------ request helpers


def _validation_problems(what: str, exc: ValidationError) -> str:
    """``invalid job: field.path: rule; ...`` (the provider's own wording, no input values).

    Imported here: the exceptions module imports Airflow (~1.5 s), which the emulator otherwise
    does not need; :func:`_warm_up` loads it in the background at start-up.
    """
    from airflow_provider_lakeformation.exceptions import LakeFormationSpecError

    return str(LakeFormationSpecError.from_validation_error(what, exc))


def _warm_up() -> None:
    with contextlib.suppress(Exception):
        import airflow_provider_lakeformation.exceptions  # noqa: F401


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise bad_request("the request body is empty: a JSON object is expected")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(
            f"malformed JSON body ({type(exc).__name__} at position {getattr(exc, 'pos', '?')})"
        ) from None
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object")
    return data


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name}: must be an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise bad_request(f"{name}: must be an integer from {low} to {high}")
    return value


def _status_param(request: Request) -> JobStatus | None:
    raw = request.query_params.get("status")
    if not raw:
        return None
    try:
        return JobStatus(raw.strip().upper())
    except ValueError:
        raise bad_request(f"status: must be one of {', '.join(s.value for s in JobStatus)}") from None


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


# --------------------------------------------------------------------------------------- the API


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
        data = await _json_body(request)
        try:
            spec = CreateJobRequest.model_validate(data)
        except ValidationError as exc:
            raise bad_request(_validation_problems("job", exc)) from None
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
        status = _status_param(request)
        offset = _int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
        limit = _int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
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
        data = await _json_body(request)
        try:
            spec = UpdateJobRequest.model_validate(data)
        except ValidationError as exc:
            raise bad_request(_validation_problems("job", exc)) from None
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
        status = _status_param(request)
        offset = _int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
        limit = _int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
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
        offset = _int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
        limit = _int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
        name = request.query_params.get("name")
        items = [i for i in [instance_wire()] if not name or name in i["name"]]
        return json_response(200, {"instances": items[offset : offset + limit], "total": len(items)})

    @router.get("/v1/{project_id}/instances/{instance_id}", name="get_instance")
    async def get_instance(project_id: str, instance_id: str) -> Response:
        scope_check(project_id, instance_id)
        return json_response(200, instance_wire())

    # IAM ----------------------------------------------------------------------------------------

    router.add_api_route("/v3/auth/tokens", _iam_handler(emu), methods=["POST"], name="iam_tokens")

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


def _iam_error(status: int, message: str) -> Response:
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
    return json_response(
        status, {"error": {"code": status, "message": message, "title": titles.get(status, "")}}
    )


def _iam_identity(data: Any) -> tuple[str, str, str, dict[str, Any]]:
    """(domain name, user name, password, project scope) from a password-auth body, or ValueError."""

    def obj(parent: Any, key: str, where: str) -> dict[str, Any]:
        value = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(value, dict):
            raise ValueError(f"{where}{key}: an object is required")
        return value

    def text(parent: dict[str, Any], key: str, where: str) -> str:
        value = parent.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}{key}: a non-empty string is required")
        return value

    auth = obj(data, "auth", "")
    identity = obj(auth, "identity", "auth.")
    methods = identity.get("methods")
    if methods != ["password"]:
        raise ValueError('auth.identity.methods: must be ["password"]')
    user = obj(obj(identity, "password", "auth.identity."), "user", "auth.identity.password.")
    domain = obj(user, "domain", "auth.identity.password.user.")
    project = obj(obj(auth, "scope", "auth."), "project", "auth.scope.")
    if not (isinstance(project.get("id"), str) and project["id"]) and not (
        isinstance(project.get("name"), str) and project["name"]
    ):
        raise ValueError("auth.scope.project: id or name is required")
    where = "auth.identity.password.user."
    return (
        text(domain, "name", where + "domain."),
        text(user, "name", where),
        text(user, "password", where),
        project,
    )


def _iam_handler(emu: Emulator) -> Callable[[Request], Awaitable[Response]]:
    async def iam_tokens(request: Request) -> Response:
        raw = await request.body()
        try:
            data = json.loads(raw)
            domain, user, password, project = _iam_identity(data)
        except (ValueError, UnicodeDecodeError) as exc:
            message = str(exc) if isinstance(exc, ValueError) and ":" in str(exc) else "malformed JSON body"
            return _iam_error(400, f"The request body is invalid: {message}")
        cfg = emu.config
        ok = (
            hmac.compare_digest(domain.encode(), cfg.domain_name.encode())
            and hmac.compare_digest(user.encode(), cfg.iam_user.encode())
            and hmac.compare_digest(password.encode(), cfg.iam_password.encode())
        )
        if not ok:
            emu.stats.add("auth_failures", "authfail:iam_password")
            return _iam_error(401, "The username or password is wrong.")
        if (
            project.get("id", cfg.project_id) != cfg.project_id
            or project.get("name", cfg.region) != cfg.region
        ):
            return _iam_error(400, "The project in auth.scope does not exist in this account.")
        stamp = now_ms()
        issued = tokens.issue(
            emu.store.token_secret,
            user=user,
            project_id=cfg.project_id,
            now_ms=stamp,
            ttl_ms=round(cfg.token_ttl * 1000),
        )
        emu.stats.add("iam_tokens_issued")

        def iso(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"

        domain_obj = {"id": hashlib.md5(cfg.domain_name.encode()).hexdigest(), "name": cfg.domain_name}
        body = {
            "token": {
                "expires_at": iso(issued.expires_ms),
                "issued_at": iso(issued.issued_ms),
                "methods": ["password"],
                "project": {"id": cfg.project_id, "name": cfg.region, "domain": domain_obj},
                "user": {
                    "id": hashlib.md5(cfg.iam_user.encode()).hexdigest(),
                    "name": cfg.iam_user,
                    "domain": domain_obj,
                    "password_expires_at": "",
                },
                "roles": [{"id": "0", "name": "te_admin"}],
                "catalog": [],
            }
        }
        return json_response(201, body, headers={"X-Subject-Token": issued.value})

    return iam_tokens


# ------------------------------------------------------------------------------------ admin API


class FaultSpec(BaseModel):
    """Body of ``POST /_emulator/faults``."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=400, le=599)
    count: int | None = Field(default=1, ge=1)
    retry_after: float | None = Field(default=None, ge=0)
    delay: float = Field(default=0.0, ge=0, le=600)
    drop: bool = False
    path_contains: str | None = None
    method: str | None = None
    after_processing: bool = False
    error_code: str | None = None
    error_msg: str | None = None


def build_admin(emu: Emulator) -> APIRouter:
    router = APIRouter(prefix="/_emulator")

    def fault_list() -> list[dict[str, Any]]:
        with emu.store.read() as tx:
            return [{"id": fid, **spec, "remaining": remaining} for fid, spec, remaining in tx.faults()]

    @router.post("/faults", name="admin_add_fault")
    async def add_fault(request: Request) -> Response:
        data = await _json_body(request)
        try:
            spec = FaultSpec.model_validate(data)
        except ValidationError as exc:
            raise bad_request(_validation_problems("fault", exc)) from None
        if spec.status is None and not spec.drop and spec.delay <= 0:
            raise bad_request("a fault needs a status, drop: true or a delay")
        if spec.status is not None and spec.drop:
            raise bad_request("status and drop exclude each other")
        body = spec.model_dump()
        if body["method"]:
            body["method"] = body["method"].upper()
        with emu.store.write() as tx:
            fault_id = tx.add_fault(body, spec.count)
        return json_response(201, {"id": fault_id, **body, "remaining": spec.count})

    @router.get("/faults", name="admin_list_faults")
    async def list_faults() -> Response:
        return json_response(200, {"faults": fault_list()})

    @router.delete("/faults", name="admin_clear_faults")
    async def clear_faults() -> Response:
        with emu.store.write() as tx:
            cleared = tx.clear_faults()
        return json_response(200, {"cleared": cleared})

    @router.get("/stats", name="admin_stats")
    async def stats() -> Response:
        return json_response(200, emu.stats.snapshot())

    @router.post("/reset", name="admin_reset")
    async def reset() -> Response:
        emu.reset()
        return json_response(200, {"reset": True})

    def runtime_config() -> dict[str, Any]:
        return {name: getattr(emu.config, name) for name in sorted(RUNTIME_FIELDS)}

    @router.get("/config", name="admin_get_config")
    async def get_config() -> Response:
        return json_response(200, runtime_config())

    @router.patch("/config", name="admin_patch_config")
    async def patch_config(request: Request) -> Response:
        data = await _json_body(request)
        unknown = sorted(set(data) - RUNTIME_FIELDS)
        if unknown:
            raise bad_request(
                f"not changeable at run time: {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(RUNTIME_FIELDS))})"
            )
        try:
            emu.config = emu.config.replace(**data)
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return json_response(200, runtime_config())

    @router.get("/info", name="admin_info")
    async def info() -> Response:
        cfg = emu.config
        fields = (
            "project_id", "instance_id", "region", "ak", "sk", "token", "iam_user", "iam_password",
            "domain_name", "temp_ak", "temp_sk", "security_token", "state_path",
        )  # fmt: skip
        body = {name: getattr(cfg, name) for name in fields}
        body["api_prefix"] = cfg.api_prefix
        body["workers_share_state"] = cfg.shared
        return json_response(200, body)

    @router.get("/health", name="admin_health")
    async def health() -> Response:
        return json_response(200, {"status": "ok"})

    return router


# ------------------------------------------------------------------------------- the ASGI layer


@dataclasses.dataclass
class _AuthFailure(Exception):
    status: int
    reason: str
    message: str


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        try:
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            value = raw_value.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _classify(path: str) -> str:
    if path.startswith("/_emulator/") or path == "/_emulator":
        return "admin"
    if path.startswith("/console/") or path == "/console":
        return "console"
    if path.startswith("/v3/"):
        return "iam"
    return "api"


def _retry_after(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class EmulatorApp:
    """The ASGI application uvicorn runs (see module docstring)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.fastapi = _build_fastapi(emulator)
        self._routes: list[BaseRoute] = list(self.fastapi.router.routes)
        self._flusher: threading.Thread | None = None
        self._stop_flusher = threading.Event()

    def close(self) -> None:
        self._stop_flusher.set()
        self.emulator.close()

    # lifespan
    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                threading.Thread(target=_warm_up, name="lf-emulator-warm-up", daemon=True).start()
                if self.emulator.config.shared and self._flusher is None:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name="lf-emulator-stats", daemon=True
                    )
                    self._flusher.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._stop_flusher.set()
                with contextlib.suppress(Exception):
                    self.emulator.stats.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _flush_loop(self) -> None:
        while not self._stop_flusher.wait(FLUSH_SECONDS):
            try:
                self.emulator.stats.flush()
            except Exception:  # pragma: no cover - keep flushing on transient SQLite errors
                log.exception("stats flush failed")

    def route_name(self, scope: Scope) -> str:
        partial = None
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "name", "unknown"))
            if match is Match.PARTIAL and partial is None:
                partial = str(getattr(route, "name", "unknown"))
        return partial or "unknown"

    def take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        store = self.emulator.store
        for fault_id, spec, _ in store.pending_faults():
            if spec.get("path_contains") and spec["path_contains"] not in path:
                continue
            if spec.get("method") and spec["method"] != method:
                continue
            with store.write() as tx:
                if tx.consume_fault(fault_id):
                    return spec
        return None

    def authenticate(self, scope: Scope, headers: dict[str, str], body: bytes) -> str:
        """The auth mode that let the request in, or :class:`_AuthFailure`."""
        emu = self.emulator
        authorization = headers.get("authorization")
        token = headers.get("x-auth-token")
        if authorization and authorization.split(" ", 1)[0] == ALGORITHM:
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
            try:
                key = verify_request(
                    method=scope["method"],
                    raw_path=raw_path.decode("latin-1"),
                    raw_query=scope.get("query_string", b"").decode("latin-1"),
                    headers=headers,
                    body=body,
                    lookup=emu.signing_key,
                    max_skew_seconds=emu.config.clock_skew,
                )
            except SignatureError as exc:
                raise _AuthFailure(
                    403, exc.reason, f"Incorrect IAM authentication information: {exc.message}"
                ) from None
            return "aksk_temporary" if key.security_token else "aksk"
        if token:
            if hmac.compare_digest(token.encode(), emu.config.token.encode()):
                return "token"
            result = tokens.check(
                emu.store.token_secret, token, project_id=emu.config.project_id, now_ms=now_ms()
            )
            if result is tokens.TokenCheck.VALID:
                return "iam_token"
            if result is tokens.TokenCheck.EXPIRED:
                raise _AuthFailure(401, "token_expired", "the token has expired")
            raise _AuthFailure(403, "invalid_token", "X-Auth-Token is invalid in the request")
        if authorization:
            raise _AuthFailure(
                401, "unsupported_authorization", f"Authorization scheme not supported (use {ALGORITHM})"
            )
        raise _AuthFailure(401, "missing_credentials", "no X-Auth-Token and no AK/SK signature")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        request_id = uuid.uuid4().hex.encode()
        path: str = scope["path"]
        kind = _classify(path)
        stats = self.emulator.stats

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
                if kind != "admin":  # counted before the client can see the answer
                    stats.add(f"status:{message['status']}")
            await send(message)

        if kind == "admin":
            await self._run_app(scope, receive, send_with_id)
            return
        stats.add("requests", f"route:{self.route_name(scope)}")
        await self._handle(scope, receive, send, send_with_id, kind)

    async def _handle(self, scope: Scope, receive: Receive, raw_send: Send, send: Send, kind: str) -> None:
        method: str = scope["method"]
        fault = None if kind == "console" else self.take_fault(method, scope["path"])
        if fault is not None:
            self.emulator.stats.add("faults_injected")
            if not fault["after_processing"]:
                if fault["delay"]:
                    await asyncio.sleep(fault["delay"])
                if fault["drop"]:
                    await _drop(raw_send)
                    return
                if fault["status"] is not None:
                    await _send_fault(send, fault)
                    return
                fault = None  # a delay only: now answer normally
        body = await _read_body(receive)
        if kind == "api":
            try:
                mode = self.authenticate(scope, _headers(scope), body)
            except _AuthFailure as failure:
                self.emulator.stats.add("auth_failures", f"authfail:{failure.reason}")
                await _send_auth_failure(send, failure)
                return
            self.emulator.stats.add(f"auth:{mode}")
        replay = _replay(body, receive)
        if fault is None:
            await self._run_app(scope, replay, send)
            return
        # after_processing: the request takes effect, then the client sees the fault
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self._run_app(scope, replay, capture)
        if fault["delay"]:
            await asyncio.sleep(fault["delay"])
        if fault["drop"]:
            await _drop(raw_send)
        elif fault["status"] is not None:
            await _send_fault(send, fault)
        else:
            for message in captured:
                await send(message)

    async def _run_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        started: list[bool] = []

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(True)
            await send(message)

        try:
            await self.fastapi(scope, receive, tracking_send)
        except Exception:
            log.exception("emulator error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_json(tracking_send, 500, error_body(500, "common.00000500", "internal error"))


def _build_fastapi(emu: Emulator) -> FastAPI:
    app = FastAPI(title="LakeFormation emulator", openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(build_api(emu))
    app.include_router(build_admin(emu))

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return json_response(exc.status, exc.body(), headers=exc.headers or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            err = ApiError(
                404,
                "response status exception, code: 404, reason: "
                f"no API at {request.method} {request.url.path}",
                solution_msg="Check the URL.",
            )
        else:
            err = ApiError(exc.status_code, f"{exc.detail} ({request.method} {request.url.path})")
        return json_response(err.status, err.body())

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors())
        return json_response(400, bad_request(problems).body())

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.error("emulator error on %s %s", request.method, request.url.path, exc_info=exc)
        return json_response(500, error_body(500, "common.00000500", "internal error"))

    return app


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = _dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*JSON_HEADERS, (b"content-length", str(len(payload)).encode()), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _send_fault(send: Send, fault: dict[str, Any]) -> None:
    status = int(fault["status"])
    code, message = FAULT_CODES.get(
        status, ("common.00000500" if status >= 500 else "common.01000001", "error")
    )
    headers: list[tuple[bytes, bytes]] = []
    if fault.get("retry_after") is not None:
        headers.append((b"retry-after", _retry_after(float(fault["retry_after"])).encode()))
    body = error_body(
        status,
        fault.get("error_code") or code,
        fault.get("error_msg") or message,
        "Retry the request later." if status >= 408 else None,
    )
    await _send_json(send, status, body, headers)


async def _send_auth_failure(send: Send, failure: _AuthFailure) -> None:
    if failure.status == 401:
        body = error_body(
            401, UNAUTHORIZED, UNAUTHORIZED_MSG, f"{failure.message}: authenticate and send again."
        )
    else:
        body = error_body(403, "403", failure.message)
    await _send_json(send, failure.status, body)


async def _drop(raw_send: Send) -> None:
    """Close the connection without sending a byte (uvicorn only: its send is bound to the cycle
    that owns the transport)."""
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: not running under uvicorn")
    transport.close()
    for _ in range(100):  # let connection_lost run so uvicorn sends nothing afterwards
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.001)


# ---------------------------------------------------------------------------------- factories


def create_app(config: EmulatorConfig | None = None, *, store: Store | None = None) -> EmulatorApp:
    """The ASGI application for ``config`` (defaults: in-memory state, documented credentials)."""
    return EmulatorApp(Emulator(config or EmulatorConfig(), store))


def app_from_env() -> EmulatorApp:
    """Factory for uvicorn worker processes: the config comes in ``LF_EMULATOR_CONFIG_JSON``."""
    raw = os.environ.get(CONFIG_ENV)
    return create_app(EmulatorConfig.from_json(raw) if raw else EmulatorConfig.from_env())


__all__ = ["Emulator", "EmulatorApp", "FaultSpec", "app_from_env", "create_app", "name_matcher"]
