"""Airflow 3 imports (``airflow.sdk``) with fallbacks for Airflow 2.11, kept in one place."""

from __future__ import annotations

import contextlib
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
    from airflow.triggers.base import BaseEventTrigger
else:
    try:  # Airflow 3: a trigger an AssetWatcher may run
        from airflow.triggers.base import BaseEventTrigger
    except ImportError:  # pragma: no cover - Airflow 2.11 has no asset watchers; the class still loads
        from airflow.triggers.base import BaseTrigger as BaseEventTrigger

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


def mask_secret(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker; never raises.

    The compat provider exports ``mask_secret`` from 1.23 on (Python 3.11+); older ones (1.20 is
    the newest on Python 3.10) do not, so Airflow's own is used: ``airflow.sdk.log`` on 3.x,
    ``airflow.utils.log.secrets_masker`` on 2.11. Masking runs on the rendered spec before it is
    validated, so a value the masker cannot take (Airflow 2.11 raises ``UnicodeEncodeError`` for a
    lone surrogate) is skipped here: validation then rejects it with a
    :class:`~airflow_provider_lakeformation.exceptions.LakeFormationSpecError` naming the field,
    before any HTTP call, and it is never logged.

    :param secret: the value to hide in logs and rendered fields.
    """
    masker = _airflow_mask_secret()
    # A value the masker rejects is rejected by the spec's validation right after.
    with contextlib.suppress(UnicodeError, ValueError, TypeError):
        masker(secret)


def _airflow_mask_secret() -> Any:
    try:
        from airflow.providers.common.compat.sdk import mask_secret as compat_mask_secret
    except ImportError:  # common-compat < 1.23
        try:  # Airflow 3
            from airflow.sdk.log import mask_secret as compat_mask_secret  # type: ignore[no-redef]
        except ImportError:  # Airflow 2.11
            from airflow.utils.log.secrets_masker import (  # type: ignore[no-redef,attr-defined]
                mask_secret as compat_mask_secret,
            )
    return compat_mask_secret


__all__ = [
    "AirflowException",
    "AirflowNotFoundException",
    "BaseEventTrigger",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Context",
    "ResumableJobMixin",
    "mask_secret",
]
