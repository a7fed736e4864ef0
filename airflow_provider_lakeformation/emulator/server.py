"""Run the emulator in-process (tests): uvicorn in a background thread on a free port."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any
from urllib.parse import quote

import uvicorn

from .app import EmulatorApp, create_app
from .config import EmulatorConfig
from .http_guard import HEAD_TIMEOUT_SECONDS, uvicorn_options

#: Values of ``auth_type`` in a connection's extra.
AUTH_TYPES = ("aksk", "iam", "token")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket (port 0 = any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY on accepted sockets
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)  # connections queue up until the server (or every worker) is ready
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


class EmulatorServer:
    """``with EmulatorServer(port=0, state_path=None, run_seconds=0.3) as srv: ...``

    ``head_timeout`` is the most seconds a client may take to send a request head
    (:mod:`~airflow_provider_lakeformation.emulator.http_guard`). Other keyword options are
    :class:`EmulatorConfig` fields (``submit_seconds``, ``run_seconds``,
    ``stop_seconds``, ``default_outcome``, ``status_shape``, ``token_ttl``, ``clock_skew``,
    credentials...). The helpers (:meth:`stats`, :meth:`inject_fault`, :meth:`reset`...) go
    through the HTTP admin API like any other client would.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | None = None,
        *,
        config: EmulatorConfig | None = None,
        log_level: str = "warning",
        head_timeout: float = HEAD_TIMEOUT_SECONDS,
        **options: Any,
    ) -> None:
        if config is None:
            config = EmulatorConfig(state_path=str(state_path) if state_path else None, **options)
        elif options or state_path:
            config = config.replace(**options, **({"state_path": str(state_path)} if state_path else {}))
        self.config = config
        self.host = host
        self.port = port
        self.log_level = log_level
        self.head_timeout = head_timeout
        self.app: EmulatorApp | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self.app = create_app(self.config)
        uv_config = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            **uvicorn_options(self.head_timeout),
        )
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"lf-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the LakeFormation emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self.app is not None:
            self.app.close()
        self._server = self._thread = self.app = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # where and who --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    @property
    def project_id(self) -> str:
        return self.config.project_id

    @property
    def instance_id(self) -> str:
        return self.config.instance_id

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def ak(self) -> str:
        return self.config.ak

    @property
    def sk(self) -> str:
        return self.config.sk

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def iam_user(self) -> str:
        return self.config.iam_user

    @property
    def iam_password(self) -> str:
        return self.config.iam_password

    @property
    def domain_name(self) -> str:
        return self.config.domain_name

    @property
    def temp_ak(self) -> str:
        return self.config.temp_ak

    @property
    def temp_sk(self) -> str:
        return self.config.temp_sk

    @property
    def security_token(self) -> str:
        return self.config.security_token

    @property
    def api_url(self) -> str:
        """Base URL of the job API: ``{url}/v1/{project_id}/instances/{instance_id}``."""
        return self.url + self.config.api_prefix

    @property
    def iam_url(self) -> str:
        return self.url + "/v3/auth/tokens"

    def job_url(self, job_id: str) -> str:
        return f"{self.api_url}/lf-jobs/{job_id}"

    def console_url(self, job_id: str, run: str | None = None) -> str:
        """The console page of a job; ``run`` (a run id or a start time in epoch ms) picks one run."""
        page = f"{self.url}/console/jobs/{quote(job_id, safe='')}"
        return f"{page}?run={quote(run, safe='')}" if run else page

    # Airflow connection forms -------------------------------------------------------------------

    def connection_extra(self, auth_type: str = "aksk") -> dict[str, Any]:
        if auth_type not in AUTH_TYPES:
            raise ValueError(f"auth_type must be one of {AUTH_TYPES}")
        extra: dict[str, Any] = {
            "project_id": self.project_id,
            "instance_id": self.instance_id,
            "region": self.region,
            "auth_type": auth_type,
        }
        if auth_type == "iam":
            extra.update(domain_name=self.domain_name, iam_endpoint=self.url)
        return extra

    def connection(self, auth_type: str = "aksk") -> dict[str, Any]:
        """A connection as a dict (the JSON form of ``AIRFLOW_CONN_*``)."""
        login, password = {
            "aksk": (self.ak, self.sk),
            "iam": (self.iam_user, self.iam_password),
            "token": (None, self.token),
        }[auth_type]
        conn: dict[str, Any] = {"conn_type": "lakeformation", "host": self.url, "password": password}
        if login:
            conn["login"] = login
        conn["extra"] = self.connection_extra(auth_type)
        return conn

    def connection_json(self, auth_type: str = "aksk") -> str:
        return json.dumps(self.connection(auth_type))

    def connection_uri(self, auth_type: str = "aksk") -> str:
        """``lakeformation://LOGIN:PASSWORD@127.0.0.1:PORT/?endpoint_scheme=http&...`` form."""
        conn = self.connection(auth_type)
        userinfo = quote(conn.get("login") or "", safe="") + ":" + quote(conn["password"], safe="")
        query = "&".join(
            f"{k}={quote(str(v), safe='')}" for k, v in {"endpoint_scheme": "http", **conn["extra"]}.items()
        )
        hostport = self.url.split("://", 1)[1]
        return f"lakeformation://{userinfo}@{hostport}/?{query}"

    # admin API over HTTP ------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_emulator{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(
                f"emulator admin {method} {path} failed: {exc.code} {exc.read().decode()}"
            ) from None

    def stats(self) -> dict[str, Any]:
        return dict(self._admin("GET", "/stats"))

    def inject_fault(
        self,
        status: int | None = None,
        *,
        count: int | None = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        path_contains: str | None = None,
        route: str | None = None,
        method: str | None = None,
        after_processing: bool = False,
        error_code: str | None = None,
        error_msg: str | None = None,
    ) -> dict[str, Any]:
        """Queue a fault (see ``POST /_emulator/faults``); returns it with its id."""
        body = {
            "status": status,
            "count": count,
            "retry_after": retry_after,
            "delay": delay,
            "drop": drop,
            "path_contains": path_contains,
            "route": route,
            "method": method,
            "after_processing": after_processing,
            "error_code": error_code,
            "error_msg": error_msg,
        }
        return dict(self._admin("POST", "/faults", body))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._admin("GET", "/faults")["faults"])

    def clear_faults(self) -> int:
        return int(self._admin("DELETE", "/faults")["cleared"])

    def reset(self) -> None:
        """Forget all jobs, runs, faults and counters; restore the start-up settings."""
        self._admin("POST", "/reset")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change run-time settings (``run_seconds``, ``status_shape``, ``token_ttl``...) until reset."""
        return dict(self._admin("PATCH", "/config", changes))

    def report_status(self, job_id: str, status: str | None) -> dict[str, Any]:
        """Make get/list answers show ``status`` for the job (any text, e.g. ``QUEUED``) until
        cleared (``status=None``) or reset; the job's real state machine is unaffected."""
        if status is None:
            return dict(self._admin("DELETE", f"/jobs/{quote(job_id, safe='')}/status"))
        return dict(self._admin("PUT", f"/jobs/{quote(job_id, safe='')}/status", {"status": status}))

    def info(self) -> dict[str, Any]:
        return dict(self._admin("GET", "/info"))
