"""Dataset names, asset URIs and event extras built from job specs (pure functions, no HTTP)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

# Airflow 2.11 has no airflow.sdk: the provider offers this on Airflow 3 only.
pytest.importorskip("airflow.sdk", reason="asset lineage (airflow.sdk Asset) needs Airflow 3")

from airflow.sdk import Asset

from airflow_provider_lakeformation.lineage.assets import job_outlets, lakeformation_asset, run_extra
from airflow_provider_lakeformation.lineage.naming import (
    DatasetName,
    datasets_for_spec,
    job_datasets,
    lakeformation_asset_uri,
    obs_dataset,
)
from airflow_provider_lakeformation.models.jobs import Job, JobType

DISCOVERY: dict[str, Any] = {
    "name": "discover_sales",
    "type": "METADATA_DISCOVERY",
    "parameter": {
        "metadata_discovery_parameter": {
            "data_location": "obs://lake/sales/2025-03-04/",
            "target_catalog": "hive",
            "target_database": "sales",
            "conflict_strategy": "UPSERT",
            "file_discovery_type": "PARQUET",
            "log_location": "obs://lake/logs/",
        }
    },
}


def _migration(datasource_type: str, **ds: Any) -> dict[str, Any]:
    return {
        "name": "migrate",
        "type": "METADATA_MIGRATION",
        "parameter": {
            "metadata_migration_parameter": {
                "datasource_type": datasource_type,
                "datasource_parameter": ds,
                "source_catalog": "hive",
                "target_catalog": "lf_catalog",
                "conflict_strategy": "UPSERT",
                "log_location": "obs://bucket/logs/",
                "sync_objects": ["DATABASE", "TABLE"],
                "locations": [],
                "instance_id": "inst-1",
            }
        },
    }


def _permission(catalog_id: str | None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "location": "obs://policies/ranger/",
        "file_name": "policies.json",
        "log_location": "obs://policies/logs/",
        "policy_type": "RANGER",
        "instance_id": "inst-1",
    }
    if catalog_id:
        block["catalog_id"] = catalog_id
    return {
        "name": "perms",
        "type": "PERMISSION_MIGRATION",
        "parameter": {"permission_migration_parameter": block},
    }


def test_discovery_reads_obs_prefix_and_writes_target_database() -> None:
    ds = datasets_for_spec(DISCOVERY, region="cn-north-4", instance_id="inst-1")
    assert ds.job_type is JobType.METADATA_DISCOVERY
    assert ds.inputs == (DatasetName("obs://lake", "sales/2025-03-04", ("sales/2025-03-04",)),)
    assert ds.outputs == (DatasetName("lakeformation://cn-north-4/inst-1", "hive.sales", ("hive", "sales")),)
    assert ds.outputs[0].uri == "lakeformation://cn-north-4/inst-1/hive/sales"


@pytest.mark.parametrize(
    ("datasource_type", "ds", "namespace"),
    [
        (
            "MRS_RDS_FOR_MYSQL",
            {"jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive", "username": "u"},
            "mysql://10.0.0.1:3306",
        ),
        (
            "OPEN_FOR_MYSQL",
            {"jdbc_url": "jdbc:mysql://db.internal:3306/hive?ssl=true"},
            "mysql://db.internal:3306",
        ),
        ("MRS_RDS_FOR_PG", {"jdbc_url": "jdbc:postgresql://pg:5432/meta"}, "postgres://pg:5432"),
        ("MRS_LOCAL_GAUSSDB", {"jdbc_url": "jdbc:gaussdb://g:8000/meta"}, "gaussdb://g:8000"),
        (
            "ALIYUN_DLF",
            {"endpoint": "https://dlf.cn-hangzhou.aliyuncs.com"},
            "dlf://dlf.cn-hangzhou.aliyuncs.com",
        ),
        (
            "ALIYUN_DLF",
            {"endpoint": "dlf-vpc.cn-shanghai.aliyuncs.com"},
            "dlf://dlf-vpc.cn-shanghai.aliyuncs.com",
        ),
    ],
)
def test_migration_reads_source_catalog_and_writes_target_catalog(
    datasource_type: str, ds: dict[str, Any], namespace: str
) -> None:
    result = datasets_for_spec(_migration(datasource_type, **ds), region="cn-north-4")
    assert [(d.namespace, d.name) for d in result.inputs] == [(namespace, "hive")]
    assert [(d.namespace, d.name) for d in result.outputs] == [
        ("lakeformation://cn-north-4/inst-1", "lf_catalog")
    ]
    assert result.outputs[0].uri == "lakeformation://cn-north-4/inst-1/lf_catalog"


def test_migration_names_never_carry_credentials() -> None:
    spec = _migration(
        "MRS_RDS_FOR_MYSQL",
        jdbc_url="jdbc:mysql://10.0.0.1:3306/hive",
        username="hiveuser",
        password="s3cret-Pa55",
    )
    result = datasets_for_spec(spec, region="cn-north-4")
    text = repr(result)
    assert "s3cret" not in text
    assert "hiveuser" not in text


@pytest.mark.parametrize(("catalog_id", "name", "uri_tail"), [(None, "*", ""), ("cat_1", "cat_1", "/cat_1")])
def test_permission_migration_reads_policy_file_and_writes_instance(
    catalog_id: str | None, name: str, uri_tail: str
) -> None:
    result = datasets_for_spec(_permission(catalog_id), region="eu-west-101")
    assert [(d.namespace, d.name) for d in result.inputs] == [("obs://policies", "ranger/policies.json")]
    assert [(d.namespace, d.name) for d in result.outputs] == [("lakeformation://eu-west-101/inst-1", name)]
    assert result.outputs[0].uri == f"lakeformation://eu-west-101/inst-1{uri_tail}"


def test_obs_location_forms() -> None:
    assert obs_dataset("obs://bucket") == DatasetName("obs://bucket", "/", ())
    assert obs_dataset("obs://bucket/a/b/").name == "a/b"
    assert obs_dataset("bucket/a").namespace == "obs://bucket"
    assert obs_dataset("OBS://bucket/x", "f.json").name == "x/f.json"


def test_asset_uri_encodes_each_part_and_falls_back_for_a_missing_region() -> None:
    assert (
        lakeformation_asset_uri("cn-north-4", "i", "hive", "my db/x")
        == "lakeformation://cn-north-4/i/hive/my%20db%2Fx"
    )
    assert lakeformation_asset_uri(None, "i") == "lakeformation://unknown-region/i"
    asset = lakeformation_asset("cn-north-4", "i", "hive", "sales")
    assert isinstance(asset, Asset)
    assert asset.uri == "lakeformation://cn-north-4/i/hive/sales"


def test_job_outlets_take_the_connection_instance_when_the_spec_leaves_it_out() -> None:
    (outlet,) = job_outlets(DISCOVERY, region="cn-north-4", instance_id="inst-9")
    assert outlet == Asset(uri="lakeformation://cn-north-4/inst-9/hive/sales")
    spec = copy.deepcopy(DISCOVERY)
    spec["parameter"]["metadata_discovery_parameter"]["instance_id"] = "inst-own"
    assert job_outlets(spec, region="cn-north-4", instance_id="inst-9")[0].uri.endswith(
        "/inst-own/hive/sales"
    )


def test_job_datasets_of_a_job_read_from_the_service() -> None:
    wire = {
        "id": "j1",
        "type": "METADATA_DISCOVERY",
        "status": {"status": "SUCCESS"},
        "parameter": DISCOVERY["parameter"],
    }
    wire["parameter"] = copy.deepcopy(wire["parameter"])
    wire["parameter"]["metadata_discovery_parameter"]["instance_id"] = "inst-1"
    ds = job_datasets(Job.model_validate(wire), "cn-north-4")
    assert ds is not None
    assert ds.outputs[0].name == "hive.sales"
    assert job_datasets(Job.model_validate({"id": "j2", "type": "SOMETHING_NEW"}), "cn-north-4") is None
    assert (
        job_datasets(
            Job.model_validate({"id": "j3", "type": "METADATA_DISCOVERY", "parameter": {"x": 1}}), None
        )
        is None
    )


def test_run_extra_prefers_the_history_entry() -> None:
    job = Job.model_validate(
        {
            "id": "j1",
            "name": "n",
            "type": "METADATA_DISCOVERY",
            "status": "SUCCESS",
            "start_time": "10",
            "end_time": "20",
        }
    )
    assert run_extra(job, console_url="https://c/j1") == {
        "job_id": "j1",
        "job_name": "n",
        "job_type": "METADATA_DISCOVERY",
        "job_status": "SUCCESS",
        "start_time": "10",
        "end_time": "20",
        "console_url": "https://c/j1",
    }
    extra = run_extra(
        job, run={"run_id": "r5", "status": {"status": "FAILED"}, "start_time": 3, "end_time": 4}
    )
    assert extra["run_id"] == "r5"
    assert (extra["job_status"], extra["start_time"], extra["end_time"]) == ("FAILED", "3", "4")
