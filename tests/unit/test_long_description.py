"""What a package index shows: README.md is the long description, so every link in it must work
outside the repository (no relative link: on a package index ``docs/x.md`` leads nowhere), and every
classifier must be one PyPI accepts, naming each supported Python."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Markdown inline links and images ``[text](target)``, reference definitions ``[id]: target`` and
#: HTML ``href`` / ``src`` attributes.
_TARGETS = (
    re.compile(r"\]\(\s*<?([^)\s>]+)"),
    re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE),
    re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE),
)
_ABSOLUTE = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)


def relative_links(markdown: str) -> list[str]:
    """Every link target in ``markdown`` that is not an absolute ``http(s)://`` or ``mailto:`` URL
    (fenced code blocks are left out: their text is code, not links)."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    targets = [m.group(1) for pattern in _TARGETS for m in pattern.finditer(text)]
    return [t for t in targets if not _ABSOLUTE.match(t)]


@pytest.mark.parametrize(
    ("markdown", "found"),
    [
        ("see [the docs](docs/compatibility.md)", ["docs/compatibility.md"]),
        ("[anchor](#install) and ![logo](img/logo.png)", ["#install", "img/logo.png"]),
        ('<a href="SECURITY.md">policy</a>', ["SECURITY.md"]),
        ("[ref]: ../CHANGELOG.md", ["../CHANGELOG.md"]),
        ("[site](https://airflow.apache.org/) [mail](mailto:a@b.c)", []),
        ("```bash\n[not](a/link)\n```\n", []),
    ],
)
def test_relative_links_finds_each_kind(markdown: str, found: list[str]) -> None:
    assert relative_links(markdown) == found


def test_readme_has_no_relative_links() -> None:
    assert relative_links((REPO / "README.md").read_text()) == []


def test_pyproject_uses_the_readme_as_long_description() -> None:
    assert re.search(r'^readme = "README.md"$', (REPO / "pyproject.toml").read_text(), re.MULTILINE)


def test_classifiers_are_known_to_pypi_and_name_every_supported_python() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    trove = pytest.importorskip("trove_classifiers")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    classifiers = project["classifiers"]
    assert [c for c in classifiers if c not in trove.classifiers] == []
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Framework :: Apache Airflow :: Provider" in classifiers
    assert project["requires-python"] == ">=3.10"
