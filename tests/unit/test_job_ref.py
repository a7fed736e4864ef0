"""The job reference of the start/stop/delete operators and the sensor (``job_id`` or ``job_name`` +
``job_type``): rules at DAG parse and after rendering, and the lookup's outcomes (issue #26 item 1)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import LakeFormationJobNameError, LakeFormationSpecError
from airflow_provider_lakeformation.models import Job, JobType
from airflow_provider_lakeformation.models.arguments import job_ref_arg
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor

CLASSES = (
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationJobSensor,
)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({}, "job_id, job_name: give exactly one"),
        ({"job_id": "j-1", "job_name": "some_job", "job_type": "METADATA_MIGRATION"}, "give exactly one"),
        ({"job_name": "some_job"}, "job_type: required with job_name"),
        ({"job_id": "j-1", "job_type": "METADATA_MIGRATION"}, "job_type: only used with job_name"),
        ({"job_name": "bad name", "job_type": "METADATA_MIGRATION"}, "job_name: must be a job name"),
        ({"job_name": "abc", "job_type": "METADATA_MIGRATION"}, "job_name: must be a job name"),
        ({"job_name": "some_job", "job_type": "ETL"}, "job_type: must be one of"),
        ({"job_id": "a/b"}, "job_id: must not contain"),
    ],
)
def test_bad_reference_fails_at_construction(cls: type[Any], kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(LakeFormationSpecError, match=named):
        cls(task_id="t", **kwargs)


@pytest.mark.parametrize("cls", CLASSES)
def test_templated_values_wait_for_rendering(cls: type[Any]) -> None:
    op = cls(task_id="t", job_name="{{ params.name }}", job_type="{{ params.kind }}")
    op.render_template_fields({"params": {"name": "bad name", "kind": "METADATA_MIGRATION"}})
    with pytest.raises(LakeFormationSpecError, match="job_name: must be a job name"):
        op.resolve_job_id()


def test_rendered_reference_is_parsed() -> None:
    assert job_ref_arg(" j-1 ", None, None) == ("j-1", None, None)
    assert job_ref_arg(None, "some_job", "metadata_discovery") == (
        None,
        "some_job",
        JobType.METADATA_DISCOVERY,
    )
    assert job_ref_arg(None, "{{ x }}", "{{ y }}", rendered=False) == (None, None, None)
    with pytest.raises(LakeFormationSpecError, match="job_name"):
        job_ref_arg(None, "some_job\n", "METADATA_MIGRATION")


class _ListingHook:
    """Answers ``iter_jobs`` with fixed jobs (the emulator refuses two jobs with one name, which
    the service's pages do not promise)."""

    def __init__(self, *names: str) -> None:
        self.jobs = [Job.model_validate({"id": f"id-{i}", "name": n}) for i, n in enumerate(names)]
        self.calls: list[tuple[JobType, str | None]] = []

    def iter_jobs(self, job_type: JobType, *, name_pattern: str | None = None) -> list[Job]:
        self.calls.append((job_type, name_pattern))
        return self.jobs


def _op_with(hook: _ListingHook) -> LakeFormationStopJobOperator:
    op = LakeFormationStopJobOperator(task_id="s", job_name="some_job", job_type="PERMISSION_MIGRATION")
    op.__dict__["hook"] = hook  # the cached_property's slot
    return op


def test_more_than_one_exact_match_names_every_id() -> None:
    with pytest.raises(LakeFormationJobNameError) as info:
        _op_with(_ListingHook("some_job", "some_job_2", "some_job")).resolve_job_id()
    assert info.value.job_ids == ["id-0", "id-2"]
    assert "2 jobs match PERMISSION_MIGRATION LakeFormation job named 'some_job': id-0, id-2" in str(
        info.value
    )


def test_one_match_is_kept_for_the_rest_of_the_try() -> None:
    hook = _ListingHook("some_job_2", "some_job")
    op = _op_with(hook)
    assert op.resolve_job_id() == "id-1"
    assert op.resolve_job_id() == "id-1"
    assert hook.calls == [(JobType.PERMISSION_MIGRATION, "some_job")]
    assert (op.job_id, op.job_name, op.job_type) == ("id-1", None, None)
