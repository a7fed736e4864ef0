"""A task's own retry policy (``hook_params``) over the connection's, against the emulator's
injected faults over real HTTP (issue #26 item 3). The connection allows 1 retry (FAST_RETRIES)."""

from __future__ import annotations

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationRetryableError, LakeFormationSpecError
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStopJobOperator
from tests.integration.test_operators_support import lf_conn, make_context, new_job, task_log, xcoms

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn", "task_log"]

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.02}


def test_task_retries_more_than_the_connection(emulator: EmulatorServer) -> None:
    job_id = new_job("retried_more")
    emulator.inject_fault(503, count=3, method="GET", path_contains=job_id)
    op = LakeFormationStopJobOperator(task_id="stop", job_id=job_id, hook_params={"max_retries": 3, **FAST})
    context = make_context()
    assert op.execute(context) == job_id  # 3 x 503, then the answer: the connection's 1 retry would fail
    assert xcoms(context)["job_status"] == "CREATED"
    assert emulator.faults() == []


def test_task_retries_less_than_the_connection(emulator: EmulatorServer) -> None:
    job_id = new_job("retried_less")
    emulator.inject_fault(503, count=1, method="GET", path_contains=job_id)
    op = LakeFormationStopJobOperator(task_id="stop", job_id=job_id, hook_params={"max_retries": "0"})
    with pytest.raises(LakeFormationRetryableError, match="gave up after 1 attempt"):
        op.execute(make_context())


def test_order_is_checked_against_the_connection_when_the_hook_is_built(emulator: EmulatorServer) -> None:
    # the connection's retry_max_wait is 0.05 s: a task minimum of 1 s cannot be below it
    op = LakeFormationStopJobOperator(task_id="stop", job_id="j-1", hook_params={"retry_min_wait": 1})
    before = emulator.stats()["requests"]
    with pytest.raises(LakeFormationSpecError, match="invalid hook_params: max_wait: must be greater"):
        op.execute(make_context())
    assert emulator.stats()["requests"] == before
