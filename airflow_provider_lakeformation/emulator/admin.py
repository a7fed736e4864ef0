"""The unauthenticated test API under ``/_emulator``: faults, stats, reset, config, info."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .common import (
    Emulator,
    json_body,
    json_response,
    validation_problems,
)
from .config import RUNTIME_FIELDS
from .errors import bad_request


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
        data = await json_body(request)
        try:
            spec = FaultSpec.model_validate(data)
        except ValidationError as exc:
            raise bad_request(validation_problems("fault", exc)) from None
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
        data = await json_body(request)
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
