"""LakeFormation hook. Kept light: the hook module (requests, tenacity) loads on first use.

``from airflow_provider_lakeformation.hooks import LakeFormationHook`` works; the status values
and sets (defined in ``models.status``) are re-exported here and beside the hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_lakeformation.models.status import (
    FAILED_STATUSES,
    IN_PROGRESS_STATUSES,
    SUCCESSFUL_STATUSES,
    TERMINAL_STATUSES,
    JobStatus,
    failed_statuses,
    successful_statuses,
)

#: The connection id every hook, operator, sensor and trigger uses by default.
DEFAULT_CONN_ID = "lakeformation_default"

if TYPE_CHECKING:
    from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings, RetrySettings
    from airflow_provider_lakeformation.hooks.lakeformation import AsyncLakeFormationClient, LakeFormationHook

__all__ = [
    "FAILED_STATUSES",
    "IN_PROGRESS_STATUSES",
    "SUCCESSFUL_STATUSES",
    "TERMINAL_STATUSES",
    "AsyncLakeFormationClient",
    "AuthType",
    "ConnectionSettings",
    "JobStatus",
    "LakeFormationHook",
    "RetrySettings",
    "failed_statuses",
    "successful_statuses",
]

_LAZY = {
    "AsyncLakeFormationClient": "airflow_provider_lakeformation.hooks.lakeformation",
    "LakeFormationHook": "airflow_provider_lakeformation.hooks.lakeformation",
    "AuthType": "airflow_provider_lakeformation.hooks._settings",
    "ConnectionSettings": "airflow_provider_lakeformation.hooks._settings",
    "RetrySettings": "airflow_provider_lakeformation.hooks._settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
