"""``hook_params`` (a task's retry policy) is checked when the task is built, under the rules of the
connection extras of the same names (issue #26 item 3)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import ConnectionSettings, RetrySettings
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

BAD = [
    ({"retries": 3}, "retries: not a retry setting"),
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": 101}, "max_retries"),
    ({"max_retries": "many"}, "max_retries"),
    ({"retry_min_wait": 0}, "min_wait"),
    ({"retry_max_wait": float("inf")}, "max_wait"),
    ({"retry_after_cap": 3601}, "retry_after_cap"),
    ({"retry_min_wait": 5, "retry_max_wait": 1}, "max_wait: must be greater than or equal to min_wait"),
]


@pytest.mark.parametrize(("params", "named"), BAD)
@pytest.mark.parametrize(
    "make",
    [
        lambda p: LakeFormationStartJobOperator(task_id="t", job_id="j", hook_params=p),
        lambda p: LakeFormationCreateJobOperator(task_id="t", job={}, hook_params=p),
        lambda p: LakeFormationJobSensor(task_id="t", job_id="j", hook_params=p),
    ],
)
def test_bad_hook_params_fail_at_construction(params: dict[str, Any], named: str, make: Any) -> None:
    with pytest.raises(LakeFormationSpecError, match="invalid hook_params") as info:
        make(params)
    assert named in str(info.value)


@pytest.mark.parametrize(("params", "named"), BAD[1:])
def test_the_connection_refuses_the_same_values(params: dict[str, Any], named: str) -> None:
    extra = {"project_id": "p", "instance_id": "i", **params}
    with pytest.raises(LakeFormationSpecError) as info:
        ConnectionSettings.from_fields(host="http://127.0.0.1:1", login="ak", password="sk", extra=extra)
    assert named in str(info.value)


def test_not_a_mapping() -> None:
    with pytest.raises(LakeFormationSpecError, match="hook_params: must be a dict"):
        LakeFormationStartJobOperator(task_id="t", job_id="j", hook_params=[("max_retries", 1)])  # type: ignore[arg-type]


def test_a_single_bound_is_not_judged_against_the_defaults() -> None:
    # 45 s is above the default retry_max_wait (30 s), fine for a connection whose maximum is higher
    LakeFormationStartJobOperator(task_id="t", job_id="j", hook_params={"retry_min_wait": 45})
    base = RetrySettings(min_wait=1, max_wait=60)
    merged = RetrySettings.from_extras({"retry_min_wait": 45}, base=base)
    assert merged == RetrySettings(min_wait=45, max_wait=60)
    assert RetrySettings.from_extras({"max_retries": "2"}, base=base).max_retries == 2
