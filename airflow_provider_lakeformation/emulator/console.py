"""Minimal HTML pages standing in for the LakeFormation console (``/console/jobs/{job_id}``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
pre{background:#f6f6f6;padding:1em;overflow:auto}
.SUCCESS{color:#137333}.FAILED{color:#c5221f}.PARTIAL_SUCCESS{color:#b06000}
.RUNNING,.SUBMITTED{color:#1a73e8}.STOPPED{color:#5f6368}
"""


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


def job_page(job: dict[str, Any], history: list[dict[str, Any]], log: str, *, in_progress: bool) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(run.get('run_number', '')))}</td><td>{_status(run.get('status'))}</td>"
        f"<td>{_time(run.get('start_time'))}</td><td>{_time(run.get('end_time'))}</td>"
        f"<td>{escape(str(run.get('mode', '')))}</td></tr>"
        for run in history
    )
    params = escape(json.dumps(job.get("parameter", {}), indent=2))
    body = (
        f"<h1>Job {escape(str(job.get('name')))}</h1>"
        "<table>"
        f"<tr><th>ID</th><td>{escape(str(job.get('id')))}</td></tr>"
        f"<tr><th>Type</th><td>{escape(str(job.get('type')))}</td></tr>"
        f"<tr><th>Status</th><td>{_status(job.get('status'))}</td></tr>"
        f"<tr><th>Description</th><td>{escape(str(job.get('description') or ''))}</td></tr>"
        f"<tr><th>Created</th><td>{_time(job.get('create_time'))}</td></tr>"
        f"<tr><th>Last start</th><td>{_time(job.get('start_time'))}</td></tr>"
        f"<tr><th>Last end</th><td>{_time(job.get('end_time'))}</td></tr>"
        "</table>"
        f"<h2>History</h2><table><tr><th>Run</th><th>Status</th><th>Start</th><th>End</th><th>Mode</th></tr>"
        f"{rows}</table>"
        f"<h2>Log (latest run)</h2><pre>{escape(log) or '(no run yet)'}</pre>"
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
