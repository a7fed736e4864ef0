"""The datasets a LakeFormation job reads and writes, named after the OpenLineage conventions.

One place decides the names used by OpenLineage (namespace + name) and by Airflow assets (URI):

==========================  =================================  ================================
what                        OpenLineage namespace              name
==========================  =================================  ================================
OBS object prefix           ``obs://{bucket}``                 ``{path}`` (no leading ``/``)
LakeFormation catalog       ``lakeformation://{region}/{iid}``  ``{catalog}``
LakeFormation database      ``lakeformation://{region}/{iid}``  ``{catalog}.{database}``
LakeFormation instance      ``lakeformation://{region}/{iid}``  ``{catalog_id}`` or ``*`` (whole
                                                                instance)
migration source metastore  ``mysql://host:port`` (MySQL-      ``{source_catalog}``
                            backed), ``postgres://host:port``,
                            ``gaussdb://host:port``,
                            ``dlf://{endpoint host}``
==========================  =================================  ================================

The Airflow asset URI of a LakeFormation dataset is its namespace plus ``/``-separated name parts:
``lakeformation://{region}/{instance_id}/{catalog}/{database}``.

No name carries a credential: every URL a name is read from loses its userinfo and its secret-named
parameters first (:func:`~airflow_provider_lakeformation.models.redaction.redact_url`), so
``jdbc:mysql://root:PW@db:3306/hive`` names ``mysql://db:3306``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow_provider_lakeformation.models.jobs import (
    DatasourceType,
    JobParameter,
    JobType,
    MetaDataDiscoveryParameter,
    MetaDataMigrationParameter,
    PermissionMigrationParameter,
)
from airflow_provider_lakeformation.models.redaction import redact_url

if TYPE_CHECKING:
    from airflow_provider_lakeformation.models.jobs import Job

__all__ = [
    "DatasetName",
    "JobDatasets",
    "datasets_for_parameter",
    "datasets_for_spec",
    "job_datasets",
    "lakeformation_asset_uri",
    "lakeformation_dataset",
    "lakeformation_namespace",
    "obs_dataset",
]

#: URI scheme of LakeFormation datasets (OpenLineage namespace and Airflow asset URI).
SCHEME = "lakeformation"
#: Name of the dataset that stands for a whole instance (permission migration without catalog_id).
WHOLE_INSTANCE = "*"
#: Region used in names when the connection names none (a custom endpoint without ``region``).
UNKNOWN_REGION = "unknown-region"

_JDBC_SCHEMES: dict[DatasourceType, str] = {
    DatasourceType.MRS_RDS_FOR_MYSQL: "mysql",
    DatasourceType.OPEN_FOR_MYSQL: "mysql",
    DatasourceType.MRS_RDS_FOR_PG: "postgres",
    DatasourceType.MRS_LOCAL_GAUSSDB: "gaussdb",
}


@dataclass(frozen=True)
class DatasetName:
    """One dataset: an OpenLineage ``namespace`` and ``name``; ``parts`` build the asset URI."""

    namespace: str
    name: str
    parts: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        """``namespace/part/part`` (each part percent-encoded): the Airflow asset URI."""
        suffix = "/".join(quote(part, safe="") for part in self.parts)
        return f"{self.namespace}/{suffix}" if suffix else self.namespace

    @property
    def is_lakeformation(self) -> bool:
        return self.namespace.startswith(f"{SCHEME}://")


@dataclass(frozen=True)
class JobDatasets:
    """What one job reads (``inputs``) and changes (``outputs``)."""

    job_type: JobType
    inputs: tuple[DatasetName, ...]
    outputs: tuple[DatasetName, ...]


def lakeformation_namespace(region: str | None, instance_id: str) -> str:
    """``lakeformation://{region}/{instance_id}``: the namespace of one instance's catalogs."""
    return f"{SCHEME}://{region or UNKNOWN_REGION}/{instance_id}"


def lakeformation_dataset(
    region: str | None, instance_id: str, catalog: str | None = None, database: str | None = None
) -> DatasetName:
    """A catalog (``catalog``), a database (``catalog`` + ``database``) or the whole instance."""
    namespace = lakeformation_namespace(region, instance_id)
    if catalog is None:
        return DatasetName(namespace, WHOLE_INSTANCE)
    if database is None:
        return DatasetName(namespace, catalog, (catalog,))
    return DatasetName(namespace, f"{catalog}.{database}", (catalog, database))


