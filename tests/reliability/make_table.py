"""Render docs/reliability.md from the scenario rows the reliability suite records.

    python tests/reliability/make_table.py          # run the suite, then render
    python tests/reliability/make_table.py --no-run # render build/reliability-results.json as is

The suite writes its rows to ``$LF_RELIABILITY_JSON`` (default ``build/reliability-results.json``);
see ``tests/reliability/conftest.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSON = ROOT / "build" / "reliability-results.json"
DEFAULT_OUT = ROOT / "docs" / "reliability.md"

#: category -> (title, introduction, [(count key, column header)])
SECTIONS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "faults": (
        "Faults injected by the emulator",
        "Faults come from `POST /_emulator/faults` of the in-process emulator (real HTTP). The connection "
        "allows `max_retries` 3 (at most 4 requests per call) with `retry_min_wait` 0.01 s and "
        "`retry_max_wait` 0.1 s. *Job starts* is the emulator's `starts` counter for the job (for create "
        "scenarios: jobs created); *stops* counts stop calls the emulator accepted (re-sending a stop is "
        "harmless); *requests on route* counts the faulted operation's requests; *faults* "
        "counts injected faults the client ran into.",
        [
            ("starts", "job starts"),
            ("stops", "stops"),
            ("requests", "requests"),
            ("route_requests", "requests on route"),
            ("faults", "faults"),
            ("seconds", "seconds"),
        ],
    ),
    "recovery": (
        "Recovery",
        "IAM token expiry, the emulator restarting on its state file, the triggerer restarting (trigger "
        "rebuilt from its serialized kwargs) and worker retries of the start operator.",
        [
            ("starts", "job starts"),
            ("requests", "requests"),
            ("tokens", "IAM tokens issued"),
            ("auth_failures", "401s"),
            ("stops", "stops"),
            ("seconds", "seconds"),
        ],
    ),
    "bad_replies": (
        "Bad server replies",
        "A local canned-reply server stands in for the service. *Requests* is sync hook / async client / "
        "trigger (trigger with `max_transient_errors` 1, so a retried error is polled twice).",
        [("requests", "requests"), ("seconds", "seconds")],
    ),
    "tls": (
        "TLS verification",
        "A local HTTPS server with a certificate signed by a throw-away CA (generated with `cryptography`).",
        [("requests", "requests answered")],
    ),
    "secrets": (
        "Secrets",
        "Distinctive values for the datasource password/access_key/secret_key, the connection's AK/SK, "
        "temporary AK/SK + security token, IAM password, the IAM tokens issued during the run and a static "
        "token; a wrong SK too. Every operator and the sensor run sync and deferrable (trigger run to its "
        "event), with failures. Issue #24 rows: credentials written inside URLs (`jdbc:mysql://user:pw@`, "
        "`?password=`, `obs://ak:sk@`) and secrets in replies that fail the strict model (kept as a dict, "
        "an echoed token, a secret as a key), each with fresh values.",
        [("texts", "texts searched"), ("deferrals", "deferrals"), ("requests", "requests")],
    ),
    "log_injection": (
        "Server text in logs",
        "A local server sends a status, job name and start time holding ESC, CR/LF, an injected "
        "`INFO - fake` line and 100 KB of text, a job log with ANSI colours, BEL, a forged `Marking task "
        "as SUCCESS` line and one 2 MB line, and a 400 whose `error_msg` is 100 KB (issue #24 item 5). "
        "Every log record and exception text must hold no control character, start no line with server "
        "text, and stay bounded; the sizes are the largest seen.",
        [
            ("requests", "requests"),
            ("records", "log records"),
            ("largest", "largest record (chars)"),
            ("exception_chars", "exception text (chars)"),
        ],
    ),
    "properties": (
        "Property-based tests (hypothesis)",
        "Strategies generate valid `CreateJobRequest` dicts for all three job types (every optional field, "
        "schedule values as int or string, missing instance ids) and random input.",
        [("examples", "examples")],
    ),
    "emulator": (
        "Emulator hardening",
        "The emulator itself under client mistakes and hostile input: `name_pattern` matching without "
        "backtracking, JSON nesting and number limits, admin input validated like API input, "
        "authentication from the headers before any body byte is read, a 1 MiB body cap and admin writes "
        "that need a JSON content type. Rows marked *CLI emulator process* run "
        "`python -m airflow_provider_lakeformation.emulator` as a child process, so its peak RSS "
        "(`VmHWM`) is its own.",
        [
            ("statuses", "statuses seen"),
            ("seconds", "seconds"),
            ("health_seconds", "health answered in (s)"),
            ("mb_sent", "MB sent"),
            ("rss_mb", "peak RSS MB"),
            ("connections", "connections"),
            ("closed", "closed by the server"),
            ("pages", "pages"),
        ],
    ),
    "operators": (
        "Operator hardening",
        "The operators under the rough edges an outside review found (issue #13 findings 8 and 11) and "
        "a status the client does not know (issue #12): a JSON-string job spec that does not parse is never "
        "shown (rendered field, redacted view, logs, error), what the stop operator pushes without "
        "waiting, the cause quoted in a failed run's error, the delete operator's XComs and link.",
        [
            ("shown", "password shown"),
            ("requests", "requests"),
            ("pushed", "job_status pushed"),
            ("status_after", "status read after"),
            ("error_lines", "ERROR lines in the job log"),
            ("xcoms", "XComs"),
            ("links", "extra links"),
            ("stops", "stops sent"),
        ],
    ),
    "bad_input": (
        "Bad input",
        "Each invalid job spec goes through the model, `hook.create_job`, `LakeFormationCreateJobOperator` "
        "and (when it is also an invalid update) `hook.update_job` and `LakeFormationUpdateJobOperator`; "
        "each invalid connection through the hook, the async client, `LakeFormationStartJobOperator` and the "
        "trigger. Every path raises `LakeFormationSpecError` naming the field and the rule, and the emulator "
        "sees zero requests. The error column is the message the user gets.",
        [("requests", "requests")],
    ),
    "hardening": (
        "Hardening (hostile server, hostile input)",
        "A local server misbehaves on purpose: echoes every credential the client sent (headers and body) "
        "in each place a reply carries text, inflates gzip bombs, drips the body one byte every 0.2 s or "
        "the status line and headers one byte every 0.5 s, answers 503 with `Retry-After: 10` (or a "
        "zero, negative or past one), nests JSON 200,000 deep. *Peak RSS* is measured in a "
        "subprocess (`ru_maxrss`) against the same call with a small reply (*baseline*); *s past deadline* "
        "is how long after the trigger's `end_time` / the wait's timeout (or an attempt's bound) the result "
        "came; *s between retries* is the shortest gap between two requests; *requests* is "
        "what the local server saw (0 = refused before any HTTP); *leaks* counts credential values found "
        "in the texts searched (exception text, repr and fields, sync and async, the trigger event, every "
        "log record); *warnings* is sync / async / trigger.",
        [
            ("texts", "texts searched"),
            ("leaks", "leaks"),
            ("peak_rss_mb", "peak RSS MB"),
            ("baseline_rss_mb", "baseline RSS MB"),
            ("seconds_past", "s past deadline"),
            ("wait_s", "s between retries"),
            ("warnings", "warnings"),
            ("requests", "requests"),
        ],
    ),
    "triggers": (
        "Paging, argument rules and the triggers",
        "Issues #23 and #24 (items 2, 4, 7): the hook's paging against a server that repeats a page, "
        "overstates `total` or sends more jobs than asked for; every bad trigger, sensor and operator "
        "argument refused at construction (the DAG file's parse), before any request; the asset "
        "watcher's cost per poll (list requests + history reads) and the size of its stored state "
        "(*state bytes*: the JSON the asset state store holds) against a local server listing 20,000 "
        "jobs; its backoff and `Retry-After` when every poll fails. *Requests* is what the local server "
        "saw (0 = refused before any HTTP). The figures come from loaded shared machines: *seconds* is "
        "wall time, not a benchmark.",
        [
            ("requests", "requests"),
            ("requests_per_poll", "most requests of one poll"),
            ("jobs", "jobs returned"),
            ("state_bytes", "state bytes"),
            ("seconds", "seconds"),
        ],
    ),
}
OUTCOME = {
    "passed": "pass",
    "failed": "**FAIL**",
    "xfailed": "known bug (xfail)",
    "xpassed": "**XPASS**",
    "skipped": "skipped",
    "not run": "not run",
}


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text.replace("\n", " "))
    return text.replace("|", "\\|").strip()


def render(data: dict[str, Any]) -> str:
    rows: list[dict[str, Any]] = data["rows"]
    by_outcome: dict[str, int] = {}
    for row in rows:
        by_outcome[row["outcome"]] = by_outcome.get(row["outcome"], 0) + 1
    lines = [
        "# Reliability",
        "",
        "<!-- generated by tests/reliability/make_table.py from a run of tests/reliability; do not edit -->",
        "",
        "What the provider does when things go wrong, as checked by `tests/reliability` against the "
        "LakeFormation emulator over real HTTP (plus local canned-reply and HTTPS servers where the "
        "emulator cannot misbehave in the needed way). Every row is one test; the counts are the ones "
        "that run observed.",
        "",
        f"Generated {data['generated_at']} from a run of {len(rows)} scenarios in {data['wall_seconds']} s: "
        + ", ".join(f"{n} {OUTCOME.get(k, k)}" for k, n in sorted(by_outcome.items()))
        + ".",
        "",
        "Run: `python -m pytest tests/reliability -q`, then "
        "`python tests/reliability/make_table.py --no-run` "
        "(or just `python tests/reliability/make_table.py`, "
        "which runs the suite first).",
        "",
    ]
    known = [r for r in rows if r["outcome"] in ("xfailed", "failed", "xpassed")]
    if known:
        lines += ["## Known problems", ""]
        for r in known:
            lines.append(f"- **{_cell(r['scenario'])}** ({OUTCOME[r['outcome']]}): {_cell(r['note'])}")
        lines.append("")
    for category, (title, intro, columns) in SECTIONS.items():
        chosen = [r for r in rows if r["category"] == category]
        if not chosen:
            continue
        keys = [k for k, _ in columns if any(k in r["counts"] for r in chosen)]
        headers = ["scenario", "checked", "outcome", *[h for k, h in columns if k in keys]]
        if category == "bad_input":
            headers[1] = "error"
        lines += [
            f"## {title}",
            "",
            intro,
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        for r in chosen:
            cells = [
                r["scenario"],
                r["checked"],
                OUTCOME.get(r["outcome"], r["outcome"]),
                *[r["counts"].get(k, "") for k in keys],
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    lines += [
        "## Not covered here",
        "",
        "- The real Huawei Cloud service: its answers to faults may differ from the emulator's.",
        "- A late, delayed request that the service processes *after* the client re-sent it and *after* the "
        "run it collides with has ended would start a second run: the API has no idempotency key, so no "
        "client can rule this out (the slow-start scenario checks the case where the late request meets "
        "the running job and is refused).",
        "- Triggerer/scheduler processes themselves (the triggerer restart is reproduced by cancelling the "
        "trigger task and rebuilding it from its serialized kwargs, as the triggerer does).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--json", type=Path, default=Path(os.environ.get("LF_RELIABILITY_JSON") or DEFAULT_JSON)
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-run", action="store_true", help="render the existing JSON, do not run pytest")
    args = parser.parse_args(argv)
    rc = 0
    if not args.no_run:
        env = {**os.environ, "LF_RELIABILITY_JSON": str(args.json.resolve())}
        rc = subprocess.call(
            [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
        )
    data = json.loads(args.json.read_text(encoding="utf-8"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(data), encoding="utf-8")
    print(f"wrote {args.out} ({len(data['rows'])} scenarios)")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
