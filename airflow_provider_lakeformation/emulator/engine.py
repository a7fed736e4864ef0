"""Job behaviour of the emulator: description markers, the time-driven state machine and run logs.

Nothing here stores anything: a run is a row of timestamps and durations, and its status and log
are computed from those and the current time whenever asked, so they survive restarts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .schema import BLOCK_FOR_TYPE
from .status import OUTCOMES, Status

MARKER_RE = re.compile(r"\[lf-emulator:([A-Za-z_]+)=([^\]]*)\]")
MARKER_KEYS = ("outcome", "duration", "submit", "reason")
#: Largest duration a marker may ask for (one day).
MAX_MARKER_SECONDS = 86400.0


class MarkerError(ValueError):
    """A ``[lf-emulator:...]`` marker in a description that the emulator cannot honour."""


@dataclass(frozen=True)
class Markers:
    outcome: str | None = None
    duration: float | None = None
    submit: float | None = None
    reason: str | None = None


def parse_markers(description: str | None) -> Markers:
    """Read ``[lf-emulator:key=value]`` markers; raise :class:`MarkerError` for a bad one."""
    if not description:
        return Markers()
    values: dict[str, Any] = {}
    for key, raw in MARKER_RE.findall(description):
        value = raw.strip()
        if key not in MARKER_KEYS:
            raise MarkerError(f"unknown emulator marker {key!r} (known: {', '.join(MARKER_KEYS)})")
        if key == "outcome":
            value = value.upper()
            if value not in OUTCOMES:
                raise MarkerError(f"outcome marker must be one of {', '.join(sorted(OUTCOMES))}")
            values[key] = value
        elif key in ("duration", "submit"):
            try:
                seconds = float(value)
            except ValueError:
                raise MarkerError(f"{key} marker must be a number of seconds") from None
            if not 0 <= seconds <= MAX_MARKER_SECONDS:
                raise MarkerError(f"{key} marker must be between 0 and {MAX_MARKER_SECONDS:.0f} seconds")
            values[key] = seconds
        else:
            values[key] = value
    return Markers(**values)


# ------------------------------------------------------------------------------------------ records


@dataclass
class JobRecord:
    """A stored job. ``parameter`` never holds secrets; ``secrets`` maps their JSON paths to hashes."""

    id: str
    name: str
    type: str
    description: str | None
    parameter: dict[str, Any]
    secrets: dict[str, str]
    create_ms: int
    update_ms: int
    last_run_no: int = 0
    last_start_ms: int | None = None


@dataclass
class RunRecord:
    """One start of a job, with everything needed to replay its life."""

    job_id: str
    run_no: int
    run_id: str
    start_ms: int
    submit_ms: int
    run_ms: int
    outcome: str
    reason: str | None
    mode: str | None
    cascade: bool | None
    snapshot: dict[str, Any] = field(default_factory=dict)
    stop_requested_ms: int | None = None
    stop_effective_ms: int | None = None

    @property
    def submit_end_ms(self) -> int:
        return self.start_ms + self.submit_ms

    @property
    def natural_end_ms(self) -> int:
        return self.start_ms + self.submit_ms + self.run_ms

    @property
    def stops_early(self) -> bool:
        """A stop takes effect before the run would have ended by itself."""
        return self.stop_effective_ms is not None and self.stop_effective_ms < self.natural_end_ms

    @property
    def end_ms(self) -> int:
        """When the run ends (or ended)."""
        if self.stops_early:
            assert self.stop_effective_ms is not None
            return self.stop_effective_ms
        return self.natural_end_ms

    @property
    def final_status(self) -> Status:
        return Status.STOPPED if self.stops_early else Status(self.outcome)

    def status_at(self, now_ms: int) -> Status:
        if now_ms >= self.end_ms:
            return self.final_status
        if now_ms < self.submit_end_ms:
            return Status.SUBMITTED
        return Status.RUNNING


def job_status(run: RunRecord | None, now_ms: int) -> Status:
    return Status.CREATED if run is None else run.status_at(now_ms)


# ------------------------------------------------------------------------------------------- wire


def ms_string(ms: int | None) -> str | None:
    """Timestamps are sent as epoch milliseconds in a string (``"1732530000123"``)."""
    return None if ms is None else str(ms)


def status_value(status: Status | str, shape: str) -> Any:
    text = status.value if isinstance(status, Status) else status
    return {"status": text} if shape == "object" else text


def job_to_wire(
    job: JobRecord, run: RunRecord | None, now_ms: int, shape: str, reported: str | None = None
) -> dict[str, Any]:
    """The job object of create/get/modify/list (secrets never included, None fields left out).

    ``reported`` replaces the status shown (``POST /_emulator/jobs/{id}/status``); the state
    machine underneath carries on unchanged.
    """
    status = job_status(run, now_ms)
    body: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "description": job.description,
        "type": job.type,
        "parameter": job.parameter,
        "create_time": ms_string(job.create_ms),
        "update_time": ms_string(job.update_ms),
        "start_time": ms_string(run.start_ms if run else None),
        "end_time": ms_string(run.end_ms if run is not None and status.is_terminal else None),
        "status": status_value(reported or status, shape),
    }
    return {k: v for k, v in body.items() if v is not None}


def run_to_wire(job: JobRecord, run: RunRecord, now_ms: int, shape: str) -> dict[str, Any]:
    """One entry of the history: a job summary for one run."""
    status = run.status_at(now_ms)
    body: dict[str, Any] = {
        "id": job.id,
        "run_id": run.run_id,
        "run_number": run.run_no,
        "name": job.name,
        "type": job.type,
        "status": status_value(status, shape),
        "start_time": ms_string(run.start_ms),
        "end_time": ms_string(run.end_ms if status.is_terminal else None),
        "mode": run.mode,
        "cascade": run.cascade,
    }
    return {k: v for k, v in body.items() if v is not None}


# -------------------------------------------------------------------------------------------- logs


def _block(snapshot: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = str(snapshot.get("block", "parameter"))
    params = snapshot.get("parameter", {})
    return name, params if isinstance(params, dict) else {}


def _object_count(run: RunRecord) -> int:
    digest = hashlib.sha256(f"{run.job_id}/{run.run_no}".encode()).digest()
    return 8 + digest[0] % 40


def describe_work(snapshot: dict[str, Any]) -> str:
    """One line saying what the run does, from its parameter block (no secrets in snapshots)."""
    block, p = _block(snapshot)
    if block == "metadata_migration_parameter":
        objects = ", ".join(p.get("sync_objects") or []) or "objects"
        return (
            f"migrating {objects} from {p.get('datasource_type')} catalog {p.get('source_catalog')} "
            f"to catalog {p.get('target_catalog')} (conflict_strategy={p.get('conflict_strategy')}, "
            f"log_location={p.get('log_location')})"
        )
    if block == "permission_migration_parameter":
        source = p.get("location")
        if p.get("file_name"):
            source = f"{source}/{p['file_name']}"
        return (
            f"migrating {p.get('policy_type')} permissions from {source} "
            f"(catalog {p.get('catalog_id') or 'default'}, log_location={p.get('log_location')})"
        )
    if block == "metadata_discovery_parameter":
        return (
            f"discovering {p.get('file_discovery_type')} files under {p.get('data_location')} into "
            f"{p.get('target_catalog')}.{p.get('target_database')} "
            f"(conflict_strategy={p.get('conflict_strategy')}, log_location={p.get('log_location')})"
        )
    return "running"


def default_failure_reason(snapshot: dict[str, Any]) -> str:
    block, p = _block(snapshot)
    if block == "metadata_migration_parameter":
        return f"cannot connect to the {p.get('datasource_type')} source metastore: connection timed out"
    if block == "permission_migration_parameter":
        return (
            f"cannot read the {p.get('policy_type')} policy file under {p.get('location')}: object not found"
        )
    if block == "metadata_discovery_parameter":
        return f"cannot list objects under {p.get('data_location')}: access denied"
    return "internal error"


def _fmt_time(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def log_events(run: RunRecord) -> list[tuple[int, str, str]]:
    """Every line the run will ever log, as (epoch ms, level, text), in time order."""
    block, _ = _block(run.snapshot)
    total = _object_count(run)
    name = run.snapshot.get("name", run.job_id)
    events: list[tuple[int, str, str]] = [
        (
            run.start_ms,
            "INFO",
            f"run {run.run_no} of job {name} ({run.snapshot.get('type')}) submitted: run_id={run.run_id}, "
            f"mode={run.mode or 'NORMAL'}, cascade={str(bool(run.cascade)).lower()}",
        ),
        (run.submit_end_ms, "INFO", f"run {run.run_no} running: {block}: {describe_work(run.snapshot)}"),
    ]
    for pct in (25, 50, 75):
        at = run.submit_end_ms + run.run_ms * pct // 100
        done = total * pct // 100
        events.append((at, "INFO", f"progress {pct}%: {block}: processed {done}/{total} objects"))
    end = run.natural_end_ms
    reason = run.reason or default_failure_reason(run.snapshot)
    if run.outcome == Status.SUCCESS.value:
        events.append((end, "INFO", f"{block}: processed {total}/{total} objects"))
    elif run.outcome == Status.FAILED.value:
        events.append((end, "ERROR", f"{block}: job failed: {reason}"))
    else:
        failed = max(1, total // 5)
        events.append((end, "WARN", f"{block}: {failed} of {total} objects failed: {reason}"))
    events.append((end, "INFO", f"run {run.run_no} finished: {run.outcome}"))
    if run.stops_early:
        assert run.stop_requested_ms is not None
        assert run.stop_effective_ms is not None
        stop_at = run.stop_effective_ms
        events = [e for e in events if e[0] < stop_at]
        events.append((run.stop_requested_ms, "WARN", f"run {run.run_no}: stop signal received"))
        events.append((stop_at, "INFO", f"run {run.run_no} finished: {Status.STOPPED.value}"))
        events.sort(key=lambda e: e[0])
    return events


def run_log(run: RunRecord | None, now_ms: int) -> str:
    """The log of ``run`` up to ``now_ms``: ``<ISO time> <LEVEL> <text>`` lines."""
    if run is None:
        return ""
    lines = [f"{_fmt_time(at)} {level:<5} {text}" for at, level, text in log_events(run) if at <= now_ms]
    return "\n".join(lines) + ("\n" if lines else "")


def run_snapshot(job: JobRecord) -> dict[str, Any]:
    """What a run remembers of its job (the parameter block as it was when the run started)."""
    block = BLOCK_FOR_TYPE.get(job.type, "parameter")
    return {
        "name": job.name,
        "type": job.type,
        "block": block,
        "parameter": job.parameter.get(block, {}),
    }
