"""The provider's ``[lakeformation]`` Airflow config options read by the task layer (operators,
sensor, triggers), each read in one place."""

from __future__ import annotations

from typing import Any

from airflow_provider_lakeformation.models.arguments import (
    MIN_DEFERRAL_SECONDS,
    MIN_POLL_INTERVAL,
    deferral_hold_arg,
    flag_arg,
    poll_interval_arg,
)

__all__ = ["checked_min_deferral", "checked_poll_interval", "poll_interval_floor", "status_feed_enabled"]


def poll_interval_floor() -> float:
    """``[lakeformation] min_poll_interval`` (default :data:`~airflow_provider_lakeformation.models.
    arguments.MIN_POLL_INTERVAL`, 1 s): the shortest poll interval of any wait (operators, sensor,
    triggers). Test set-ups lower it; the rule never accepts less than 0.01 s whatever it says.

    :return: seconds.
    """
    from airflow.providers.common.compat.sdk import conf

    return float(conf.getfloat("lakeformation", "min_poll_interval", fallback=MIN_POLL_INTERVAL))


def checked_poll_interval(name: str, value: Any) -> float:
    """``value`` by the poll-interval rule (:func:`~airflow_provider_lakeformation.models.arguments.
    poll_interval_arg`) with the configured floor (:func:`poll_interval_floor`).

    :param name: the argument's name (named in the error).
    :param value: the interval in seconds.
    :return: the interval.
    :raises LakeFormationSpecError: 0, negative, NaN, infinite, below the floor or above 30 days.
    """
    return poll_interval_arg(name, value, poll_interval_floor())


def checked_min_deferral(value: Any) -> float:
    """``min_deferral_seconds`` of a task (:func:`~airflow_provider_lakeformation.models.arguments.
    deferral_hold_arg`), or ``[lakeformation] min_deferral_seconds`` (default
    :data:`~airflow_provider_lakeformation.models.arguments.MIN_DEFERRAL_SECONDS`, 10 s) when
    ``None``.

    :param value: seconds, or ``None`` for the configured default.
    :return: seconds.
    :raises LakeFormationSpecError: not a number, not finite, negative or above 300 s (the task's
        argument or the config option, each named).
    """
    if value is not None:
        return deferral_hold_arg("min_deferral_seconds", value)
    from airflow.providers.common.compat.sdk import conf

    configured = conf.get("lakeformation", "min_deferral_seconds", fallback=str(MIN_DEFERRAL_SECONDS))
    return deferral_hold_arg("[lakeformation] min_deferral_seconds", configured)


def status_feed_enabled() -> bool:
    """``[lakeformation] status_feed`` (default on): the triggers of one connection, project and
    instance in a triggerer share one status feed (the job trigger's
    :mod:`~airflow_provider_lakeformation.triggers.status_feed`; on Airflow 3.3+ the run watcher's
    shared stream) instead of each polling alone. ``false`` (or
    ``AIRFLOW__LAKEFORMATION__STATUS_FEED=false``) makes every trigger poll alone, as before 0.1.0.

    :return: True when the feed is on.
    :raises LakeFormationSpecError: the option is not a boolean word.
    """
    from airflow.providers.common.compat.sdk import conf

    configured = conf.get("lakeformation", "status_feed", fallback="true")
    return flag_arg(configured, "[lakeformation] status_feed", True)
