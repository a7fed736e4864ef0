"""The argument rules of ``models/arguments.py`` at their edges, and one reading of booleans."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.hooks._settings import _flag
from airflow_provider_lakeformation.models.arguments import (
    MIN_DEFERRAL_SECONDS,
    POLL_INTERVAL_HARD_FLOOR,
    bool_arg,
    count_arg,
    deferral_hold_arg,
    epoch_arg,
    poll_interval_arg,
)

WORDS = ["true", "False", " yes ", "off", "1", "0", 1, 0, True, False, None, "", "none"]


@pytest.mark.parametrize("value", WORDS)
def test_connection_extras_read_booleans_like_arguments(value: Any) -> None:
    problems: list[str] = []
    assert _flag("allow_insecure_transport", value, problems) is bool(bool_arg(value, "x"))
    assert problems == []


@pytest.mark.parametrize("value", ["maybe", 2, [True]])
def test_a_non_boolean_is_refused_by_both(value: Any) -> None:
    problems: list[str] = []
    assert _flag("allow_insecure_transport", value, problems) is False
    assert problems == ["allow_insecure_transport: must be true or false"]
    with pytest.raises(LakeFormationSpecError, match="x: must be true or false"):
        bool_arg(value, "x")


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), 1e-9, 0.99, "abc", True, 31 * 86400])
def test_poll_interval_rule(value: Any) -> None:
    with pytest.raises(LakeFormationSpecError, match="poll_interval"):
        poll_interval_arg("poll_interval", value, 1.0)


def test_poll_interval_floor_never_below_the_hard_floor() -> None:
    assert poll_interval_arg("poll_interval", "1.5", 1.0) == 1.5
    assert poll_interval_arg("poll_interval", POLL_INTERVAL_HARD_FLOOR, 0.0) == POLL_INTERVAL_HARD_FLOOR
    with pytest.raises(LakeFormationSpecError, match=r"at least 0\.01 seconds"):
        poll_interval_arg("poll_interval", 0.001, 0.0)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (3, True),
        ("3", True),
        (3.0, True),
        (3.5, False),
        (-1, False),
        (1001, False),
        (True, False),
        (float("nan"), False),
    ],
)
def test_count_rule(value: Any, ok: bool) -> None:
    if ok:
        assert count_arg("max_transient_errors", value, 0, 1000) == 3
    else:
        with pytest.raises(
            LakeFormationSpecError, match="max_transient_errors: must be an integer from 0 to 1000"
        ):
            count_arg("max_transient_errors", value, 0, 1000)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, "soon", True])
def test_epoch_rule(value: Any) -> None:
    with pytest.raises(LakeFormationSpecError, match="end_time"):
        epoch_arg("end_time", value)
    assert epoch_arg("end_time", None) is None


@pytest.mark.parametrize("value", [float("nan"), -1, 300.5, "soon", float("inf"), [1]])
def test_min_deferral_seconds_refused_at_construction(value: Any) -> None:
    from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
    from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

    for build in (
        lambda: LakeFormationStartJobOperator(task_id="s", job_id="j", min_deferral_seconds=value),
        lambda: LakeFormationJobSensor(task_id="w", job_id="j", min_deferral_seconds=value),
    ):
        with pytest.raises(LakeFormationSpecError, match="min_deferral_seconds"):
            build()


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), ("2.5", 2.5), (300, 300.0)])
def test_min_deferral_seconds_accepted(value: Any, expected: float) -> None:
    assert deferral_hold_arg("min_deferral_seconds", value) == expected


def test_min_deferral_seconds_default_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_lakeformation.config import checked_min_deferral

    monkeypatch.setenv("AIRFLOW__LAKEFORMATION__MIN_DEFERRAL_SECONDS", "7")
    assert checked_min_deferral(None) == 7.0
    monkeypatch.setenv("AIRFLOW__LAKEFORMATION__MIN_DEFERRAL_SECONDS", "-3")
    with pytest.raises(LakeFormationSpecError, match=r"\[lakeformation\] min_deferral_seconds"):
        checked_min_deferral(None)
    monkeypatch.delenv("AIRFLOW__LAKEFORMATION__MIN_DEFERRAL_SECONDS")
    assert checked_min_deferral(None) == MIN_DEFERRAL_SECONDS == 10.0


@pytest.mark.parametrize("value", [float("nan"), -5, "later"])
def test_trigger_hold_until_refused(value: Any) -> None:
    from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

    with pytest.raises(LakeFormationSpecError, match="hold_until"):
        LakeFormationJobTrigger(job_id="j", hold_until=value)
