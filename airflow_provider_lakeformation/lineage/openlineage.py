"""OpenLineage facets of LakeFormation jobs (needs the ``openlineage`` extra).

Nothing here imports OpenLineage at module import time: the operators call
:func:`job_lineage` from ``get_openlineage_facets_on_complete`` / ``_on_failure``, which the
OpenLineage provider only calls when it is installed. Event shape (a discovery job)::

    inputs:  [{namespace: "obs://bucket", name: "landing/orders"}]
    outputs: [{namespace: "lakeformation://cn-north-4/<instance>", name: "hive.sales"}]
    run.facets.lakeformation_job: {job_id, job_name, job_type, status, console_url,
                                   start_time, end_time}
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeformation.lineage.naming import job_datasets

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_lakeformation.models.jobs import Job

#: Key of the run facet in ``run.facets``.
RUN_FACET_KEY = "lakeformation_job"


@functools.cache
def run_facet_class() -> type[Any]:
    """The ``lakeformation_job`` run facet class (built on first use: it subclasses OpenLineage's
    ``RunFacet``, which is only importable with the extra)."""
    import attrs
    from openlineage.client.facet_v2 import RunFacet

    @attrs.define
    class LakeFormationJobRunFacet(RunFacet):  # type: ignore[misc]
        """The LakeFormation job behind this task: id, type, final status and console page."""

        job_id: str
        job_name: str | None = None
        job_type: str | None = None
        status: str | None = None
        console_url: str | None = None
        start_time: str | None = None
        end_time: str | None = None

    return LakeFormationJobRunFacet


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def job_lineage(job: Job, *, region: str | None, console_url: str | None) -> OperatorLineage[Any, Any]:
    """``OperatorLineage`` of a job: inputs/outputs from its spec and the ``lakeformation_job`` run
    facet (the job's status at the time of the call is the run's final status).

    :param job: the job as read from the service after its run.
    :param region: the connection's region (part of the LakeFormation namespace).
    :param console_url: the job's console page.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    facet = run_facet_class()(
        job_id=job.id,
        job_name=job.name,
        job_type=_text(job.type),
        status=_text(job.status),
        console_url=console_url,
        start_time=_text(job.start_time),
        end_time=_text(job.end_time),
    )
    datasets = job_datasets(job, region)
    inputs = [Dataset(namespace=d.namespace, name=d.name) for d in (datasets.inputs if datasets else ())]
    outputs = [Dataset(namespace=d.namespace, name=d.name) for d in (datasets.outputs if datasets else ())]
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets={RUN_FACET_KEY: facet})
