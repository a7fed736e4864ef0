"""docs/operators.md's argument tables agree with the code: every argument of each class has a row,
and each row's type is the annotation in the signature (the docs site renders both)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.mixins import LakeFormationOperatorMixin
from airflow_provider_lakeformation.operators.lakeformation import (
    LakeFormationCreateJobOperator,
    LakeFormationDeleteJobOperator,
    LakeFormationStartJobOperator,
    LakeFormationStopJobOperator,
    LakeFormationUpdateJobOperator,
)
from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

DOC = Path(__file__).resolve().parents[2] / "docs" / "operators.md"

#: Section heading of docs/operators.md -> the class whose ``__init__`` its table documents.
SECTIONS: dict[str, type[Any]] = {
    "Arguments every operator and the sensor take": LakeFormationOperatorMixin,
    "LakeFormationCreateJobOperator": LakeFormationCreateJobOperator,
    "LakeFormationUpdateJobOperator": LakeFormationUpdateJobOperator,
    "LakeFormationStartJobOperator": LakeFormationStartJobOperator,
    "LakeFormationStopJobOperator": LakeFormationStopJobOperator,
    "LakeFormationDeleteJobOperator": LakeFormationDeleteJobOperator,
    "LakeFormationJobSensor": LakeFormationJobSensor,
    "LakeFormationJobTrigger": LakeFormationJobTrigger,
}
ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| (?P<type>[^|]*) \|", re.MULTILINE)


def argument_rows(section: str) -> dict[str, str]:
    """``{argument: type cell}`` of the argument table under ``## {section}``."""
    text = DOC.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    table = body[body.index("| Argument | Type | Default | Meaning |") :].split("\n\n", 1)[0]
    return {m["name"]: m["type"].strip() for m in ROW.finditer(table)}


def documented_type(annotation: str) -> str:
    """How a table writes an annotation without the ``|`` that would split a Markdown table cell:
    ``str | None`` as ```str` or `None```, ``Iterable[A | B] | None`` as ```Iterable[A or B]` or `None```."""
    parts, depth, current = [], 0, ""
    for piece in re.split(r"( \| |[\[\]])", annotation):
        depth += piece.count("[") - piece.count("]")
        if piece == " | " and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += " or " if piece == " | " else piece
    return " or ".join(f"`{part}`" for part in [*parts, current])


@pytest.mark.parametrize(
    ("annotation", "cell"),
    [
        ("str", "`str`"),
        ("str | None", "`str` or `None`"),
        ("Iterable[JobStatus | str] | None", "`Iterable[JobStatus or str]` or `None`"),
        ("dict[str, Any] | CreateJobRequest", "`dict[str, Any]` or `CreateJobRequest`"),
    ],
)
def test_documented_type(annotation: str, cell: str) -> None:
    assert documented_type(annotation) == cell


@pytest.mark.parametrize("section", list(SECTIONS))
def test_argument_table_matches_the_signature(section: str) -> None:
    params = {
        name: param
        for name, param in inspect.signature(SECTIONS[section].__init__).parameters.items()
        if name != "self" and param.kind is not param.VAR_KEYWORD
    }
    rows = argument_rows(section)
    assert sorted(rows) == sorted(params), section
    for name, param in params.items():
        annotation = param.annotation
        text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
        assert rows[name] == documented_type(text), (section, name)
