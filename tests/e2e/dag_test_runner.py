"""Run one DAG through ``dag.test()`` in this (fresh) process and print a JSON summary.

Used by the e2e tests as a subprocess so that every ``dag.test()`` gets its own AIRFLOW_HOME and
environment (Airflow reads its configuration once, at import). The last stdout line is
``E2E_RESULT {json}`` with the run state, the task states and the XComs of the run.

Usage: python dag_test_runner.py DAG_ID [--logical-date ISO] [--conf JSON]
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import sys
from datetime import datetime
from typing import Any

RESULT_PREFIX = "E2E_RESULT "


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dag_id")
    parser.add_argument("--logical-date", default=None)
    parser.add_argument("--conf", default=None)
    args = parser.parse_args(argv)

    from airflow import settings
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:  # Airflow 3
        from airflow.models.xcom import XComModel
        from airflow.utils.cli import get_bagged_dag
    except ImportError:  # Airflow 2.11
        from airflow.models.xcom import XCom as XComModel
        from airflow.utils.cli import get_dag as get_bagged_dag

    if settings.Session is None:
        settings.configure_orm()

    dag = get_bagged_dag(None, args.dag_id)
    logical_date = datetime.fromisoformat(args.logical_date) if args.logical_date else None
    run_conf = json.loads(args.conf) if args.conf else None
    if "logical_date" in inspect.signature(dag.test).parameters:
        dag_run = dag.test(logical_date=logical_date, run_conf=run_conf)
    else:  # Airflow 2.11
        dag_run = dag.test(execution_date=logical_date, run_conf=run_conf)

    with create_session() as session:
        tis = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}
        rows = session.scalars(
            select(XComModel).where(XComModel.dag_id == args.dag_id, XComModel.run_id == dag_run.run_id)
        ).all()
        xcoms: dict[str, dict[str, Any]] = {}
        for row in rows:
            value = row.value
            if isinstance(value, (bytes, str)):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            xcoms.setdefault(row.task_id, {})[row.key] = _jsonable(value)

    summary = {"state": str(dag_run.state), "run_id": dag_run.run_id, "tasks": tis, "xcom": xcoms}
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
