"""The start of a job is logged once, in one line with the facts (job, type, name, status, the run's
start_time, mode, cascade), against the emulator over real HTTP."""

from __future__ import annotations

import re

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from tests.integration.test_operators_support import (
    POLL,
    lf_conn,
    make_context,
    new_job,
    task_log,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]  # fixtures used by name


def _start_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"started LakeFormation job", line, re.I)]


@pytest.mark.parametrize(
    ("kwargs", "mode", "cascade"),
    [
        ({}, "not given (service default)", "not given (service default)"),
        ({"mode": "COMPARISON", "cascade": True}, "COMPARISON", "true"),
    ],
)
def test_one_start_line_with_the_facts(
    emulator: EmulatorServer,
    task_log: pytest.LogCaptureFixture,
    kwargs: dict[str, object],
    mode: str,
    cascade: str,
) -> None:
    job_id = new_job("start_log_line")
    op = LakeFormationStartJobOperator(
        task_id="start", job_id=job_id, poll_interval=POLL, deferrable=False, **kwargs
    )
    op.execute(make_context())
    lines = _start_lines(task_log.text)
    assert len(lines) == 1, lines
    job = emulator_job(emulator, job_id)
    expected = (
        rf"Started LakeFormation job {job_id} \(METADATA_MIGRATION 'start_log_line'\): (SUBMITTED|RUNNING), "
        rf"run start_time {job['start_time']}, mode {re.escape(mode)}, cascade {re.escape(cascade)}$"
    )
    assert re.search(expected, lines[0]), lines[0]


def emulator_job(emulator: EmulatorServer, job_id: str) -> dict[str, object]:
    import requests

    resp = requests.get(emulator.job_url(job_id), headers={"X-Auth-Token": emulator.token}, timeout=10)
    resp.raise_for_status()
    body: dict[str, object] = resp.json()
    return body
