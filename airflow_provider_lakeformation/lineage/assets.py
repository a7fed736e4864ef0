"""Airflow assets for what a LakeFormation job changed, and the extra its asset events carry.

Declare outlets at DAG-parse time from the same spec the create operator uses::

    LakeFormationStartJobOperator(..., outlets=job_outlets(JOB, region="cn-north-4",
                                                           instance_id="<instance id>"))

or give an ``AssetAlias`` as outlet and let the start operator attach the assets it infers from the
job at run time. Either way each event's ``extra`` holds :func:`run_extra`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeformation.lineage.naming import (
    JobDatasets,
    datasets_for_spec,
    job_datasets,
    lakeformation_asset_uri,
)

if TYPE_CHECKING:
    from airflow.sdk import Asset

    from airflow_provider_lakeformation.models.jobs import Job

__all__ = ["assets_for", "job_outlets", "lakeformation_asset", "publish_run_assets", "run_extra"]


def lakeformation_asset(
    region: str | None,
    instance_id: str,
    catalog: str | None = None,
    database: str | None = None,
    **asset_kwargs: Any,
) -> Asset:
    """The asset ``lakeformation://{region}/{instance_id}[/{catalog}[/{database}]]``.

    :param region: the connection's region (``cn-north-4``).
    :param instance_id: the LakeFormation instance.
    :param catalog: a catalog of the instance (``None``: the whole instance).
    :param database: a database of ``catalog``.
    :param asset_kwargs: passed to ``Asset`` (``name``, ``group``, ``extra``, ``watchers``).
    """
    from airflow.sdk import Asset

    return Asset(uri=lakeformation_asset_uri(region, instance_id, catalog, database), **asset_kwargs)


def assets_for(datasets: JobDatasets) -> list[Asset]:
    """The LakeFormation assets among a job's outputs (what a successful run changed)."""
    from airflow.sdk import Asset

    return [Asset(uri=out.uri) for out in datasets.outputs if out.is_lakeformation]


def job_outlets(
    spec: Mapping[str, Any], *, region: str | None, instance_id: str | None = None
) -> list[Asset]:
    """Outlets for a start task, inferred from a job spec dict (the create operator's ``job``).

    :param spec: the job spec (not templated where it names catalogs and databases).
    :param region: the connection's region.
    :param instance_id: the connection's instance (when the parameter block leaves it out).
    """
    return assets_for(datasets_for_spec(spec, region=region, instance_id=instance_id))


def run_extra(
    job: Job, *, console_url: str | None = None, run: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``extra`` of an asset event for a finished run: job id, name, type, status, times, URL.

    :param job: the job as read after the run (its ``status`` is the run's final status).
    :param console_url: the job's console page.
    :param run: a run-history entry, whose ``run_id`` / ``start_time`` / ``end_time`` win.
    """
    run = run or {}
    extra: dict[str, Any] = {
        "job_id": job.id,
        "job_name": run.get("name", job.name),
        "job_type": _text(run.get("type", job.type)),
        "job_status": _text(run.get("status", job.status)),
        "run_id": run.get("run_id"),
        "start_time": _text(run.get("start_time", job.start_time)),
        "end_time": _text(run.get("end_time", job.end_time)),
        "console_url": console_url,
    }
    return {key: value for key, value in extra.items() if value is not None}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):  # {"status": "SUCCESS"}
        value = value.get("status")
    return None if value is None else str(getattr(value, "value", value))


def publish_run_assets(
    outlets: Iterable[Any], outlet_events: Any, job: Job, *, region: str | None, console_url: str | None
) -> list[str]:
    """Attach a successful run to the task's asset events; return the asset URIs it touched.

    Every ``Asset`` outlet gets :func:`run_extra` in its event's extra; every ``AssetAlias`` outlet
    gets one event per LakeFormation asset inferred from the job's spec (with the same extra).

    :param outlets: the task's outlets.
    :param outlet_events: ``context["outlet_events"]``.
    :param job: the job read after its successful run.
    :param region: the connection's region.
    :param console_url: the job's console page.
    """
    from airflow.sdk import Asset, AssetAlias

    extra = run_extra(job, console_url=console_url)
    touched: list[str] = []
    for outlet in outlets:
        if isinstance(outlet, Asset):
            outlet_events[outlet].extra.update(extra)
            touched.append(outlet.uri)
        elif isinstance(outlet, AssetAlias):
            datasets = job_datasets(job, region)
            for asset in assets_for(datasets) if datasets else []:
                outlet_events[outlet].add(asset, extra=extra)
                touched.append(asset.uri)
    return touched
