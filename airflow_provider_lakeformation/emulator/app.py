"""The emulator ASGI application: a FastAPI app for the API (routers in ``jobs_api``,
``instances_api``, ``iam``, ``admin``, ``console_api``; authentication is a dependency of the API
routers, see ``gateway``), wrapped in a thin ASGI layer that adds X-Request-Id, counts requests
and injects faults.

Handlers are ``async`` and call SQLite directly on the event loop: each call takes microseconds,
and running them one at a time makes every check-then-act step (start, stop, delete) atomic
within a process; ``BEGIN IMMEDIATE`` makes them atomic across worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from . import admin, console_api, iam, instances_api, jobs_api
from .common import JSON_HEADERS, Emulator, dumps, json_response
from .config import CONFIG_ENV, EmulatorConfig
from .errors import FAULT_CODES, ApiError, bad_request, error_body
from .gateway import AuthFailure, check_identity, refuse, request_headers
from .stats import FLUSH_SECONDS
from .store import Store

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# ------------------------------------------------------------------------------- the ASGI layer


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
        # The routes our own routers declared (the objects FastAPI matches a request to), not
        # ``self.fastapi.router.routes``: how FastAPI lays out included routers is internal and
        # changed (0.16x wraps each include in one opaque route without a name).
        self._routes: list[BaseRoute] = [route for router in _ROUTERS for route in router.routes]
        self._flusher: threading.Thread | None = None
        self._stop_flusher = threading.Event()

    @property
    def routes(self) -> list[BaseRoute]:
        """The emulator's routes as its routers declared them (each with ``name``, ``path``, ``methods``)."""
        return list(self._routes)

    def close(self) -> None:
        self._stop_flusher.set()
        self.emulator.close()

    # lifespan
    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
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

    def take_fault(self, method: str, path: str, route: str) -> dict[str, Any] | None:
        store = self.emulator.store
        for fault_id, spec, _ in store.pending_faults():
            if spec.get("path_contains") and spec["path_contains"] not in path:
                continue
            if spec.get("route") and spec["route"] != route:
                continue
            if spec.get("method") and spec["method"] != method:
                continue
            with store.write() as tx:
                if tx.consume_fault(fault_id):
                    return spec
        return None

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
        route = self.route_name(scope)
        stats.add("requests", f"route:{route}")
        await self._handle(scope, receive, send, send_with_id, (kind, route))

    async def _handle(
        self, scope: Scope, receive: Receive, raw_send: Send, send: Send, where: tuple[str, str]
    ) -> None:
        kind, route = where
        fault = None if kind == "console" else self.take_fault(scope["method"], scope["path"], route)
        if fault is not None:
            self.emulator.stats.add("faults_injected")
            if not fault["after_processing"]:
                if await _answer_fault(fault, raw_send, send):
                    return
                fault = None  # a delay only: now answer normally
        if fault is None:
            await self._run_app(scope, receive, send)
            return
        # after_processing: the request takes effect, then the client sees the fault
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self._run_app(scope, receive, capture)
        if not await _answer_fault(fault, raw_send, send):
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


#: Every router of the emulator, in the order FastAPI tries them.
_ROUTERS = (jobs_api.router, instances_api.router, iam.router, admin.router, admin.writes, console_api.router)


def _build_fastapi(emu: Emulator) -> FastAPI:
    app = FastAPI(title="LakeFormation emulator", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.emulator = emu
    for router in _ROUTERS:
        app.include_router(router)
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal)
    return app


async def _api_error(request: Request, exc: ApiError) -> Response:
    return json_response(exc.status, exc.body(), headers=exc.headers or None)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """No such route (404) or method (405). On the API paths the gateway authenticates first, so
    a client without valid credentials learns nothing about which paths exist."""
    if _classify(request.url.path) == "api":
        emu: Emulator = request.app.state.emulator
        try:
            check_identity(emu, request_headers(request))
        except AuthFailure as failure:
            return await _api_error(request, refuse(emu, failure))
    if exc.status_code == 404:
        err = ApiError(
            404,
            f"response status exception, code: 404, reason: no API at {request.method} {request.url.path}",
            solution_msg="Check the URL.",
        )
    else:
        err = ApiError(exc.status_code, f"{exc.detail} ({request.method} {request.url.path})")
    return json_response(err.status, err.body())


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors())
    return json_response(400, bad_request(problems).body())


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("emulator error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response(500, error_body(500, "common.00000500", "internal error"))


async def _answer_fault(fault: dict[str, Any], raw_send: Send, send: Send) -> bool:
    """Wait the fault's delay, then drop or answer its status; False when it was a delay only."""
    if fault["delay"]:
        await asyncio.sleep(fault["delay"])
    if fault["drop"]:
        await _drop(raw_send)
        return True
    if fault["status"] is not None:
        await _send_fault(send, fault)
        return True
    return False


async def _send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = dumps(body)
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


__all__ = ["Emulator", "EmulatorApp", "app_from_env", "create_app"]