def lakeformation_asset_uri(
    region: str | None, instance_id: str, catalog: str | None = None, database: str | None = None
) -> str:
    """The Airflow asset URI of a LakeFormation instance, catalog or database."""
    return lakeformation_dataset(region, instance_id, catalog, database).uri


def obs_dataset(location: str, file_name: str | None = None) -> DatasetName:
    """``obs://bucket/a/b/`` -> namespace ``obs://bucket``, name ``a/b`` (+ ``/file_name``)."""
    parts = urlsplit(redact_url(location.strip()))
    scheme = (parts.scheme or "obs").lower()
    path = parts.path.strip("/")
    if file_name:
        path = f"{path}/{file_name}" if path else file_name
    bucket = parts.netloc
    if not bucket and path:  # "bucket/path" without a scheme
        bucket, _, path = path.partition("/")
    return DatasetName(f"{scheme}://{bucket}", path or "/", (path,) if path else ())


def _source_dataset(p: MetaDataMigrationParameter) -> DatasetName:
    ds = p.datasource_parameter
    if p.datasource_type is DatasourceType.ALIYUN_DLF:
        endpoint = redact_url(ds.endpoint or "")
        host = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}").netloc or "unknown-endpoint"
        return DatasetName(f"dlf://{host}", p.source_catalog, (p.source_catalog,))
    scheme = _JDBC_SCHEMES.get(p.datasource_type, p.datasource_type.value.lower())
    url = redact_url(ds.jdbc_url or "")
    # jdbc:mysql://host:3306/hive?x=y -> host:3306
    inner = url.split(":", 1)[1] if url.lower().startswith("jdbc:") else url
    authority = urlsplit(inner if "://" in inner else f"//{inner}").netloc or "unknown-host"
    return DatasetName(f"{scheme}://{authority}", p.source_catalog, (p.source_catalog,))


def datasets_for_parameter(job_type: JobType, parameter: JobParameter, region: str | None) -> JobDatasets:
    """The inputs and outputs of a job of ``job_type`` with ``parameter``."""
    if job_type is JobType.METADATA_DISCOVERY and parameter.metadata_discovery_parameter is not None:
        d: MetaDataDiscoveryParameter = parameter.metadata_discovery_parameter
        target = lakeformation_dataset(region, d.instance_id, d.target_catalog, d.target_database)
        return JobDatasets(job_type, (obs_dataset(d.data_location),), (target,))
    if job_type is JobType.METADATA_MIGRATION and parameter.metadata_migration_parameter is not None:
        m = parameter.metadata_migration_parameter
        target = lakeformation_dataset(region, m.instance_id, m.target_catalog)
        return JobDatasets(job_type, (_source_dataset(m),), (target,))
    if job_type is JobType.PERMISSION_MIGRATION and parameter.permission_migration_parameter is not None:
        pm: PermissionMigrationParameter = parameter.permission_migration_parameter
        target = lakeformation_dataset(region, pm.instance_id, pm.catalog_id or None)
        return JobDatasets(job_type, (obs_dataset(pm.location, pm.file_name),), (target,))
    return JobDatasets(job_type, (), ())


def datasets_for_spec(
    spec: Mapping[str, Any], *, region: str | None, instance_id: str | None = None
) -> JobDatasets:
    """The datasets of a job spec dict (as given to the create operator), e.g. to declare outlets at
    DAG-parse time. ``instance_id`` fills a parameter block that leaves it out (as the connection
    does at run time)."""
    from airflow_provider_lakeformation.models.jobs import CreateJobRequest

    context = {"default_instance_id": instance_id} if instance_id else None
    request = CreateJobRequest.model_validate(dict(spec), context=context)
    return datasets_for_parameter(request.type, request.parameter, region)


def job_datasets(job: Job, region: str | None) -> JobDatasets | None:
    """The datasets of a job as read from the service (``None`` if its type or spec is unknown)."""
    try:
        job_type = JobType(str(getattr(job.type, "value", job.type)))
    except ValueError:
        return None
    parameter = job.parameter
    if not isinstance(parameter, JobParameter):
        try:
            parameter = JobParameter.model_validate(parameter or {})
        except ValueError:
            return None
    return datasets_for_parameter(job_type, parameter, region)
