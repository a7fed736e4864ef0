"""State shared by the handlers and small request/response helpers."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from .config import EmulatorConfig
from .errors import ApiError, bad_request
from .schema import problems
from .signing import SigningKey
from .stats import Stats
from .status import Status
from .store import Store

JSON_HEADERS = [(b"content-type", b"application/json")]
MAX_PAGE_OFFSET = 1000
MAX_PAGE_LIMIT = 1000
#: Largest request body read (a job spec is a few kB): larger bodies get 413 unread.
MAX_BODY_BYTES = 1024 * 1024
#: Deepest JSON nesting accepted in a request body (a job spec nests 5 levels).
MAX_JSON_DEPTH = 32


def now_ms() -> int:
    return int(time.time() * 1000)


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)


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


def app_emulator(request: Request) -> Emulator:
    """The emulator behind the app that got ``request``."""
    emu: Emulator = request.app.state.emulator
    return emu


async def emulator_of(request: Request) -> Emulator:
    """The emulator behind this app (a FastAPI dependency). Dependencies here are ``async`` (FastAPI
    runs a plain ``def`` one in a worker thread: a thread hop per request) and few (each one is a
    node whose parameters FastAPI analyses on every request)."""
    return app_emulator(request)


#: A route parameter receiving the emulator: ``emu: Emu``.
Emu = Annotated[Emulator, Depends(emulator_of)]


def validation_problems(what: str, exc: ValidationError) -> str:
    """``invalid job: field.path: rule; ...`` (no input values)."""
    return f"invalid {what}: " + "; ".join(problems(exc))


def too_large() -> ApiError:
    return ApiError(
        413,
        f"request entity too large: the body exceeds {MAX_BODY_BYTES} bytes",
        solution_msg="Send a smaller body.",
    )


async def body_bytes(request: Request) -> bytes:
    """The request body, read at most once and at most :data:`MAX_BODY_BYTES` long (else 413)."""
    cached = getattr(request.state, "raw_body", None)
    if cached is not None:
        return bytes(cached)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    request.state.raw_body = body
    return body


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_tree(value: Any) -> None:
    """ValueError when parsed JSON nests deeper than :data:`MAX_JSON_DEPTH` or holds text that is
    not UTF-8 (a lone surrogate escape such as ``"\\ud800"``); walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be valid UTF-8 (a lone surrogate escape is not)") from None
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def parse_json(raw: bytes) -> Any:
    """Parse a request body: ValueError (with a reason fit for a 400) for anything but plain JSON
    nested at most :data:`MAX_JSON_DEPTH` deep (NaN and Infinity are not JSON)."""
    if not raw.strip():
        raise ValueError("the request body is empty: a JSON object is expected")
    try:
        data = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = getattr(exc, "pos", None)
        detail = f" at position {where}" if where is not None else f": {exc}"
        raise ValueError(f"malformed JSON body ({type(exc).__name__}{detail})") from None
    check_tree(data)
    return data


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why not (413 when too large)."""
    try:
        data = parse_json(await body_bytes(request))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object")
    return data


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise bad_request(f"{name}: must be an integer from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise bad_request(f"{name}: must be an integer from {low} to {high}")
    return value


def status_param(request: Request) -> Status | None:
    raw = request.query_params.get("status")
    if not raw:
        return None
    try:
        return Status(raw.strip().upper())
    except ValueError:
        raise bad_request(f"status: must be one of {', '.join(s.value for s in Status)}") from None
