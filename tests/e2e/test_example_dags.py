"""Every example DAG through ``dag.test()`` against the emulator, plus parse-time and import hygiene.

The four DAG runs start together (each in its own subprocess with its own copy of the metadata DB)
against one in-process emulator, so the module costs about as long as its slowest DAG.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.compat import AIRFLOW_V_3, AIRFLOW_VERSION
from tests.e2e.conftest import (
    EXAMPLE_DAGS,
    RUNNER,
    Emulator,
    airflow_env,
    job_status,
    new_airflow_home,
    parse_result,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLE_FILES = sorted(EXAMPLE_DAGS.glob("example_*.py"))
DEFERRED_MARK = "[DAG TEST] running trigger in line"
RUN_TIMEOUT = 240


@dataclass(frozen=True)
class Case:
    dag_id: str
    job_type: str
    job_name: str
    start_task: str
    deferrable: bool
    logical_date: str | None = None
    conf: dict[str, Any] | None = None


CASES: dict[str, Case] = {
    case.dag_id: case
    for case in (
        Case(
            "example_lakeformation_discovery",
            "METADATA_DISCOVERY",
            "airflow_example_sales_discovery",
            start_task="start_discovery_job",
            deferrable=True,
        ),
        Case(
            "example_lakeformation_metadata_migration",
            "METADATA_MIGRATION",
            "airflow_example_hive_metastore_migration",
            start_task="run_migration",
            deferrable=True,
        ),
        Case(
            "example_lakeformation_permission_migration",
            "PERMISSION_MIGRATION",
            "airflow_example_ranger_permission_migration",
            start_task="run_permission_migration",
            deferrable=False,
        ),
        Case(
            "example_lakeformation_scheduled_discovery",
            "METADATA_DISCOVERY",
            "daily_events_discovery_20250304",
            start_task="run_daily_job",
            deferrable=True,
            logical_date="2025-03-04T00:00:00+00:00",
        ),
    )
}


@dataclass
class Outcome:
    returncode: int
    output: str
    seconds: float
    result: dict[str, Any] = field(default_factory=dict)


def _runner_cmd(case: Case, conf: dict[str, Any] | None = None) -> list[str]:
    cmd = [sys.executable, str(RUNNER), case.dag_id]
    if case.logical_date:
        cmd += ["--logical-date", case.logical_date]
    if conf or case.conf:
        cmd += ["--conf", json.dumps(conf or case.conf)]
    return cmd


def _run_many(jobs: dict[str, tuple[list[str], dict[str, str], Path]], timeout: float) -> dict[str, Outcome]:
    """Start every runner at once, wait for all; kill leftovers on the way out."""
    procs: dict[str, tuple[subprocess.Popen[str], float, Path]] = {}
    outcomes: dict[str, Outcome] = {}
    try:
        for key, (cmd, env, cwd) in jobs.items():
            out = (cwd / "dag_test.log").open("w")
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True)
            out.close()
            procs[key] = (proc, time.monotonic(), cwd)
        deadline = time.monotonic() + timeout
        for key, (proc, started, cwd) in procs.items():
            try:
                rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            output = (cwd / "dag_test.log").read_text(errors="replace")
            outcomes[key] = Outcome(rc, output, time.monotonic() - started)
    finally:
        for proc, _, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for outcome in outcomes.values():
        if outcome.returncode == 0:
            outcome.result = parse_result(outcome.output)
    return outcomes


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    from airflow_provider_lakeformation.emulator import EmulatorServer

    # Jobs run 15 s: long enough for the sensor / operator to find them still running and defer even
    # on a slow, loaded machine (at 5 s, a start task that took 7 s there left the sensor a finished job).
    with EmulatorServer(port=0, submit_seconds=0.5, run_seconds=15.0) as srv:
        yield Emulator(srv.url)


@pytest.fixture(scope="module")
def example_runs(
    migrated_db: Path, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    jobs = {}
    for dag_id, case in CASES.items():
        base = tmp_path_factory.mktemp(dag_id)
        home = new_airflow_home(base, migrated_db)
        jobs[dag_id] = (_runner_cmd(case), airflow_env(home, emulator.url), base)
    outcomes = _run_many(jobs, timeout=RUN_TIMEOUT)
    for dag_id, outcome in outcomes.items():
        print(f"dag.test {dag_id}: rc={outcome.returncode} {outcome.seconds:.1f}s")
    return outcomes


@pytest.mark.parametrize("dag_id", list(CASES))
def test_example_dag_succeeds(dag_id: str, example_runs: dict[str, Outcome], emulator: Emulator) -> None:
    case = CASES[dag_id]
    outcome = example_runs[dag_id]
    assert outcome.returncode == 0, outcome.output[-8000:]
    result = outcome.result
    assert result["state"] == "success", outcome.output[-8000:]
    assert set(result["tasks"].values()) == {"success"}, result["tasks"]

    start_xcom = result["xcom"][case.start_task]
    job_id = start_xcom["job_id"]
    assert start_xcom["return_value"] == job_id
    assert (DEFERRED_MARK in outcome.output) is case.deferrable

    jobs = emulator.jobs_named(case.job_type, case.job_name)
    assert [job["id"] for job in jobs] == [job_id]
    assert job_status(emulator.job(job_id)) == "SUCCESS"


def test_discovery_report_task_prints_final_status(example_runs: dict[str, Outcome]) -> None:
    outcome = example_runs["example_lakeformation_discovery"]
    assert outcome.returncode == 0, outcome.output[-8000:]
    report = outcome.result["xcom"]["report"]["return_value"]
    assert report["job_status"] == "SUCCESS"
    assert f"LakeFormation discovery job {report['job_id']} finished: SUCCESS" in outcome.output


def test_migration_secret_never_in_output(example_runs: dict[str, Outcome]) -> None:
    """The metastore password, templated from the connection, never shows in the logs."""
    outcome = example_runs["example_lakeformation_metadata_migration"]
    assert outcome.returncode == 0, outcome.output[-8000:]
    assert "e2e-metastore-password" not in outcome.output


def test_failed_job_fails_the_run(
    example_runs: dict[str, Outcome], migrated_db: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """A job the emulator fails makes the sensor, and so the run, fail (and the report is skipped)."""
    case = CASES["example_lakeformation_discovery"]
    home = new_airflow_home(tmp_path, migrated_db)
    conf = {"description": "Nightly discovery [lf-emulator:outcome=FAILED]"}
    job = (_runner_cmd(case, conf), airflow_env(home, emulator.url), tmp_path)
    outcome = _run_many({"failed": job}, timeout=180)["failed"]
    # `dag.test` itself does not raise on a failed run: the runner reports the state.
    assert outcome.returncode == 0, outcome.output[-8000:]
    result = outcome.result
    assert result["state"] == "failed"
    assert result["tasks"]["wait_for_discovery"] == "failed"
    assert result["tasks"]["report"] == "upstream_failed"
    job_id = result["xcom"]["start_discovery_job"]["job_id"]
    assert job_status(emulator.job(job_id)) == "FAILED"
    assert "FAILED" in outcome.output


README = EXAMPLE_DAGS.parent / "README.md"


def readme_quickstart_dag() -> str:
    """The DAG file of the README's quick start (the Python block under "Your first DAG")."""
    text = README.read_text()
    section = text[text.index("### 4. Your first DAG") : text.index("### 5. ")]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_quickstart_dag_runs_and_defers(migrated_db: Path, emulator: Emulator, tmp_path: Path) -> None:
    """The quick start's DAG, copied from the README as a user would, parses with no error and runs
    against the emulator: the job is created, the start task defers, the job succeeds."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "lakeformation_quickstart.py").write_text(readme_quickstart_dag())
    home = new_airflow_home(tmp_path, migrated_db)
    env = airflow_env(home, emulator.url, AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    parsed = _parse(dags, env)
    assert parsed["errors"] == {}
    assert parsed["dags"] == ["lakeformation_quickstart"]
    case = Case(
        "lakeformation_quickstart",
        "METADATA_DISCOVERY",
        "quickstart_sales_discovery",
        start_task="run_job",
        deferrable=True,
    )
    outcome = _run_many({"quickstart": (_runner_cmd(case), env, tmp_path)}, timeout=RUN_TIMEOUT)["quickstart"]
    assert outcome.returncode == 0, outcome.output[-8000:]
    assert outcome.result["state"] == "success", outcome.output[-8000:]
    assert DEFERRED_MARK in outcome.output
    job_id = outcome.result["xcom"]["run_job"]["job_id"]
    assert job_status(emulator.job(job_id)) == "SUCCESS"
    assert (
        f"created METADATA_DISCOVERY LakeFormation job 'quickstart_sales_discovery': {job_id}"
        in outcome.output
    )


# ---------------------------------------------------------------------------- parse time / imports

#: Top-level imports an example may use: the SDK names through the compat provider (one example for
#: Airflow 2.11 and 3.x), our provider and the standard library basics.
ALLOWED_IMPORTS = (
    "__future__",
    "datetime",
    "typing",
    "airflow.providers.common.compat.sdk",
    "airflow_provider_lakeformation",
)
#: Modules that must not be loaded when the DAG file is parsed.
HEAVY_MODULES = (
    "pandas",
    "numpy",
    "fastapi",
    "uvicorn",
    "huaweicloudsdkcore",
    "airflow_provider_lakeformation.emulator",
    "pytest",
)

_PARSE_PROBE = r"""
import json, sys, time
try:                                                # Airflow itself is loaded before timing
    from airflow.dag_processing.dagbag import DagBag
