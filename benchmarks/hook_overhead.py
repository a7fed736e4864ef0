"""Per-call overhead of ``LakeFormationHook.get_job`` over a bare ``requests.Session`` GET.

Starts the emulator in a separate process (``python -m airflow_provider_lakeformation.emulator``),
creates one job and reads it ``--calls`` times per variant, sequentially, in interleaved blocks
(so background load on a shared machine hits every variant alike):

* token auth:  bare ``Session.get`` + ``.json()`` with ``X-Auth-Token``   vs  ``hook.get_job``;
* AK/SK auth:  bare GET with a precomputed signature (the floor), bare GET + ``auth.sign_request``
               per call (the bare signer call)  vs  ``hook.get_job`` with an aksk connection;
* IAM auth:    bare GET with an IAM token fetched once  vs  ``hook.get_job`` over ``--hooks`` hook
               instances used round-robin; the emulator's ``iam_tokens_issued`` counter shows how
               often the IAM endpoint was hit (goal: once per process, not once per call), also with
               a new hook for every call (as each operator does).

Reported per variant: median and p99 per-call wall time, client CPU per call, and the ratio of the
hook to its bare baseline (goal <= 1.2x for the median). Connections come from
``AIRFLOW_CONN_*`` JSON environment variables pointing at the emulator.

    python benchmarks/hook_overhead.py                  # ~1 min on 2 cores
    python benchmarks/hook_overhead.py --calls 5000 --block 250
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _common
import requests

GOAL_RATIO = 1.2
CONN_IDS = {"token": "lf_bench_token", "aksk": "lf_bench_aksk", "iam": "lf_bench_iam"}


@dataclass
class Variant:
    name: str
    call: Callable[[], Any]
    wall: list[float] = field(default_factory=list)
    cpu: float = 0.0

    def run_block(self, n: int) -> None:
        call = self.call
        wall = self.wall
        perf = time.perf_counter
        cpu0 = time.process_time()
        for _ in range(n):
            t0 = perf()
            call()
            wall.append(perf() - t0)
        self.cpu += time.process_time() - cpu0

    def median_us(self) -> float:
        return _common.median(self.wall) * 1e6

    def p99_us(self) -> float:
        return _common.percentile(self.wall, 99) * 1e6

    def cpu_us(self) -> float:
        return self.cpu / len(self.wall) * 1e6 if self.wall else float("nan")


def run_interleaved(variants: list[Variant], calls: int, block: int, warmup: int) -> None:
    for v in variants:
        v.run_block(warmup)
        v.wall.clear()
        v.cpu = 0.0
    done = 0
    while done < calls:
        n = min(block, calls - done)
        for v in variants:
            v.run_block(n)
        done += n


def _bare_get(session: requests.Session, url: str, headers: dict[str, str]) -> Callable[[], Any]:
    def call() -> Any:
        resp = session.get(url, headers=headers, timeout=(10, 60))
        resp.raise_for_status()
        return resp.json()

    return call


def _bare_signed_get(session: requests.Session, url: str) -> Callable[[], Any]:
    from airflow_provider_lakeformation.auth import sign_request

    base = {"Content-Type": "application/json"}

    def call() -> Any:
        headers = sign_request("GET", url, base, None, _common.AK, _common.SK, project_id=_common.PROJECT_ID)
        resp = session.get(url, headers=headers, timeout=(10, 60))
        resp.raise_for_status()
        return resp.json()

    return call


def _fetch_iam_token(base_url: str) -> str:
    from airflow_provider_lakeformation.auth import build_password_auth_body

    body = build_password_auth_body(
        _common.IAM_USER, _common.IAM_PASSWORD, _common.DOMAIN, _common.PROJECT_ID, None
    )
    resp = requests.post(f"{base_url}/v3/auth/tokens", json=body, timeout=30)
    resp.raise_for_status()
    return resp.headers["X-Subject-Token"]


def _create_job(base_url: str) -> str:
    body = _common.discovery_job_body(f"bench_hook_{os.getpid()}_{time.time_ns()}", "hook overhead")
    resp = requests.post(
        _common.jobs_url(base_url),
        json=body,
        headers={"X-Auth-Token": _common.TOKEN, "Content-Type": "application/json"},
        timeout=30,
    )
    resp.raise_for_status()
    return str(resp.json()["id"])


def _ratio(hook: Variant, bare: Variant) -> str:
    return f"{hook.median_us() / bare.median_us():.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls per variant (K); default 2000, or 200 if the emulator shows the ~40 ms keep-alive stall",
    )
    parser.add_argument("--block", type=int, default=100, help="calls per variant per interleaved block")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per variant first")
    parser.add_argument("--hooks", type=int, default=4, help="hook instances sharing the IAM token cache")
    parser.add_argument(
        "--fresh-hook-calls", type=int, default=200, help="IAM: calls that each build a new hook"
    )
    parser.add_argument("--emulator-log", default=None, help="file for the emulator's output")
    parser.add_argument(
        "--emulator-arg", action="append", default=[], help="extra emulator CLI argument (repeatable)"
    )
    args = parser.parse_args(argv)

    _common.print_machine()
    with _common.EmulatorProcess(extra_args=args.emulator_arg, log_path=args.emulator_log) as emu:
        url = emu.url
        if args.calls is None:
            stalled = emu.keepalive_latency_ms() > 20
            args.calls = 200 if stalled else 2000
            if stalled:
                print("the emulator stalls ~40 ms per keep-alive request: --calls defaults to 200\n")
        for auth, conn_id in CONN_IDS.items():
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = _common.conn_json(url, auth)
        from airflow_provider_lakeformation.auth import clear_shared_token_caches, sign_request
        from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

        job_id = _create_job(url)
        job_url = f"{_common.jobs_url(url)}/{job_id}"
        session = requests.Session()

        # -- token and AK/SK -------------------------------------------------------------------
        token_hook = LakeFormationHook(CONN_IDS["token"])
        aksk_hook = LakeFormationHook(CONN_IDS["aksk"])
        presigned = sign_request(
            "GET", job_url, {"Content-Type": "application/json"}, None, _common.AK, _common.SK,
            project_id=_common.PROJECT_ID,
        )  # fmt: skip
        bare_token = Variant("bare GET, token", _bare_get(session, job_url, {"X-Auth-Token": _common.TOKEN}))
        hook_token = Variant("hook.get_job, token", lambda: token_hook.get_job(job_id))
        bare_presigned = Variant(
            "bare GET, AK/SK precomputed signature", _bare_get(session, job_url, presigned)
        )
        bare_signed = Variant("bare GET + sign_request per call", _bare_signed_get(session, job_url))
        hook_aksk = Variant("hook.get_job, AK/SK", lambda: aksk_hook.get_job(job_id))

        # -- IAM ---------------------------------------------------------------------------------
        iam_token = _fetch_iam_token(url)
        clear_shared_token_caches()
        iam_before = int(emu.stats().get("iam_tokens_issued", 0))
        iam_hooks = [LakeFormationHook(CONN_IDS["iam"]) for _ in range(args.hooks)]
        turn = [0]

        def iam_call() -> Any:
            hook = iam_hooks[turn[0] % len(iam_hooks)]
            turn[0] += 1
            return hook.get_job(job_id)

        bare_iam = Variant(
            "bare GET, IAM token fetched once", _bare_get(session, job_url, {"X-Auth-Token": iam_token})
        )
        hook_iam = Variant(f"hook.get_job, IAM, {args.hooks} hooks round-robin", iam_call)

        variants = [bare_token, hook_token, bare_presigned, bare_signed, hook_aksk, bare_iam, hook_iam]
        t0 = time.perf_counter()
        run_interleaved(variants, args.calls, args.block, args.warmup)
        elapsed = time.perf_counter() - t0
        iam_after = int(emu.stats().get("iam_tokens_issued", 0))
        iam_calls = len(hook_iam.wall) + args.warmup

        fresh = Variant(
            "hook per call (new LakeFormationHook each call), IAM",
            lambda: LakeFormationHook(CONN_IDS["iam"]).get_job(job_id),
        )
        fresh.run_block(args.fresh_hook_calls)
        iam_after_fresh = int(emu.stats().get("iam_tokens_issued", 0))
        session.close()
        server_cpu = emu.cpu_seconds()

    rows: list[list[object]] = []
    for v, base in (
        (bare_token, None),
        (hook_token, bare_token),
        (bare_presigned, None),
        (bare_signed, bare_presigned),
        (hook_aksk, bare_presigned),
        (bare_iam, None),
        (hook_iam, bare_iam),
        (fresh, bare_iam),
    ):
        ratio = _ratio(v, base) if base is not None else "baseline"
        goal = "-"
        if base is not None and v is not bare_signed and v is not fresh:
            goal = "met" if v.median_us() / base.median_us() <= GOAL_RATIO else "MISSED"
        rows.append([v.name, len(v.wall), v.median_us(), v.p99_us(), v.cpu_us(), ratio, goal])
    _common.print_table(
        ["variant", "calls", "median µs", "p99 µs", "client CPU µs/call", "ratio (median)", "<= 1.2x"],
        rows,
        title=f"get_job per call, sequential, interleaved blocks of {args.block} ({elapsed:.0f} s, "
        f"emulator CPU {server_cpu:.0f} s in total)",
    )
    hits = iam_after - iam_before
    fresh_hits = iam_after_fresh - iam_after
    _common.print_table(
        ["IAM scenario", "get_job calls", "IAM token requests", "goal"],
        [
            [f"{args.hooks} hook instances, round-robin", iam_calls, hits, "met" if hits <= 1 else "MISSED"],
            [
                "new hook for every call",
                args.fresh_hook_calls,
                fresh_hits,
                "met" if fresh_hits == 0 else "MISSED",
            ],
        ],
        title="IAM token endpoint hits (emulator /_emulator/stats iam_tokens_issued; goal: 1 per process)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
