"""AK/SK request-signing cost per request: ``auth.sign_request`` vs the hashing floor.

For each request shape (GET a job, GET a filtered job list, POST a 2 KB JSON body) this times:

* ``sign_request``      - the provider's signer, as the hook calls it (current time, fresh headers);
* ``floor``             - only the unavoidable crypto for the same request: sha256(body) (POST),
                          sha256(canonical request) -> string-to-sign -> HMAC-SHA256 (hashlib+hmac);
* ``hmac only``         - HMAC-SHA256 of the same string-to-sign (the absolute floor);
* ``huaweicloudsdkcore`` - the official SDK's signer on the same request, for reference (if installed).

Reports the median of ``--repeat`` timeit repeats (µs per request) and the ratio to ``floor``
measured in the same run. No Airflow and no server involved.

    python benchmarks/signing_cost.py            # ~10 s
    python benchmarks/signing_cost.py --repeat 15 --min-time 0.5
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import _common

from airflow_provider_lakeformation.auth import sign_request
from airflow_provider_lakeformation.auth.signer import canonical_request, signed_header_names, string_to_sign

HOST = "lakeformation.cn-north-4.myhuaweicloud.com"
BASE = f"https://{HOST}/v1/{_common.PROJECT_ID}/instances/{_common.INSTANCE_ID}/lf-jobs"
JOB_ID = "5b4bd0e8-3b5a-4c1e-9d0a-6f6f2c1f7a10"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def _body_2kb() -> bytes:
    """A create-job JSON body padded to ~2 KB (a realistic discovery job with principals)."""
    body = _common.discovery_job_body("nightly_discovery_sales", "Nightly discovery of the sales lake")
    params = body["parameter"]["metadata_discovery_parameter"]
    params["principals"] = []
    raw = b""
    i = 0
    while len(raw) < 2048:
        params["principals"].append(
            {"principal_type": "USER", "principal_source": "IAM", "principal_name": f"analyst_user_{i:03d}"}
        )
        raw = json.dumps(body, separators=(",", ":")).encode()
        i += 1
    return raw


CASES: list[tuple[str, str, str, bytes | None]] = [
    ("GET job", "GET", f"{BASE}/{JOB_ID}", None),
    (
        "GET list (query)",
        "GET",
        f"{BASE}?type=METADATA_DISCOVERY&name_pattern=nightly%2A&offset=0&limit=100",
        None,
    ),
    ("POST 2 KB JSON", "POST", BASE, _body_2kb()),
]


def _calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """Loop count so one timing of ``fn`` lasts about ``min_time`` seconds."""
    number = 100
    while (elapsed := timeit.timeit(fn, number=number)) < 0.02:
        number *= 4
    return max(number, int(number * min_time / elapsed))


def _time_interleaved(fns: dict[str, Callable[[], Any]], repeat: int, min_time: float) -> dict[str, float]:
    """Median seconds per call of each function; the repeats are interleaved round-robin so
    background load on a shared machine hits every function alike."""
    numbers = {name: _calibrate(fn, min_time) for name, fn in fns.items()}
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            runs[name].append(timeit.timeit(fn, number=numbers[name]) / numbers[name])
    return {name: statistics.median(values) for name, values in runs.items()}


def _official_signer(method: str, url: str, body: bytes | None) -> Callable[[], Any] | None:
    try:
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkcore.sdk_request import SdkRequest
    except ImportError:
        return None
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    credentials = BasicCredentials(_common.AK, _common.SK, _common.PROJECT_ID)
    query = parse_qsl(parts.query, keep_blank_values=True)

    def run() -> Any:
        request = SdkRequest(
            method=method,
            schema=parts.scheme,
            host=parts.netloc,
            resource_path=parts.path,
            query_params=list(query),
            header_params=dict(HEADERS),
            body=body,
        )
        return credentials.sign_request(request)

    return run


KEY = _common.SK.encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="timeit repeats; the median is reported")
    parser.add_argument("--min-time", type=float, default=0.1, help="minimum seconds per repeat")
    parser.add_argument("--no-sdk", action="store_true", help="skip the huaweicloudsdkcore reference row")
    args = parser.parse_args(argv)

    _common.print_machine()
    rows: list[list[object]] = []
    for label, method, url, body in CASES:
        # What the signer produces for this request, to build the floor's exact inputs.
        now = datetime.now(timezone.utc)
        signed = sign_request(
            method, url, HEADERS, body, _common.AK, _common.SK, project_id=_common.PROJECT_ID, now=now
        )
        unsigned = {k: v for k, v in signed.items() if k != "Authorization"}
        names = signed_header_names(unsigned)
        canonical = canonical_request(method, url, unsigned, body, names)
        sts = string_to_sign(canonical, unsigned["X-Sdk-Date"])
        canonical_bytes = canonical.encode()
        sts_bytes = sts.encode()

        def signer(method: str = method, url: str = url, body: bytes | None = body) -> dict[str, str]:
            return sign_request(
                method, url, HEADERS, body, _common.AK, _common.SK, project_id=_common.PROJECT_ID
            )

        def floor(body: bytes | None = body, cb: bytes = canonical_bytes, sb: bytes = sts_bytes) -> str:
            if body:
                hashlib.sha256(body).hexdigest()
            hashlib.sha256(cb).hexdigest()
            return hmac.new(KEY, sb, hashlib.sha256).hexdigest()

        def hmac_only(sb: bytes = sts_bytes) -> str:
            return hmac.new(KEY, sb, hashlib.sha256).hexdigest()

        official = None if args.no_sdk else _official_signer(method, url, body)
        fns: dict[str, Callable[[], Any]] = {"sign": signer, "floor": floor, "hmac": hmac_only}
        if official is not None:
            fns["sdk"] = official
        times = _time_interleaved(fns, args.repeat, args.min_time)
        t_sign, t_floor, t_hmac = times["sign"], times["floor"], times["hmac"]
        t_sdk = times.get("sdk", float("nan"))
        size = len(body) if body else 0
        rows.append(
            [
                label,
                size,
                t_sign * 1e6,
                t_floor * 1e6,
                t_hmac * 1e6,
                t_sdk * 1e6,
                f"{t_sign / t_floor:.1f}x",
                f"{t_sdk / t_sign:.1f}x" if official else "-",
            ]
        )

    _common.print_table(
        [
            "request",
            "body B",
            "sign_request µs",
            "floor µs",
            "hmac only µs",
            "huaweicloudsdkcore µs",
            "sign / floor",
            "sdk / sign",
        ],
        rows,
        title=f"AK/SK signing cost per request (median of {args.repeat} interleaved repeats)",
    )
    print(
        "floor = sha256(body) + sha256(canonical request) + HMAC-SHA256(string-to-sign); "
        "'sdk / sign' > 1 means the provider's signer is faster than the official SDK's."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
