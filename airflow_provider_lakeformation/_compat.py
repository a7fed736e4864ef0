"""Airflow 3 imports (``airflow.sdk``) with fallbacks for Airflow 2.11, kept in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

try:  # Airflow 3
    from airflow.sdk.exceptions import AirflowException, AirflowNotFoundException
except ImportError:  # pragma: no cover - Airflow 2.11
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowNotFoundException,
    )

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, Context
else:
    try:  # Airflow 3
        from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, Context
    except ImportError:  # pragma: no cover - Airflow 2.11
        from airflow.hooks.base import BaseHook
        from airflow.models import BaseOperator, BaseOperatorLink
        from airflow.sensors.base import BaseSensorOperator
        from airflow.utils.context import Context

__all__ = [
    "AirflowException",
    "AirflowNotFoundException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Context",
]
