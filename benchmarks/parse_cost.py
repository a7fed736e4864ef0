"""DAG-parse cost of the provider: extra import time over ``import airflow.sdk``.

Each measurement is a fresh ``python -c`` subprocess that times, with ``time.perf_counter``, a chain
of steps in order, e.g. ``import airflow.sdk`` then ``import airflow_provider_lakeformation.
operators.lakeformation``. The figure for a step is the time of that step alone, so "extra" is what
the provider adds on top of what the process had already imported. Chains (all in the same run,
interleaved round by round so background load hits them alike):

* ``sdk``                 ``import airflow.sdk`` in a fresh process: the baseline (the first step
                          of every chain);
* ``sdk > ops``           then the provider's operators module;
* ``sdk > names > ops``   ``from airflow.sdk import DAG, BaseOperator, task, Param`` first (what every
                          DAG file imports anyway), then the operators: the provider's own share;
* ``sdk > dag``           then ``example_dags/example_lakeformation_discovery.py`` executed with
                          ``runpy.run_path`` (imports + building the DAG object);
* ``sdk > names > empty DAG > dag``  the same after the common names and an empty
                          ``DAG(schedule=None)`` (Airflow's own first-DAG cost: timetables, croniter),
                          i.e. what the provider adds to a DAG file.

Reports the median wall and CPU time over ``--runs`` subprocesses (after one untimed warm-up per
chain, which also writes the .pyc files) and the goal (< 50 ms extra wall time). CPU time is the
steadier figure on a busy machine. ``--importtime`` additionally prints the
modules with the largest self time under the provider import (``python -X importtime``).

    python benchmarks/parse_cost.py                 # ~2 min on 2 cores
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
    "empty": "from airflow.sdk import DAG; DAG('parse_cost_empty_dag', schedule=None)",
    "dag": f"import runpy; runpy.run_path({str(EXAMPLE_DAG)!r}, run_name='bench_example_dag')",
}

CHAINS: dict[str, list[str]] = {
    "sdk > ops": ["sdk", "ops"],
    "sdk > names > ops": ["sdk", "names", "ops"],
    "sdk > dag": ["sdk", "dag"],
    "sdk > names > empty DAG > dag": ["sdk", "names", "empty", "dag"],
}


def _program(steps: list[str]) -> str:
    lines = ["import json, time", "_t = []"]
    for step in steps:
        lines += [
            "_s, _c = time.perf_counter(), time.process_time()",
            STEPS[step],
            "_t.append([time.perf_counter() - _s, time.process_time() - _c])",
        ]
    lines.append("print('PARSE_COST ' + json.dumps(_t))")
    return "\n".join(lines)


def _run(steps: list[str], env: dict[str, str]) -> list[list[float]]:
    proc = subprocess.run(
        [sys.executable, "-c", _program(steps)],
        capture_output=True,
        text=True,
        env=env,
        cwd=_common.package_root(),
        timeout=120,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PARSE_COST "):
            return [[float(w), float(c)] for w, c in json.loads(line.removeprefix("PARSE_COST "))]
    raise RuntimeError(f"{' > '.join(steps)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def _importtime(env: dict[str, str], top: int) -> None:
    """Largest self times (ms) of the modules the operators module imports after the sdk names."""
    with tempfile.TemporaryDirectory(prefix="lf-parse-marker-") as marker_dir:
        # An empty module nobody else imports marks where the provider import begins in the trace.
        Path(marker_dir, "_lf_parse_cost_marker.py").write_text("")
        code = "\n".join([STEPS["sdk"], STEPS["names"], "import _lf_parse_cost_marker", STEPS["ops"]])
        marker_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [marker_dir, env.get("PYTHONPATH")]))}
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            env=marker_env,
            cwd=_common.package_root(),
            timeout=120,
            check=False,
        )
    lines = proc.stderr.splitlines()
    start = next(
        (i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("_lf_parse_cost_marker")), 0
    )
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
    total = sum(r[0] for r in rows)
    rows.sort(reverse=True)
    _common.print_table(
        ["self ms", "cumulative ms", "module"],
        [[s, c, m] for s, c, m in rows[:top]],
        title=f"-X importtime of the operators module after the airflow.sdk names: {len(rows)} modules, "
        f"{total:.0f} ms self time in total; top {top} (one run, noisy)",
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
        root = _common.package_root()  # the subprocesses import the same package copy as this one
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for steps in chains.values():  # warm-up: .pyc files, airflow.cfg
            _run(steps, env)
        samples: dict[str, list[list[list[float]]]] = {name: [] for name in chains}
        for _ in range(args.runs):
            for name, steps in chains.items():
                samples[name].append(_run(steps, env))
        if args.importtime:
            _importtime(env, args.top)

    def step_ms(chain: str, index: int, kind: int = 0) -> float:
        """Median wall (kind 0) or CPU (kind 1) milliseconds of step ``index`` of ``chain``."""
        return _common.median([run[index][kind] for run in samples[chain]]) * 1000

    # The baseline is the first step of every chain: ``import airflow.sdk`` in a fresh process.
    first = [run[0] for runs in samples.values() for run in runs]
    baseline = _common.median([w for w, _ in first]) * 1000
    baseline_cpu = _common.median([c for _, c in first]) * 1000
    rows: list[list[object]] = [
        ["import airflow.sdk (baseline)", "first step of all", baseline, baseline_cpu, "-", "-", "-"]
    ]
    names = step_ms("sdk > names > ops", 1), step_ms("sdk > names > ops", 1, 1)
    rows.append(
        ["+ from airflow.sdk import DAG, BaseOperator, ...", "sdk > names > ops", *names, "-", "-", "-"]
    )
    empty_chain = "sdk > names > empty DAG > dag"
    if empty_chain in samples:
        empty = step_ms(empty_chain, 2), step_ms(empty_chain, 2, 1)
        rows.append(["+ an empty DAG(schedule=None): Airflow's own", empty_chain, *empty, "-", "-", "-"])
    for chain, label, index in (
        ("sdk > ops", f"+ import {OPERATORS_MODULE}", 1),
        ("sdk > names > ops", "+ the same, after the sdk names", 2),
        ("sdk > dag", "+ run example_lakeformation_discovery.py", 1),
        ("sdk > names > empty DAG > dag", "+ the same, after the sdk names and an empty DAG", 3),
    ):
        if chain not in samples:
            continue
        extra, extra_cpu = step_ms(chain, index), step_ms(chain, index, 1)
        ok = "met" if extra < GOAL_MS else "MISSED"
        rows.append([label, chain, extra, extra_cpu, f"{extra / baseline:.3f}x", f"< {GOAL_MS:.0f} ms", ok])
    _common.print_table(
        ["step", "chain", "median wall ms", "median CPU ms", "ratio to baseline", "goal (wall)", "goal met"],
        rows,
        title=f"Import / parse cost (median of {args.runs} fresh subprocesses per chain)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
