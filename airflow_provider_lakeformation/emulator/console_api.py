"""Routes of the console pages (no credentials): ``/console/jobs`` and ``/console/jobs/{job_id}``.

``/console/jobs/{job_id}?run=<run id or start time>`` addresses one run: that run's row of the
history is highlighted and its log is shown (the start time is the job's ``start_time`` as the
API returns it, epoch milliseconds).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from . import console
from .common import Emu, now_ms
from .engine import RunRecord, job_status, job_to_wire, run_log, run_to_wire

router = APIRouter()


@router.get("/console/jobs", name="console_jobs", response_class=HTMLResponse)
async def console_jobs(emu: Emu) -> HTMLResponse:
    with emu.store.read() as tx:
        rows = tx.jobs()
    stamp = now_ms()
    return HTMLResponse(console.jobs_page([job_to_wire(j, r, stamp, "string") for j, r in rows]))


def select_run(runs: list[RunRecord], wanted: str | None) -> RunRecord | None:
    """The run ``wanted`` names (run id or start time in epoch ms); None when nothing matches."""
    if not wanted:
        return runs[0] if runs else None
    for run in runs:
        if wanted in (run.run_id, str(run.start_ms)):
            return run
    return None


@router.get("/console/jobs/{job_id}", name="console_job", response_class=HTMLResponse)
async def console_job(job_id: str, emu: Emu, run: str | None = None) -> HTMLResponse:
    with emu.store.read() as tx:
        found = tx.job(job_id)
        runs = tx.runs(job_id) if found else []
    if found is None:
        return HTMLResponse(console.not_found_page(job_id), status_code=404)
    job, latest = found
    stamp = now_ms()
    chosen = select_run(runs, run)
    missing = run if run and chosen is None else None
    if chosen is None and runs:
        chosen = runs[0]  # an unknown run: say so, and show the latest
    history = [{**run_to_wire(job, r, stamp, "string"), "mode": r.mode or "NORMAL"} for r in runs]
    page = console.job_page(
        job_to_wire(job, latest, stamp, "string"),
        history,
        run_log(chosen, stamp),
        in_progress=job_status(latest, stamp).is_in_progress,
        selected=chosen.run_id if chosen else None,
        missing_run=missing,
    )
    return HTMLResponse(page)
