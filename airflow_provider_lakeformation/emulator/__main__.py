"""``python -m airflow_provider_lakeformation.emulator`` / ``lakeformation-emulator``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence

import uvicorn

from .config import CONFIG_ENV, EmulatorConfig
from .http_guard import uvicorn_options
from .server import bind_socket, url_for


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakeformation-emulator",
        description="Local emulator of the Huawei Cloud LakeFormation job API and IAM tokens.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (0 = any free port; default 8080)")
    p.add_argument("--state", metavar="PATH", help="SQLite file keeping jobs, runs and logs across restarts")
    p.add_argument("--submit-seconds", type=float, help="seconds a started job stays SUBMITTED (default 0.5)")
    p.add_argument("--run-seconds", type=float, help="seconds a job stays RUNNING (default 2)")
    p.add_argument("--stop-seconds", type=float, help="seconds from a stop call to STOPPED (default 0)")
    p.add_argument(
        "--default-outcome", choices=["SUCCESS", "FAILED", "PARTIAL_SUCCESS"], help="default SUCCESS"
    )
    p.add_argument("--status-shape", choices=["string", "object"], help='"status": "X" or {"status": "X"}')
    p.add_argument("--token-ttl", type=float, help="lifetime of IAM tokens in seconds (default 86400)")
    p.add_argument("--clock-skew", type=float, help="accepted X-Sdk-Date skew in seconds (default 900)")
    p.add_argument(
        "--allow-modify-running",
        action="store_true",
        default=None,
        help="accept PUT on SUBMITTED/RUNNING jobs",
    )
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (>1 needs --state)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--access-log", action="store_true", help="log every request")
    ids = p.add_argument_group("identifiers and credentials (also LF_EMULATOR_* environment variables)")
    for flag in (
        "project-id", "instance-id", "region", "ak", "sk", "token",
        "iam-user", "iam-password", "domain-name", "temp-ak", "temp-sk", "security-token",
    ):  # fmt: skip
        ids.add_argument(f"--{flag}")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    names = (
        "submit_seconds", "run_seconds", "stop_seconds", "default_outcome", "status_shape", "token_ttl",
        "clock_skew", "allow_modify_running", "project_id", "instance_id", "region", "ak", "sk", "token",
        "iam_user", "iam_password", "domain_name", "temp_ak", "temp_sk", "security_token",
    )  # fmt: skip
    overrides = {name: getattr(args, name) for name in names}
    return EmulatorConfig.from_env(state_path=args.state, shared=args.workers > 1, **overrides)


def ready_line(config: EmulatorConfig, url: str, workers: int) -> str:
    state = config.state_path or "in memory"
    return (
        f"LakeFormation emulator ready at {url} (state: {state}, workers: {workers})\n"
        f"  project_id={config.project_id} instance_id={config.instance_id} region={config.region}\n"
        f"  AK/SK:     ak={config.ak} sk={config.sk}\n"
        f"  token:     X-Auth-Token: {config.token}\n"
        f"  IAM:       POST {url}/v3/auth/tokens user={config.iam_user} password={config.iam_password} "
        f"domain={config.domain_name}\n"
        f"  API:       {url}{config.api_prefix}/lf-jobs\n"
        f"  admin:     {url}/_emulator/stats   console: {url}/console/jobs"
    )


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which kills the process
    before the state is closed; this one just shuts down and returns (exit status 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _announce_when_healthy(line: str, url: str, timeout: float = 120.0) -> None:
    """Print the ready line once a worker answers ``GET /_emulator/health``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_emulator/health", timeout=5):
                print(line, flush=True)
                return
        except OSError:
            time.sleep(0.1)
    print(f"LakeFormation emulator workers did not answer within {timeout:.0f}s", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers > 1 and not args.state:
        parser.error("--workers > 1 needs --state: the workers share the state through SQLite")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    sock = bind_socket(args.host, args.port)
    url = url_for(args.host, sock.getsockname()[1])
    common = {"log_level": args.log_level, "access_log": args.access_log, **uvicorn_options()}

    if args.workers > 1:
        from .store import Store

        Store(config.state_path).close()  # create the schema and token secret before the workers race
        os.environ[CONFIG_ENV] = config.to_json()
        uv_config = uvicorn.Config(
            "airflow_provider_lakeformation.emulator.app:app_from_env",
            factory=True,
            workers=args.workers,
            **common,
        )
        from uvicorn.supervisors import Multiprocess

        threading.Thread(
            target=_announce_when_healthy, args=(ready_line(config, url, args.workers), url), daemon=True
        ).start()
        Multiprocess(uv_config, sockets=[sock]).run()
        return

    from .app import create_app

    app = create_app(config)
    server = _Server(uvicorn.Config(app, lifespan="on", **common))

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn exposes a flag only
            await asyncio.sleep(0.02)
        if server.started:
            print(ready_line(config, url, 1), flush=True)
        await task

    try:
        asyncio.run(serve())
    finally:
        app.close()
    if not server.started:
        sys.exit(1)


if __name__ == "__main__":
    main()
