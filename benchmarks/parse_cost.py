"""DAG-parse cost of the provider: extra import time over ``import airflow.sdk``.

Each measurement is a fresh ``python -c`` subprocess that times, with ``time.perf_counter``, a chain
of steps in order, e.g. ``import airflow.sdk`` then ``import airflow_provider_lakeformation.
operators.lakeformation``. The figure for a step is the time of that step alone, so "extra" is what
the provider adds on top of what the process had already imported. Chains (all in the same run,
interleaved round by round so background load hits them alike):

* ``sdk``                 ``import airflow.sdk`` alone: the baseline;
* ``sdk > ops``           then the provider's operators module;
* ``sdk > names > ops``   ``from airflow.sdk import DAG, BaseOperator, task, Param`` first (what every
                          DAG file imports anyway), then the operators: the provider's own share;
* ``sdk > dag``           then ``example_dags/example_lakeformation_discovery.py`` executed with
                          ``runpy.run_path`` (imports + building the DAG object);
* ``sdk > names > dag``   the same after the common ``airflow.sdk`` names.

Reports the median over ``--runs`` subprocesses (after one untimed warm-up per chain, which also
writes the .pyc files) and the goal (< 50 ms extra). ``--importtime`` additionally prints the
modules with the largest self time under the provider import (``python -X importtime``).

    python benchmarks/parse_cost.py                 # ~1.5 min on 2 cores
    python benchmarks/parse_cost.py --runs 20 --importtime
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import _common

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAG = REPO / "example_dags" / "example_lakeformation_discovery.py"
OPERATORS_MODULE = "airflow_provider_lakeformation.operators.lakeformation"
GOAL_MS = 50.0

STEPS: dict[str, str] = {
    "sdk": "import airflow.sdk",
    "names": "from airflow.sdk import DAG, BaseOperator, Param, task",
    "ops": f"import {OPERATORS_MODULE}",
    "dag": f"import runpy; runpy.run_path({str(EXAMPLE_DAG)!r}, run_name='bench_example_dag')",
}

CHAINS: dict[str, list[str]] = {
    "sdk": ["sdk"],
    "sdk > ops": ["sdk", "ops"],
    "sdk > names > ops": ["sdk", "names", "ops"],
    "sdk > dag": ["sdk", "dag"],
    "sdk > names > dag": ["sdk", "names", "dag"],
}


def _program(steps: list[str]) -> str:
    lines = ["import json, time", "_t = []"]
    for step in steps:
        lines += ["_s = time.perf_counter()", STEPS[step], "_t.append(time.perf_counter() - _s)"]
    lines.append("print('PARSE_COST ' + json.dumps(_t))")
    return "\n".join(lines)


def _run(steps: list[str], env: dict[str, str]) -> list[float]:
    proc = subprocess.run(
        [sys.executable, "-c", _program(steps)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PARSE_COST "):
            return [float(x) for x in json.loads(line.removeprefix("PARSE_COST "))]
    raise RuntimeError(f"{' > '.join(steps)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def _importtime(env: dict[str, str], top: int) -> None:
    """Largest self times (ms) of modules imported by the operators module after airflow.sdk."""
    # ``colorsys`` (stdlib, imported by nothing here) marks where the provider import begins.
    code = "\n".join([STEPS["sdk"], STEPS["names"], "import colorsys", STEPS["ops"]])
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    lines = proc.stderr.splitlines()
    # Only the part of the trace after the sdk names were imported.
    start = 0
    for i, line in enumerate(lines):
        if line.rstrip().endswith("| colorsys"):
            start = i + 1
    rows: list[tuple[float, float, str]] = []
    for line in lines[start:]:
        if not line.startswith("import time:"):
            continue
        parts = line.removeprefix("import time:").split("|")
        try:
            self_us, cum_us = int(parts[0]), int(parts[1])
        except ValueError:
            continue
        rows.append((self_us / 1000, cum_us / 1000, parts[2].rstrip()))
    rows.sort(reverse=True)
    _common.print_table(
        ["self ms", "cumulative ms", "module"],
        [[s, c, m] for s, c, m in rows[:top]],
        title=f"-X importtime: top {top} self times after the airflow.sdk names (one run, noisy)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="subprocesses per chain (median reported)")
    parser.add_argument("--importtime", action="store_true", help="also print the top modules by self time")
    parser.add_argument("--top", type=int, default=25, help="rows for --importtime")
    args = parser.parse_args(argv)

    _common.print_machine()
    chains = dict(CHAINS)
    if not EXAMPLE_DAG.exists():
        print(f"{EXAMPLE_DAG} not found: skipping the example DAG chains\n")
        chains = {k: v for k, v in chains.items() if "dag" not in v}

    with tempfile.TemporaryDirectory(prefix="lf-parse-cost-") as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for steps in chains.values():  # warm-up: .pyc files, airflow.cfg
            _run(steps, env)
        samples: dict[str, list[list[float]]] = {name: [] for name in chains}
        for _ in range(args.runs):
            for name, steps in chains.items():
                samples[name].append(_run(steps, env))
        if args.importtime:
            _importtime(env, args.top)

    def step_ms(chain: str, index: int) -> float:
        return _common.median([run[index] for run in samples[chain]]) * 1000

    baseline = step_ms("sdk", 0)
    rows: list[list[object]] = [["import airflow.sdk (baseline)", "sdk", baseline, "-", "-", "-"]]
    names_ms = step_ms("sdk > names > ops", 1)
    rows.append(
        ["+ from airflow.sdk import DAG, BaseOperator, ...", "sdk > names > ops", names_ms, "-", "-", "-"]
    )
    for chain, label, index in (
        ("sdk > ops", f"+ import {OPERATORS_MODULE}", 1),
        ("sdk > names > ops", f"+ import {OPERATORS_MODULE} (after sdk names)", 2),
        ("sdk > dag", "+ run example_lakeformation_discovery.py", 1),
        ("sdk > names > dag", "+ run example_lakeformation_discovery.py (after sdk names)", 2),
    ):
        if chain not in samples:
            continue
        extra = step_ms(chain, index)
        ok = "met" if extra < GOAL_MS else "MISSED"
        rows.append([label, chain, extra, f"{extra / baseline:.2f}x", f"< {GOAL_MS:.0f} ms", ok])
    _common.print_table(
        ["step", "chain", "median ms", "ratio to baseline", "goal", "goal met"],
        rows,
        title=f"Import / parse cost (median of {args.runs} fresh subprocesses per chain)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