except ImportError:                                 # Airflow < 3.1
    from airflow.models.dagbag import DagBag
before = set(sys.modules)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
wall = time.perf_counter() - started
new = sorted(set(sys.modules) - before)
stats = [{"file": s.file, "duration": s.duration.total_seconds(), "dags": s.dag_num}
         for s in bag.dagbag_stats]
print("PARSE " + json.dumps({"wall": wall, "stats": stats, "dags": sorted(bag.dag_ids),
                               "errors": {k: str(v) for k, v in bag.import_errors.items()}, "new": new}))
"""


@pytest.fixture(scope="module")
def parse_env(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> dict[str, str]:
    home = new_airflow_home(tmp_path_factory.mktemp("parse"), migrated_db)
    return airflow_env(home)


def _parse(path: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("PARSE "))
    result: dict[str, Any] = json.loads(line[len("PARSE ") :])
    return result


#: Examples run by their own e2e modules: the asset pair (test_lineage.py, test_asset_watcher.py).
#: They need Airflow 3 and define no DAG on Airflow 2.11.
OTHER_MODULES = {"example_lakeformation_asset_producer", "example_lakeformation_asset_consumer"}


def examples_on_this_line() -> set[str]:
    """The example DAG ids the installed Airflow line gets (one per file, named after it)."""
    return {p.stem for p in EXAMPLE_FILES if AIRFLOW_V_3 or p.stem not in OTHER_MODULES}


def test_there_are_four_examples() -> None:
    assert {p.stem for p in EXAMPLE_FILES} == set(CASES) | OTHER_MODULES


def test_examples_folder_has_no_import_errors(parse_env: dict[str, str]) -> None:
    """The whole folder, as a user's DAG processor loads it (a fresh interpreter, a clean
    AIRFLOW_HOME, ``[core] load_examples = False`` for Airflow's own examples: ``DagBag`` takes no
    ``include_examples`` from 3.3 on): no import error on any line, and each example's DAG where
    that line can run it."""
    result = _parse(EXAMPLE_DAGS, parse_env)
    assert result["errors"] == {}, f"Airflow {AIRFLOW_VERSION}: {result['errors']}"
    assert set(result["dags"]) == examples_on_this_line()
    assert {Path(stat["file"]).stem for stat in result["stats"]} >= {p.stem for p in EXAMPLE_FILES}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_parses_light(path: Path, parse_env: dict[str, str]) -> None:
    """Cold parse in a fresh interpreter: no errors, one DAG, none of the heavy modules imported.
    How long a parse takes is measured by ``benchmarks/parse_cost.py`` (ratios against a baseline
    in the same run), not asserted here: a timed assertion fails on a loaded machine, not on slow code."""
    result = _parse(path, parse_env)
    assert result["errors"] == {}
    assert result["dags"] == ([path.stem] if path.stem in examples_on_this_line() else [])
    assert len(result["stats"]) == 1, result["stats"]
    heavy = [m for m in result["new"] if any(m == h or m.startswith(h + ".") for h in HEAVY_MODULES)]
    assert heavy == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_top_level_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    # Top-level statements, and those of a top-level try (the Airflow 3 guard of the asset pair).
    statements = [*tree.body, *(n for t in tree.body if isinstance(t, ast.Try) for n in t.body)]
    for node in statements:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    # The asset pair needs Airflow 3 (AssetWatcher) and imports airflow.sdk directly.
    allowed = (*ALLOWED_IMPORTS, "airflow.sdk") if path.stem in OTHER_MODULES else ALLOWED_IMPORTS
    bad = [n for n in names if not any(n == a or n.startswith(a + ".") for a in allowed)]
    assert bad == [], f"{path.name} imports {bad} at top level"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_has_docs_and_tags(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    assert ast.get_docstring(tree)
    assert "doc_md=" in source
    assert "tags=[" in source
    assert "lf-emulator" not in source, "examples must not depend on emulator markers"
