"""Shared helpers for the benchmark scripts: machine description, tables, the emulator process.

Not a benchmark itself. Each script in this folder puts its own directory on ``sys.path`` (Python
does that for ``python benchmarks/<name>.py``) and imports this module as ``_common``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

# Defaults of the emulator (see research/contracts.md); overridable with the emulator's flags/env.
PROJECT_ID = "0123456789abcdef0123456789abcdef"
INSTANCE_ID = "lf-emulator-instance"
AK = "EMULATORAK"
SK = "emulator-secret-key"
TOKEN = "emulator-token"
IAM_USER = "emulator_user"
IAM_PASSWORD = "emulator-password"
DOMAIN = "emulator_domain"

CONN_ENV = "AIRFLOW_CONN_LAKEFORMATION_DEFAULT"


# --------------------------------------------------------------------------------------------------
# machine / versions
# --------------------------------------------------------------------------------------------------
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "ram": f"{ram_gib():.1f} GiB",
        "python": platform.python_version(),
        "airflow": _version("apache-airflow"),
        "task-sdk": _version("apache-airflow-task-sdk"),
        "aiohttp": _version("aiohttp"),
        "requests": _version("requests"),
        "uvicorn": _version("uvicorn"),
        "fastapi": _version("fastapi"),
        "pydantic": _version("pydantic"),
        "loadavg": _loadavg(),
    }


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "-"


def loadavg_1m() -> float:
    """The 1-minute load average (NaN where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def print_machine() -> None:
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print("command: " + " ".join([os.path.basename(sys.executable), *sys.argv]))
    print()


# --------------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------------
def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> None:
    """Print a GitHub-flavoured markdown table (readable in a terminal, pasteable into docs)."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if title:
        print(title)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for an empty sequence."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------------------------------
# emulator in a separate process
# --------------------------------------------------------------------------------------------------
def stop_process_group(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group of ``proc`` (a server started with ``start_new_session``), then
    SIGKILL it if it has not exited within 10 s."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_nofile_limit(wanted: int) -> int:
    """Raise the soft open-files limit towards ``wanted`` (bounded by the hard limit)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def package_root() -> str:
    """The directory holding the ``airflow_provider_lakeformation`` package this process imports."""
    import importlib.util

    spec = importlib.util.find_spec("airflow_provider_lakeformation")
    if spec is None or spec.origin is None:
        raise RuntimeError("airflow_provider_lakeformation is not importable: pip install -e .")
    return os.path.dirname(os.path.dirname(spec.origin))


def emulator_help() -> str:
    """The emulator CLI's ``--help`` text ('' if the emulator is not importable)."""
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_provider_lakeformation.emulator", "--help"],
        cwd=package_root(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else ""


@dataclass
class EmulatorProcess:
    """``python -m airflow_provider_lakeformation.emulator`` in its own process group.

    Use as a context manager; the whole group is terminated (then killed) on exit, also when
    the benchmark is interrupted.
    """

    extra_args: Sequence[str] = ()
    host: str = "127.0.0.1"
    port: int = 0
    log_path: str | None = None
    startup_timeout: float = 60.0
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> EmulatorProcess:
        if not self.port:
            self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "airflow_provider_lakeformation.emulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        # Run the same copy of the package as this process (``python -m`` would otherwise put the
        # current directory first on sys.path).
        root = package_root()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        out = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=root
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}: {' '.join(cmd)}")
            try:
                self.stats()
                break
            except (OSError, urllib.error.URLError, ValueError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"emulator did not answer within {self.startup_timeout}s") from None
                time.sleep(0.1)
        latency = self.keepalive_latency_ms()
        if latency > 20:
            print(
                f"WARNING: the emulator answers a request on a reused (keep-alive) connection in "
                f"{latency:.0f} ms (a fresh connection takes ~1 ms): Nagle + delayed ACK, i.e. the server "
                "socket lacks TCP_NODELAY. Every sequential figure below includes that ~40 ms. "
                "See docs/performance.md.",
                file=sys.stderr,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def keepalive_latency_ms(self, requests: int = 7) -> float:
        """Median time of ``GET /_emulator/stats`` on one reused HTTP/1.1 connection."""
        import http.client

        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        times: list[float] = []
        try:
            for _ in range(requests):
                t0 = time.perf_counter()
                conn.request("GET", "/_emulator/stats")
                conn.getresponse().read()
                times.append(time.perf_counter() - t0)
        finally:
            conn.close()
        return median(times[1:]) * 1000

    def stop(self) -> None:
        stop_process_group(self.proc)

    # -- admin endpoints ---------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        # Admin writes are declared as JSON (the emulator answers 415 otherwise), an empty one too.
        data = json.dumps(body).encode() if body is not None else (None if method == "GET" else b"{}")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def stats(self) -> dict[str, Any]:
        result = self._admin("GET", "/_emulator/stats")
        if not isinstance(result, dict):
            raise ValueError("unexpected /_emulator/stats body")
        return result

    def reset(self) -> None:
        self._admin("POST", "/_emulator/reset")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change run-time settings (``run_seconds``, ``submit_seconds``...) until the next reset."""
        return dict(self._admin("PATCH", "/_emulator/config", changes))

    # -- resource usage ----------------------------------------------------------------------------
    def processes(self) -> list[Any]:
        """psutil processes of the emulator (the main one and its workers)."""
        import psutil

        if self.proc is None:
            return []
        try:
            main = psutil.Process(self.proc.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User+system CPU seconds of the emulator's processes so far."""
        import psutil

        total = 0.0
        for p in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total


def conn_json(url: str, auth: str, **extra: Any) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value for the emulator with ``auth`` = token | aksk | iam."""
    extras: dict[str, Any] = {
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "region": "cn-north-4",
        "auth_type": auth,
        **extra,
    }
    conn: dict[str, Any] = {"conn_type": "lakeformation", "host": url, "extra": extras}
    if auth == "token":
        conn["password"] = TOKEN
    elif auth == "aksk":
        conn["login"], conn["password"] = AK, SK
    elif auth == "iam":
        conn["login"], conn["password"] = IAM_USER, IAM_PASSWORD
        extras.update(domain_name=DOMAIN, iam_endpoint=url)
    else:
        raise ValueError(f"unknown auth {auth!r}")
    return json.dumps(conn)


def jobs_url(base: str) -> str:
    return f"{base}/v1/{PROJECT_ID}/instances/{INSTANCE_ID}/lf-jobs"


def discovery_job_body(name: str, description: str = "") -> dict[str, Any]:
    """A minimal valid METADATA_DISCOVERY create-job body."""
    return {
        "name": name,
        "description": description,
        "type": "METADATA_DISCOVERY",
        "parameter": {
            "metadata_discovery_parameter": {
                "data_location": "obs://bench-bucket/data",
                "target_catalog": "hive",
                "target_database": "bench",
                "conflict_strategy": "UPDATE",
                "file_discovery_type": "PARQUET",
                "log_location": "obs://bench-bucket/logs",
                "instance_id": INSTANCE_ID,
                "execute_strategy": "MANNUAL",
            }
        },
    }


def _migration_parameter() -> dict[str, Any]:
    return {
        "metadata_migration_parameter": {
            "datasource_type": "MRS_RDS_FOR_MYSQL",
            "datasource_parameter": {"jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive", "username": "bench"},
            "source_catalog": "hive",
            "target_catalog": "bench_catalog",
            "conflict_strategy": "UPSERT",
            "log_location": "obs://bench-bucket/logs",
            "sync_objects": ["DATABASE", "TABLE"],
            "locations": [{"key": "hdfs://old/", "value": "obs://bench-bucket/new/"}],
            "instance_id": INSTANCE_ID,
        }
    }


def _permission_parameter() -> dict[str, Any]:
    return {
        "permission_migration_parameter": {
            "location": "obs://bench-bucket/perm",
            "file_name": "policies.json",
            "log_location": "obs://bench-bucket/logs",
            "policy_type": "RANGER",
            "instance_id": INSTANCE_ID,
        }
    }


#: The job types of the API, in the order the benchmarks spread jobs over them.
JOB_TYPES = ("METADATA_MIGRATION", "PERMISSION_MIGRATION", "METADATA_DISCOVERY")


def job_body(job_type: str, name: str, description: str = "") -> dict[str, Any]:
    """A minimal valid create-job body of ``job_type`` (one of :data:`JOB_TYPES`)."""
    if job_type == "METADATA_DISCOVERY":
        return discovery_job_body(name, description)
    parameter = {"METADATA_MIGRATION": _migration_parameter, "PERMISSION_MIGRATION": _permission_parameter}
    return {"name": name, "description": description, "type": job_type, "parameter": parameter[job_type]()}


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    """Temporarily set environment variables."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
