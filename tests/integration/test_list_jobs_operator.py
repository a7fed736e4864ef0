"""LakeFormationListJobsOperator against the emulator over real HTTP (issue #26 item 5)."""

from __future__ import annotations

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer
from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
from airflow_provider_lakeformation.operators.lakeformation import LakeFormationListJobsOperator
from tests.integration.test_operators_support import CONN_ID, lf_conn, make_context, new_job, xcoms

pytestmark = pytest.mark.usefixtures("lf_conn")
__all__ = ["lf_conn"]


def _list(**kwargs: object) -> list[str]:
    op = LakeFormationListJobsOperator(task_id="list", **kwargs)  # type: ignore[arg-type]
    return op.execute(make_context())


def test_lists_the_ids_matching_type_and_pattern(emulator: EmulatorServer) -> None:
    a = new_job("fan_sales_a")
    b = new_job("fan_sales_b")
    new_job("fan_other_c")
    assert sorted(_list(job_type="METADATA_MIGRATION", name_pattern="fan_sales_*")) == sorted([a, b])
    assert sorted(_list(job_type="metadata_migration", name_pattern="fan_sales_?")) == sorted([a, b])
    assert len(_list(job_type="METADATA_MIGRATION")) == 3
    assert _list(job_type="METADATA_DISCOVERY", name_pattern="fan_*") == []


def test_status_filter(emulator: EmulatorServer) -> None:
    idle = new_job("fan_idle")
    busy = new_job("fan_busy", markers="[lf-emulator:duration=30]")
    LakeFormationHook(CONN_ID).start_job(busy)
    assert _list(job_type="METADATA_MIGRATION", name_pattern="fan_*", status="CREATED") == [idle]


def test_pages_past_one_request(emulator: EmulatorServer) -> None:
    ids = {new_job(f"fan_many_{i:03d}") for i in range(105)}  # 100 per request: two pages
    assert set(_list(job_type="METADATA_MIGRATION", name_pattern="fan_many_")) == ids


def test_pushes_only_its_return_value(emulator: EmulatorServer) -> None:
    new_job("fan_quiet")
    context = make_context()
    LakeFormationListJobsOperator(task_id="list", job_type="METADATA_MIGRATION").execute(context)
    assert xcoms(context) == {}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"job_type": None}, "job_type: required"),
        ({"job_type": "ETL"}, "job_type: must be one of"),
        ({"job_type": "METADATA_MIGRATION", "name_pattern": "sales-*"}, "name_pattern: must be"),
        ({"job_type": "METADATA_MIGRATION", "name_pattern": "x" * 256}, "name_pattern: must be"),
        ({"job_type": "METADATA_MIGRATION", "status": "DONE"}, "status: must be one of"),
    ],
)
def test_bad_filters_fail_at_construction(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(LakeFormationSpecError, match=named):
        LakeFormationListJobsOperator(task_id="list", **kwargs)  # type: ignore[arg-type]


def test_templated_filters_are_checked_after_rendering(emulator: EmulatorServer) -> None:
    op = LakeFormationListJobsOperator(
        task_id="list", job_type="{{ params.t }}", name_pattern="{{ params.p }}"
    )
    op.render_template_fields({"params": {"t": "METADATA_MIGRATION", "p": "a b"}})
    before = emulator.stats()["requests"]
    with pytest.raises(LakeFormationSpecError, match="name_pattern: must be"):
        op.execute(make_context())
    assert emulator.stats()["requests"] == before
