"""The unauthenticated test API under ``/_emulator``: faults, stats, reset, config, info, health
and the status-injection knob. One function per route.

Admin input is validated like API input (strict JSON types, finite bounded numbers: a client
mistake is a 400, never a 500). Writes need ``Content-Type: application/json``: a web page open
in a developer's browser can send a cross-site form or ``text/plain`` POST without asking, but not
a JSON one, so it cannot reset the emulator or inject faults.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from .common import Emu, Emulator, json_body, json_response, validation_problems
from .config import MAX_SECONDS, RUNTIME_FIELDS
from .errors import ApiError, bad_request


async def require_json(request: Request) -> None:
    """Dependency of every admin write: 415 unless the body is declared as JSON."""
    declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared != "application/json":
        raise ApiError(
            415,
            "admin writes need Content-Type: application/json",
            solution_msg="Send the request with Content-Type: application/json.",
        )


_M = TypeVar("_M", bound=BaseModel)
router = APIRouter(prefix="/_emulator")
writes = APIRouter(prefix="/_emulator", dependencies=[Depends(require_json)])

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Text = Annotated[StrictStr, Field(max_length=1000)]


class _AdminBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)


class FaultSpec(_AdminBody):
    """Body of ``POST /_emulator/faults``."""

    status: Annotated[StrictInt, Field(ge=400, le=599)] | None = None
    count: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = 1
    retry_after: Annotated[Seconds, Field(le=3600)] | None = None
    delay: Annotated[Seconds, Field(le=600)] = 0.0
    drop: StrictBool = False
    path_contains: Text | None = None
    route: Annotated[StrictStr, Field(pattern=r"^[a-z_]{1,64}$")] | None = None
    method: Annotated[StrictStr, Field(pattern=r"^[A-Za-z]{1,16}$")] | None = None
    after_processing: StrictBool = False
    error_code: Text | None = None
    error_msg: Text | None = None


class ConfigPatch(_AdminBody):
    """Body of ``PATCH /_emulator/config`` (every field optional)."""

    submit_seconds: Annotated[Seconds, Field(le=MAX_SECONDS["submit_seconds"])] | None = None
    run_seconds: Annotated[Seconds, Field(le=MAX_SECONDS["run_seconds"])] | None = None
    stop_seconds: Annotated[Seconds, Field(le=MAX_SECONDS["stop_seconds"])] | None = None
    default_outcome: StrictStr | None = None
    status_shape: StrictStr | None = None
    token_ttl: Annotated[Seconds, Field(gt=0, le=MAX_SECONDS["token_ttl"])] | None = None
    clock_skew: Annotated[Seconds, Field(le=MAX_SECONDS["clock_skew"])] | None = None
    allow_modify_running: StrictBool | None = None


class ReportedStatus(_AdminBody):
    """Body of ``PUT /_emulator/jobs/{job_id}/status``: any printable text, known or not."""

    status: Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")]


def _parse(model: type[_M], what: str, data: dict[str, Any]) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad_request(validation_problems(what, exc)) from None


def fault_list(emu: Emulator) -> list[dict[str, Any]]:
    with emu.store.read() as tx:
        return [{"id": fid, **spec, "remaining": remaining} for fid, spec, remaining in tx.faults()]


def runtime_config(emu: Emulator) -> dict[str, Any]:
    return {name: getattr(emu.config, name) for name in sorted(RUNTIME_FIELDS)}


@writes.post("/faults", name="admin_add_fault")
async def add_fault(request: Request, emu: Emu) -> Response:
    spec = _parse(FaultSpec, "fault", await json_body(request))
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
async def list_faults(emu: Emu) -> Response:
    return json_response(200, {"faults": fault_list(emu)})


@writes.delete("/faults", name="admin_clear_faults")
async def clear_faults(emu: Emu) -> Response:
    with emu.store.write() as tx:
        cleared = tx.clear_faults()
    return json_response(200, {"cleared": cleared})


@router.get("/stats", name="admin_stats")
async def stats(emu: Emu) -> Response:
    return json_response(200, emu.stats.snapshot())


@writes.post("/reset", name="admin_reset")
async def reset(emu: Emu) -> Response:
    emu.reset()
    return json_response(200, {"reset": True})


@router.get("/config", name="admin_get_config")
async def get_config(emu: Emu) -> Response:
    return json_response(200, runtime_config(emu))


@writes.patch("/config", name="admin_patch_config")
async def patch_config(request: Request, emu: Emu) -> Response:
    data = await json_body(request)
    unknown = sorted(set(data) - RUNTIME_FIELDS)
    if unknown:
        raise bad_request(
            f"not changeable at run time: {', '.join(unknown)} (allowed: {', '.join(sorted(RUNTIME_FIELDS))})"
        )
    changes = _parse(ConfigPatch, "config", data).model_dump(exclude_none=True)
    try:
        emu.config = emu.config.replace(**changes)
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from None
    return json_response(200, runtime_config(emu))


@writes.put("/jobs/{job_id}/status", name="admin_report_status")
async def report_status(request: Request, job_id: str, emu: Emu) -> Response:
    """From now on get/list/create/modify answers show ``status`` for this job (until cleared or
    reset); the job's real life (start, stop, delete rules, log, history) carries on unchanged."""
    wanted = _parse(ReportedStatus, "status", await json_body(request))
    with emu.store.write() as tx:
        if tx.job(job_id) is None:
            raise ApiError(404, f"response status exception, code: 404, reason: job {job_id} not found")
        tx.set_reported_status(job_id, wanted.status)
    return json_response(200, {"job_id": job_id, "status": wanted.status})


@writes.delete("/jobs/{job_id}/status", name="admin_clear_status")
async def clear_status(job_id: str, emu: Emu) -> Response:
    with emu.store.write() as tx:
        tx.set_reported_status(job_id, None)
    return json_response(200, {"job_id": job_id, "status": None})


@router.get("/info", name="admin_info")
async def info(emu: Emu) -> Response:
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
