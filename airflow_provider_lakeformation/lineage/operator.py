"""What the job operators add for lineage: OpenLineage facets and asset events of a finished run.

:class:`LakeFormationLineageMixin` reads the job once after its run (spec, final status, times),
and serves both ``get_openlineage_facets_on_complete`` / ``_on_failure`` (called by the
OpenLineage provider when installed) and the asset events of a successful run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_lakeformation.exceptions import LakeFormationError

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk.types import Logger

    from airflow_provider_lakeformation._compat import Context
    from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
    from airflow_provider_lakeformation.models.jobs import Job


class LakeFormationLineageMixin:
    """Lineage of the job a task created or ran; the task sets ``lineage_job_id``."""

    lineage_job_id: str | None = None
    _lineage_job: Job | None = None
    if TYPE_CHECKING:
        log: Logger
        outlets: list[Any]

        @property
        def hook(self) -> LakeFormationHook: ...

        def console_url(self, job_id: str, run: str | int | None = None) -> str | None: ...

    def _region(self) -> str | None:
        return self.hook.settings.region

    def lineage_job(self, *, refresh: bool = False) -> Job | None:
        """The job as read after its run (one GET, cached); ``None`` without a job id."""
        if self.lineage_job_id is None:
            return None
        if self._lineage_job is None or refresh:
            self._lineage_job = self.hook.get_job(self.lineage_job_id)
        return self._lineage_job

    def publish_run_assets(self, context: Context, job_id: str) -> None:
        """Asset events of a successful run for the task's outlets (nothing without outlets)."""
        from airflow_provider_lakeformation.lineage.assets import publish_run_assets

        self.lineage_job_id = job_id
        outlets = list(getattr(self, "outlets", None) or [])
        if not outlets:
            return
        try:
            job = self.lineage_job(refresh=True)
        except LakeFormationError as err:  # the run succeeded: never fail the task over its extra
            self.log.warning(
                "LakeFormation job %s: could not read the job for its asset events (%s); "
                "declared assets get events without LakeFormation details",
                job_id,
                err,
            )
            return
        if job is None:
            return
        touched = publish_run_assets(
            outlets,
            context["outlet_events"],
            job,
            region=self._region(),
            console_url=self.console_url(job_id),
        )
        self.log.info("LakeFormation job %s: asset events for %s", job_id, ", ".join(touched) or "none")

    def _openlineage(self) -> OperatorLineage[Any, Any]:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeformation.lineage.openlineage import job_lineage

        try:
            job = self.lineage_job()
        except LakeFormationError as err:
            self.log.warning("OpenLineage: could not read LakeFormation job %s: %s", self.lineage_job_id, err)
            return OperatorLineage()
        if job is None:
            return OperatorLineage()
        job_id = job.id
        return job_lineage(job, region=self._region(), console_url=self.console_url(job_id))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """OpenLineage inputs/outputs of the job and its ``lakeformation_job`` run facet."""
        return self._openlineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """As on complete; the run facet carries the failed status."""
        self._lineage_job = None  # read the final status, not a cached one
        return self._openlineage()
