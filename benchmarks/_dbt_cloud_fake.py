"""A minimal local fake of the two dbt Cloud v2 endpoints behind ``DbtCloudRunJobTrigger``, over TLS.

Not a benchmark itself: ``trigger_fleet.py`` runs it as a separate process for its ``dbt-cloud`` peer
rows, the way it runs the LakeFormation emulator for its own rows.

* ``POST /api/v2/accounts/{account_id}/jobs/{job_id}/run/`` triggers a run (what
  ``DbtCloudRunJobOperator`` calls before it defers); the run stays QUEUED (1) until the benchmark
  starts it;
* ``GET /api/v2/accounts/{account_id}/runs/{run_id}/`` reads a run (what the trigger polls, through
  ``DbtCloudHook.get_job_status``): STARTING (2) for ``queued_seconds`` after the start, RUNNING (3)
  for ``seconds``, then SUCCESS (10). The body is a run object shaped like dbt Cloud's (``data`` with
  the usual fields), about the size of the LakeFormation emulator's job body.

Both check ``Authorization: Token <token>`` (401 otherwise). Admin routes (no auth):
``POST /_fake/start`` ``{"ids": [...], "seconds": s, "queued_seconds": q}``, ``POST /_fake/reset``,
``GET /_fake/stats`` (requests by route). The dbt hook always builds ``https://{host}/api/...``
URLs, so the fake serves HTTPS with a throw-away CA (``make_tls_files``); the client trusts it
through ``SSL_CERT_FILE``.

    python benchmarks/_dbt_cloud_fake.py --port 8443 --cert server.pem --key server.key
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

TOKEN = "dbt-cloud-fake-token"
ACCOUNT_ID = 70403
JOB_ID = 1234
QUEUED, STARTING, RUNNING, SUCCESS = 1, 2, 3, 10
_HUMAN = {QUEUED: "Queued", STARTING: "Starting", RUNNING: "Running", SUCCESS: "Success"}


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost: (ca, cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dbt cloud fake CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "dbt-ca.pem", directory / "dbt-server.pem", directory / "dbt-server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class FakeDbtCloud:
    """The runs and the request counters."""

    def __init__(self) -> None:
        self.runs: dict[int, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()
        self.next_id = 100_000

    def status(self, run: dict[str, Any]) -> int:
        started = run["started"]
        if started is None:
            return QUEUED
        elapsed = time.time() - started
        if elapsed < run["queued_seconds"]:
            return STARTING
        return RUNNING if elapsed < run["queued_seconds"] + run["seconds"] else SUCCESS

    def body(self, run: dict[str, Any]) -> dict[str, Any]:
        status = self.status(run)
        done = status == SUCCESS
        stamp = datetime.datetime.fromtimestamp(run["created"], datetime.timezone.utc).isoformat()
        return {
            "status": {"code": 200, "is_success": True, "user_message": "Success!", "developer_message": ""},
            "data": {
                "id": run["id"],
                "trigger_id": run["id"] + 7,
                "account_id": ACCOUNT_ID,
                "environment_id": 218762,
                "project_id": 2000,
                "job_definition_id": JOB_ID,
                "status": status,
                "dbt_version": "versionless",
                "git_branch": "main",
                "git_sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
                "status_message": None,
                "owner_thread_id": None,
                "executed_by_thread_id": "dbt-run-123-abcde",
                "deferring_run_id": None,
                "artifacts_saved": done,
                "artifact_s3_path": f"prod-us-c1/runs/{run['id']}/artifacts/target",
                "has_docs_generated": False,
                "has_sources_generated": False,
                "notifications_sent": done,
                "blocked_by": [],
                "created_at": stamp,
                "updated_at": stamp,
                "dequeued_at": stamp,
                "started_at": stamp,
                "finished_at": stamp if done else None,
                "last_checked_at": stamp,
                "last_heartbeat_at": stamp,
                "should_start_allowed": True,
                "trigger": None,
                "job": None,
                "environment": None,
                "run_steps": [],
                "status_humanized": _HUMAN[status],
                "in_progress": not done,
                "is_complete": done,
                "is_success": done,
                "is_error": False,
                "is_cancelled": False,
                "duration": "00:00:15",
                "queued_duration": "00:00:00",
                "run_duration": "00:00:15",
                "duration_humanized": "15 seconds",
                "queued_duration_humanized": "0 minutes",
                "run_duration_humanized": "15 seconds",
                "created_at_humanized": "just now",
                "finished_at_humanized": "just now" if done else "",
                "job_id": JOB_ID,
                "is_running": status == RUNNING,
                "href": f"https://cloud.getdbt.com/deploy/{ACCOUNT_ID}/projects/2000/runs/{run['id']}/",
            },
        }


def build_app(fake: FakeDbtCloud) -> Any:
    from aiohttp import web

    def authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Token {TOKEN}"

    async def trigger_run(request: web.Request) -> web.Response:
        fake.requests["trigger_run"] += 1
        if not authorised(request):
            return web.json_response({"status": {"code": 401, "is_success": False}}, status=401)
        fake.next_id += 1
        run: dict[str, Any] = {"id": fake.next_id, "created": time.time(), "started": None}
        run.update(seconds=0.0, queued_seconds=0.0)
        fake.runs[fake.next_id] = run
        return web.json_response(fake.body(run))

    async def get_run(request: web.Request) -> web.Response:
        fake.requests["get_run"] += 1
        if not authorised(request):
            return web.json_response({"status": {"code": 401, "is_success": False}}, status=401)
        run = fake.runs.get(int(request.match_info["run_id"]))
        if run is None:
            return web.json_response({"status": {"code": 404, "is_success": False}}, status=404)
        return web.json_response(fake.body(run))

    async def start(request: web.Request) -> web.Response:
        spec = await request.json()
        now = time.time()
        for run_id in spec["ids"]:
            run = fake.runs[int(run_id)]
            run.update(
                started=now, seconds=float(spec["seconds"]), queued_seconds=float(spec["queued_seconds"])
            )
        return web.json_response({"started": len(spec["ids"])})

    async def reset(request: web.Request) -> web.Response:
        fake.runs.clear()
        fake.requests.clear()
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"by_route": dict(fake.requests), "requests": sum(fake.requests.values())})

    app = web.Application()
    app.router.add_post("/api/v2/accounts/{account_id}/jobs/{job_id}/run/", trigger_run)
    app.router.add_get("/api/v2/accounts/{account_id}/runs/{run_id}/", get_run)
    app.router.add_post("/_fake/start", start)
    app.router.add_post("/_fake/reset", reset)
    app.router.add_get("/_fake/stats", stats)
    return app


class FakeProcess:
    """This module served in its own process group over TLS (for ``trigger_fleet.py``'s parent).

    :param directory: where the throw-away CA, certificate and key are written.
    :param log_path: the server's output.
    """

    def __init__(self, directory: str, log_path: str) -> None:
        self.directory = Path(directory)
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.ca_file = ""
        self._ctx: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeProcess:
        import _common

        ca, cert, key = make_tls_files(self.directory)
        self.ca_file = str(ca)
        self._ctx = ssl.create_default_context(cafile=self.ca_file)
        self.port = _common.free_port()
        cmd = [sys.executable, __file__, "--port", str(self.port), "--cert", str(cert), "--key", str(key)]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the dbt Cloud fake exited with {self.proc.returncode} (log: {self.log_path})"
                )
            try:
                self.admin("GET", "/_fake/stats")
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("the dbt Cloud fake did not answer within 60 s") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        import _common

        _common.stop_process_group(self.proc)

    def admin(self, method: str, path: str, body: Any = None, token: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Token {TOKEN}")
        with urllib.request.urlopen(req, timeout=60, context=self._ctx) as resp:
            return json.loads(resp.read())

    def create_runs(self, n: int) -> list[str]:
        """Trigger ``n`` runs of the job (the endpoint the operator calls); they stay QUEUED."""
        import asyncio

        import aiohttp

        url = f"{self.url}/api/v2/accounts/{ACCOUNT_ID}/jobs/{JOB_ID}/run/"

        async def create_all() -> list[str]:
            headers = {"Authorization": f"Token {TOKEN}"}
            sem = asyncio.Semaphore(32)
            async with aiohttp.ClientSession(
                headers=headers, connector=aiohttp.TCPConnector(ssl=self._ctx or True)
            ) as session:

                async def one() -> str:
                    async with sem, session.post(url, json={"cause": "benchmark"}) as resp:
                        resp.raise_for_status()
                        return str((await resp.json())["data"]["id"])

                return list(await asyncio.gather(*(one() for _ in range(n))))

        return asyncio.run(create_all())

    def start(self, ids: list[str], seconds: float, queued_seconds: float) -> float:
        """Start the runs (STARTING, then RUNNING for ``seconds``); the wall-clock time of the start."""
        now = time.time()
        self.admin("POST", "/_fake/start", {"ids": ids, "seconds": seconds, "queued_seconds": queued_seconds})
        return now

    def conn_env(self) -> dict[str, str]:
        """The client's environment: the Airflow connection, and trust in the fake's CA."""
        conn = {
            "conn_type": "dbt_cloud",
            "host": f"127.0.0.1:{self.port}",
            "login": str(ACCOUNT_ID),
            "password": TOKEN,
        }
        return {"AIRFLOW_CONN_DBT_CLOUD_DEFAULT": json.dumps(conn), "SSL_CERT_FILE": self.ca_file}


def main() -> None:
    from aiohttp import web

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    web.run_app(
        build_app(FakeDbtCloud()),
        host=args.host,
        port=args.port,
        ssl_context=ctx,
        access_log=None,
        backlog=4096,
        print=None,
    )


if __name__ == "__main__":
    main()
