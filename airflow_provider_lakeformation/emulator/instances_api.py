"""The instance API: the emulator has exactly one instance, always RUNNING."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .common import MAX_PAGE_LIMIT, MAX_PAGE_OFFSET, Emu, Emulator, app_emulator, int_param, json_response
from .gateway import authenticate
from .jobs_api import check_project, check_scope


async def guard_project(request: Request) -> None:
    """Dependency of every instance route: authenticated first, then the path names this emulator's
    project (else 404)."""
    await authenticate(request)
    check_project(request.path_params["project_id"], app_emulator(request))


router = APIRouter(dependencies=[Depends(guard_project)])


def instance_wire(emu: Emulator) -> dict[str, Any]:
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
async def list_instances(request: Request, emu: Emu) -> Response:
    offset = int_param(request, "offset", 0, 0, MAX_PAGE_OFFSET)
    limit = int_param(request, "limit", 10, 1, MAX_PAGE_LIMIT)
    name = request.query_params.get("name")
    items = [i for i in [instance_wire(emu)] if not name or name in i["name"]]
    return json_response(200, {"instances": items[offset : offset + limit], "total": len(items)})


@router.get("/v1/{project_id}/instances/{instance_id}", name="get_instance")
async def get_instance(project_id: str, instance_id: str, emu: Emu) -> Response:
    check_scope(project_id, instance_id, emu)
    return json_response(200, instance_wire(emu))
