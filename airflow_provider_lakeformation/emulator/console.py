"""Minimal HTML pages standing in for the LakeFormation console (``/console/jobs/{job_id}``).

The pages need no credentials (the emulator is for loopback and test use: docs/emulator.md), so they
show no secret: the stored jobs hold none of the datasource secret fields, and the credentials a URL
may carry (``user:password@``, ``?password=``, ``;password=``) are shown as ``***``
(:func:`masked`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
pre{background:#f6f6f6;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere}
tr.selected td{background:#fff3c4;font-weight:bold}.notice{background:#fce8e6;padding:.5em 1em}
.SUCCESS{color:#137333}.FAILED{color:#c5221f}.PARTIAL_SUCCESS{color:#b06000}
.RUNNING,.SUBMITTED{color:#1a73e8}.STOPPED{color:#5f6368}
"""


_USERINFO = re.compile(r"(?<=://)[^/?#\s\"'<>]*@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;][\w.\-]*(?:pass|pwd|secret|token|key|signature|credential)[\w.\-]*=)[^&;#\s\"'<>]*"
)


def masked(text: str) -> str:
    """``text`` with every URL userinfo and secret-named URL parameter value replaced by ``***``."""
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub("***@", text))


def _time(value: Any) -> str:
    if value is None:
        return "-"
    try:
        moment = datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    except (TypeError, ValueError):
        return escape(str(value))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _status(value: Any) -> str:
    raw = value.get("status") if isinstance(value, dict) else value
    text = escape(str(raw))
    return f'<b class="{text}">{text}</b>'


def _page(title: str, body: str, *, refresh: bool = False) -> str:
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    return (
        f'<!doctype html><html><head><meta charset="utf-8">{meta}<title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _history_rows(history: list[dict[str, Any]], selected: str | None) -> str:
    rows = []
    for run in history:
        chosen = selected is not None and run.get("run_id") == selected
        attrs = ' class="selected" aria-current="true"' if chosen else ""
        rows.append(
            f'<tr{attrs} id="run-{escape(str(run.get("run_id", "")))}">'
            f"<td>{escape(str(run.get('run_number', '')))}</td><td>{_status(run.get('status'))}</td>"
            f"<td>{_time(run.get('start_time'))}</td><td>{_time(run.get('end_time'))}</td>"
            f"<td>{escape(str(run.get('mode') or ''))}</td>"
            f"<td>{escape(str(run.get('run_id', '')))}</td></tr>"
        )
    return "".join(rows)


def _job_table(job: dict[str, Any]) -> str:
    return (
        "<table>"
        f"<tr><th>ID</th><td>{escape(str(job.get('id')))}</td></tr>"
        f"<tr><th>Type</th><td>{escape(str(job.get('type')))}</td></tr>"
        f"<tr><th>Status</th><td>{_status(job.get('status'))}</td></tr>"
        f"<tr><th>Description</th><td>{escape(str(job.get('description') or ''))}</td></tr>"
        f"<tr><th>Created</th><td>{_time(job.get('create_time'))}</td></tr>"
        f"<tr><th>Last start</th><td>{_time(job.get('start_time'))}</td></tr>"
        f"<tr><th>Last end</th><td>{_time(job.get('end_time'))}</td></tr>"
        "</table>"
    )


def job_page(
    job: dict[str, Any],
    history: list[dict[str, Any]],
    log: str,
    *,
    in_progress: bool,
    selected: str | None = None,
    missing_run: str | None = None,
) -> str:
    """The page of one job; ``selected`` (a run id) is highlighted and ``log`` is that run's."""
    notice = (
        f'<p class="notice">No run {escape(missing_run)} in this job\'s history: showing the latest run.</p>'
        if missing_run
        else ""
    )
    run_no = next((r.get("run_number") for r in history if r.get("run_id") == selected), None)
    log_title = f"Log (run {escape(str(run_no))})" if run_no is not None else "Log"
    params = escape(masked(json.dumps(job.get("parameter", {}), indent=2)))
    body = (
        f"<h1>Job {escape(str(job.get('name')))}</h1>{notice}{_job_table(job)}"
        "<h2>History</h2><table><tr><th>Run</th><th>Status</th><th>Start</th><th>End</th>"
        f"<th>Mode</th><th>Run ID</th></tr>{_history_rows(history, selected)}</table>"
        f"<h2>{log_title}</h2><pre>{escape(masked(log)) or '(no run yet)'}</pre>"
        f"<h2>Parameters</h2><pre>{params}</pre>"
        '<p><a href="/console/jobs">all jobs</a></p>'
    )
    return _page(f"LakeFormation emulator - {job.get('name')}", body, refresh=in_progress)


def jobs_page(jobs: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr><td><a href="/console/jobs/{escape(str(j["id"]))}">{escape(str(j.get("name")))}</a></td>'
        f"<td>{escape(str(j.get('type')))}</td><td>{_status(j.get('status'))}</td>"
        f"<td>{_time(j.get('start_time'))}</td></tr>"
        for j in jobs
    )
    body = (
        "<h1>LakeFormation emulator: jobs</h1>"
        f"<table><tr><th>Name</th><th>Type</th><th>Status</th><th>Last start</th></tr>{rows}</table>"
    )
    return _page("LakeFormation emulator - jobs", body)


def not_found_page(job_id: str) -> str:
    return _page(
        "Job not found", f'<h1>No job {escape(job_id)}</h1><p><a href="/console/jobs">all jobs</a></p>'
    )
