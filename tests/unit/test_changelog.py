"""CHANGELOG.md has a section for the version being built, as its newest entry, and SECURITY.md is
there: a release cannot go out without its notes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_lakeformation import __version__

REPO = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"^## (?P<version>\d+\.\d+\.\d+\S*)", re.MULTILINE)


def changelog_versions() -> list[str]:
    return [m["version"] for m in SECTION.finditer((REPO / "CHANGELOG.md").read_text())]


def test_newest_changelog_section_is_the_package_version() -> None:
    versions = changelog_versions()
    assert versions, "CHANGELOG.md has no '## X.Y.Z' section"
    assert versions[0] == __version__, (versions[0], __version__)


def test_changelog_sections_are_unique_and_newest_first() -> None:
    versions = changelog_versions()
    keys = [tuple(int(part) for part in re.findall(r"\d+", v)[:3]) for v in versions]
    assert len(set(versions)) == len(versions), versions
    assert keys == sorted(keys, reverse=True), versions


def test_version_comes_from_the_package() -> None:
    """pyproject.toml reads the version from ``__version__``: one place to bump."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "airflow_provider_lakeformation.__version__"


def test_security_policy_exists_and_covers_reporting_secrets_and_tls() -> None:
    text = (REPO / "SECURITY.md").read_text()
    for heading in ("## Reporting a vulnerability", "## What the provider promises"):
        assert heading in text
    assert "TLS is verified by default" in text
