"""Airflow 3 imports (``airflow.sdk``) with fallbacks for Airflow 2.11, kept in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from airflow.sdk import ResumableJobMixin
else:
    try:  # Airflow 3.3+ (the compat provider hands out a no-resume stand-in below 3.3)
        from airflow.providers.common.compat.sdk import ResumableJobMixin
    except ImportError:  # pragma: no cover - common-compat provider older than the mixin

        class ResumableJobMixin:
            """No task state store: every try starts (or attaches to) the job afresh."""

            external_id_key = "remote_job_id"

            def __init__(self, *, durable: bool = True, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.durable = False

            def execute_resumable(self, context: Any) -> Any:
                external_id = self.submit_job(context)
                self.poll_until_complete(external_id, context)
                return self.get_job_result(external_id, context)


__all__ = [
    "AirflowException",
    "AirflowNotFoundException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Context",
    "ResumableJobMixin",
]
