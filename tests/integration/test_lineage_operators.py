"""Asset events and OpenLineage facets of the create and start operators, against the emulator.

The facets go through the OpenLineage client's own serializer (what its transports send); the
``dag.test()`` path with the OpenLineage listener and a file transport is in tests/e2e/test_lineage.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

# Airflow 2.11 has no airflow.sdk: the provider offers this on Airflow 3 only.
pytest.importorskip("airflow.sdk", reason="asset lineage (airflow.sdk Asset, AssetAlias) needs Airflow 3")

from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors
from openlineage.client.serde import Serde

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationJobFailedError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationStartJobOperator,
)
from tests.integration.test_operators_support import (
    CONN_ID,
    POLL,
    execute_deferrable,
    lf_conn,
    make_context,
    outcome,
)

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn"]

LAKE_NS = "lakeformation://cn-north-4/lf-emulator-instance"


def discovery_spec(name: str, markers: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "description": f"lineage tests {markers}".strip(),
        "type": "METADATA_DISCOVERY",
        "parameter": {
            "metadata_discovery_parameter": {
                "data_location": "obs://lake-bucket/landing/orders/",
                "target_catalog": "hive",
                "target_database": "sales",
                "conflict_strategy": "UPSERT",
                "file_discovery_type": "PARQUET",
                "log_location": "obs://lake-bucket/logs/",
            }
        },
    }


@pytest.fixture
def region_conn(emulator_connection: Any) -> str:
    """The default connection with a region (part of the LakeFormation namespace)."""
    return str(emulator_connection("aksk", conn_id=CONN_ID, region="cn-north-4", max_retries=1))


def _start(job_id: str, **kwargs: Any) -> LakeFormationStartJobOperator:
    return LakeFormationStartJobOperator(task_id="run", job_id=job_id, poll_interval=POLL, **kwargs)


def _job(name: str, markers: str = "") -> str:
    return LakeFormationHook(CONN_ID).create_job(discovery_spec(name, markers)).id


@pytest.mark.parametrize("deferrable", [False, True])
def test_start_operator_facets_on_complete(
    region_conn: str, emulator: EmulatorServer, deferrable: bool
) -> None:
    job_id = _job(f"lineage_ok_{deferrable}")
    op = _start(job_id, deferrable=deferrable)
    context = make_context(outlet_events=OutletEventAccessors())
    execute_deferrable(op, context)
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("obs://lake-bucket", "landing/orders")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(LAKE_NS, "hive.sales")]
    facet = Serde.to_dict(lineage.run_facets["lakeformation_job"])
    assert facet.pop("_producer")
    assert facet.pop("_schemaURL").endswith("#/$defs/RunFacet")
    start, end = facet.pop("start_time"), facet.pop("end_time")
    assert int(end) >= int(start)
    assert facet == {
        "job_id": job_id,
        "job_name": f"lineage_ok_{deferrable}",
        "job_type": "METADATA_DISCOVERY",
        "status": "SUCCESS",
        "console_url": f"{emulator.url}/console/jobs/{job_id}",
    }


def test_start_operator_facets_on_failure_carry_the_failed_status(region_conn: str) -> None:
    job_id = _job("lineage_failed", outcome("FAILED"))
    op = _start(job_id, deferrable=False, log_tail_lines=0)
    with pytest.raises(LakeFormationJobFailedError):
        op.execute(make_context(outlet_events=OutletEventAccessors()))
    lineage = op.get_openlineage_facets_on_failure(None)
    assert lineage.run_facets["lakeformation_job"].status == "FAILED"
    assert [d.name for d in lineage.outputs] == ["hive.sales"]


def test_create_operator_facets_describe_the_job_it_defined(region_conn: str) -> None:
    op = LakeFormationCreateJobOperator(task_id="create", job=discovery_spec("lineage_created"))
    job_id = op.execute(make_context())
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(LAKE_NS, "hive.sales")]
    facet = lineage.run_facets["lakeformation_job"]
    assert (facet.job_id, facet.status) == (job_id, "CREATED")


def test_successful_run_fills_asset_events(region_conn: str, emulator: EmulatorServer) -> None:
    job_id = _job("lineage_assets")
    declared = Asset(uri=f"{LAKE_NS}/hive/sales")
    alias = AssetAlias("lakeformation_changes")
    events = OutletEventAccessors()
    op = _start(job_id, deferrable=True, outlets=[declared, alias])
    execute_deferrable(op, make_context(outlet_events=events))
    extra = events[declared].extra
    assert extra["job_id"] == job_id
    assert extra["job_status"] == "SUCCESS"
    assert extra["job_type"] == "METADATA_DISCOVERY"
    assert extra["console_url"] == f"{emulator.url}/console/jobs/{job_id}"
    assert int(extra["end_time"]) >= int(extra["start_time"])
    json.dumps(extra)
    (alias_event,) = events[alias].asset_alias_events
    assert alias_event.dest_asset_key.uri == f"{LAKE_NS}/hive/sales"  # inferred from the job spec
    assert alias_event.extra == extra


def test_failed_run_publishes_nothing(region_conn: str) -> None:
    job_id = _job("lineage_no_assets", outcome("FAILED"))
    declared = Asset(uri=f"{LAKE_NS}/hive/sales")
    events = OutletEventAccessors()
    op = _start(job_id, deferrable=False, outlets=[declared], log_tail_lines=0)
    with pytest.raises(LakeFormationJobFailedError):
        op.execute(make_context(outlet_events=events))
    assert events[declared].extra == {}


_WITHOUT_OPENLINEAGE = r"""
import importlib.abc, sys
# Airflow lists installed providers from their entry points first (this venv has the extra).
from airflow.providers_manager import ProvidersManager
ProvidersManager().initialize_providers_list()
before = {m for m in sys.modules if "openlineage" in m}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "openlineage" or name.startswith(("openlineage.", "airflow.providers.openlineage")):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Block())
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger
from airflow_provider_lakeformation.lineage import assets, naming
import airflow_provider_lakeformation.lineage.openlineage
op = LakeFormationStartJobOperator(task_id="t", job_id="j")
loaded = sorted(m for m in sys.modules if "openlineage" in m and m not in before
                and not m.endswith("lineage.openlineage"))
print("LOADED", loaded)
"""


def test_nothing_of_openlineage_is_needed_or_imported_without_the_extra() -> None:
    """With every OpenLineage module unimportable, the provider's modules import and build tasks,
    and they load nothing OpenLineage themselves."""
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_OPENLINEAGE], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOADED []" in proc.stdout, proc.stdout
