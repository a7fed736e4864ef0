"""State shared by the handlers and small request/response helpers."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from airflow_provider_lakeformation.models.status import JobStatus

from .config import EmulatorConfig
from .errors import bad_request
from .signing import SigningKey
from .stats import Stats
from .store import Store

JSON_HEADERS = [(b"content-type", b"application/json")]
MAX_PAGE_OFFSET = 1000
MAX_PAGE_LIMIT = 1000


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


def validation_problems(what: str, exc: ValidationError) -> str:
    """``invalid job: field.path: rule; ...`` (the provider's own wording, no input values).

    Imported here: the exceptions module imports Airflow (~1.5 s), which the emulator otherwise
    does not need; :func:`warm_up` loads it in the background at start-up.
    """
    from airflow_provider_lakeformation.exceptions import LakeFormationSpecError

    return str(LakeFormationSpecError.from_validation_error(what, exc))


def warm_up() -> None:
    with contextlib.suppress(Exception):
        import airflow_provider_lakeformation.exceptions  # noqa: F401


async def json_body(request: Request) -> dict[str, Any]:
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


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
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


def status_param(request: Request) -> JobStatus | None:
    raw = request.query_params.get("status")
    if not raw:
        return None
    try:
        return JobStatus(raw.strip().upper())
    except ValueError:
        raise bad_request(f"status: must be one of {', '.join(s.value for s in JobStatus)}") from None
