"""The built distributions: wheel + sdist build without deprecation warnings, their metadata passes
``twine check``, and the wheel installed into a clean venv (not the checkout) imports every public
module and serves the provider info through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.unit.test_long_description import relative_links

#: Building in isolation and installing Airflow into a fresh venv take minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_lakeformation"

#: Run inside the clean venv, from a directory outside the checkout.
IMPORT_ALL = f"""
import importlib, json, pkgutil, sys
from importlib.metadata import entry_points, version
import {PACKAGE} as pkg
assert "site-packages" in pkg.__file__, pkg.__file__
modules = [pkg.__name__]
for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    if not any(part.startswith("_") and part != "__main__" for part in info.name.split(".")[1:]):
        modules.append(info.name)
for name in modules:
    importlib.import_module(name)
(ep,) = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("{PACKAGE}.")]
info = ep.load()()
print(json.dumps({{"modules": modules, "info": info, "version": version("airflow-provider-lakeformation"),
                  "airflow": version("apache-airflow"), "file": pkg.__file__}}, default=str))
"""


def _run(cmd: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{cmd}: rc={proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    build = _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(REPO)], REPO)
    log = build.stdout + build.stderr
    # setuptools warns (SetuptoolsDeprecationWarning) about a TOML-table license; none must remain.
    assert "project.license" not in log, log[-4000:]
    assert "License classifiers are deprecated" not in log, log[-4000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_metadata_passes_twine_check(dists: dict[str, Path]) -> None:
    files = [str(dists["wheel"]), str(dists["sdist"])]
    proc = _run([sys.executable, "-m", "twine", "check", "--strict", *files], REPO)
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_license_is_an_spdx_expression_with_its_file(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as whl:
        (meta_name,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        meta = whl.read(meta_name).decode()
        names = whl.namelist()
    assert "License-Expression: Apache-2.0" in meta
    assert "License-File: LICENSE" in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert f"{PACKAGE}/py.typed" in names
    assert not any(n.startswith(("tests/", "example_dags/", "benchmarks/")) for n in names)
    with tarfile.open(dists["sdist"]) as sdist:
        members = sdist.getnames()
    assert any(m.endswith("/LICENSE") for m in members), members


def test_long_description_carries_no_relative_link(dists: dict[str, Path]) -> None:
    """What a package index renders: the README as Markdown, with no link that only works inside the
    repository."""
    with zipfile.ZipFile(dists["wheel"]) as whl:
        (meta_name,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        meta = whl.read(meta_name).decode()
    headers, _, body = meta.partition("\n\n")
    assert "Description-Content-Type: text/markdown" in headers
    assert "## Use it in your Airflow" in body
    assert relative_links(body) == []


def test_sdist_carries_examples_docs_changelog_and_security_policy(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {"CHANGELOG.md", "SECURITY.md", "mkdocs.yml", "docs/index.md", "docs/compatibility.md"}
    expected |= {f"example_dags/{p.name}" for p in (REPO / "example_dags").glob("example_*.py")}
    assert expected - names == set()
    assert not any("__pycache__" in name for name in names)


def test_wheel_in_a_clean_venv_imports_every_public_module(dists: dict[str, Path], tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    # The same Airflow as this lane, so the install stays within the pip cache.
    airflow = f"apache-airflow=={version('apache-airflow')}"
    _run([py, "-m", "pip", "install", "-q", f"{dists['wheel']}[emulator]", airflow], tmp_path, timeout=1500)
    proc = _run([py, "-c", IMPORT_ALL], tmp_path)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert str(env_dir) in result["file"]
    modules = set(result["modules"])
    for expected in (
        f"{PACKAGE}.hooks.lakeformation",
        f"{PACKAGE}.operators.lakeformation",
        f"{PACKAGE}.sensors.lakeformation",
        f"{PACKAGE}.triggers.lakeformation",
        f"{PACKAGE}.links.lakeformation",
        f"{PACKAGE}.emulator",
        f"{PACKAGE}.get_provider_info",
    ):
        assert expected in modules, sorted(modules)
    info = result["info"]
    assert info["package-name"] == "airflow-provider-lakeformation"
    assert info["versions"] == [result["version"]]
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "lakeformation"
    assert conn["hook-class-name"] == f"{PACKAGE}.hooks.lakeformation.LakeFormationHook"
