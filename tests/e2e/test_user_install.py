"""The install story of each Airflow line, as a user has it: a fernet key, a password connection stored
in (and read back from) the metadata DB, and a task that defers (its trigger's kwargs encrypted in the
DB).

Every lane runs this module. It exists because cryptography 51 broke Airflow 2.11.2 and 3.1.8 through
exactly these three paths (``airflow/models/crypto.py`` sets ``is_encrypted`` on cryptography's
``MultiFernet``, which 51's Rust class refuses): the README's install table pins ``cryptography<51``
on those lines, and the next break of this kind fails here, by name, instead of somewhere in the
example DAGs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.compat import AIRFLOW_VERSION
from tests.e2e.conftest import (
    EMULATOR_SK,
    ProcessGroup,
    airflow_cli,
    airflow_env,
    job_status,
    lakeformation_conn,
    start_emulator_process,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONN_ID = "lakeformation_default"
DAG_ID = "example_lakeformation_discovery"
JOB_TYPE = "METADATA_DISCOVERY"
JOB_NAME = "airflow_example_sales_discovery"
DEFERRED_MARK = "running trigger in line"
TRIGGER_CLASSPATH = "airflow_provider_lakeformation.triggers.lakeformation.LakeFormationJobTrigger"

#: Run in the lane's interpreter with the test's AIRFLOW_HOME: reads the stored connection through the
#: ORM (is it encrypted, does it decrypt), then stores one LakeFormationJobTrigger as a deferring task
#: does (``Trigger.from_object``) and reads it back; prints one JSON line.
PROBE = r"""
import json, sys
from airflow.models.connection import Connection
from airflow.models.trigger import Trigger
from airflow.utils.session import create_session
from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

conn_id, secret, job_id = sys.argv[1:4]
out = {}
with create_session() as session:
    conn = session.query(Connection).filter(Connection.conn_id == conn_id).one()
    out["conn_is_encrypted"] = bool(conn.is_encrypted)
    out["conn_stored_in_clear"] = secret in (conn._password or "")
    out["conn_password_reads_back"] = conn.password == secret
    out["earlier_triggers"] = [
        {
            "classpath": t.classpath,
            "secret_in_row": secret in (t.encrypted_kwargs or ""),
            "job_id_reads_back": t.kwargs.get("job_id") == job_id,
        }
        for t in session.query(Trigger).all()
    ]
trigger = LakeFormationJobTrigger(job_id=job_id, poll_interval=5)
row = Trigger.from_object(trigger)
with create_session() as session:
    session.add(row)
    session.flush()
    row_id = row.id
with create_session() as session:
    stored = session.get(Trigger, row_id)
    out["trigger_in_clear"] = job_id in (stored.encrypted_kwargs or "")
    out["trigger_kwargs_read_back"] = stored.kwargs.get("job_id") == job_id
    out["trigger_classpath"] = stored.classpath
print("PROBE " + json.dumps(out))
"""


def _run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _probe(env: dict[str, str], job_id: str) -> dict[str, Any]:
    proc = _run([sys.executable, "-c", PROBE, CONN_ID, EMULATOR_SK, job_id], env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("PROBE "))
    result: dict[str, Any] = json.loads(line[len("PROBE ") :])
    return result


def test_fernet_password_connection_and_deferral(tmp_path: Path, process_group: ProcessGroup) -> None:
    print(f"Airflow {AIRFLOW_VERSION}, cryptography {version('cryptography')}")
    home = tmp_path / "airflow_home"
    home.mkdir()
    (home / "airflow.cfg").write_text("[core]\nload_examples = False\n")
    # A fresh key, as `airflow config` / a deployment sets one; the connection comes from the DB only.
    env = airflow_env(home, AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode())
    migrate = _run(airflow_cli("db", "migrate"), env)
    assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-6000:]

    emulator = start_emulator_process(process_group, run_seconds=4.0)
    conn_json = lakeformation_conn(emulator.url)
    add = _run(airflow_cli("connections", "add", CONN_ID, "--conn-json", conn_json), env)
    assert add.returncode == 0, (add.stdout + add.stderr)[-6000:]
    assert EMULATOR_SK not in add.stdout + add.stderr

    # The sensor's first poke finds the 4 s job running, so the task defers; the trigger reads the
    # connection (password = the SK) from the DB.
    test = _run(airflow_cli("dags", "test", DAG_ID), env)
    output = test.stdout + test.stderr
    assert test.returncode == 0, output[-6000:]
    assert DEFERRED_MARK in output, output[-6000:]
    assert EMULATOR_SK not in output
    jobs = emulator.jobs_named(JOB_TYPE, JOB_NAME)
    assert len(jobs) == 1, jobs
    job_id = str(jobs[0]["id"])
    assert job_status(emulator.job(job_id)) == "SUCCESS"

    probe = _probe(env, job_id)
    assert probe["conn_is_encrypted"] is True, probe
    assert probe["conn_stored_in_clear"] is False, probe
    assert probe["conn_password_reads_back"] is True, probe
    assert probe["trigger_classpath"] == TRIGGER_CLASSPATH, probe
    assert probe["trigger_in_clear"] is False, probe
    assert probe["trigger_kwargs_read_back"] is True, probe
    # The row the deferred task left behind (Airflow 3's execution API stores the kwargs the task sent
    # as plain JSON, not encrypted; 2.11's dag.test runs the trigger in line without a row): it reads
    # back and holds no secret (the trigger carries a connection id, never a credential).
    for earlier in probe["earlier_triggers"]:
        assert earlier["classpath"] == TRIGGER_CLASSPATH, earlier
        assert earlier["secret_in_row"] is False, earlier
        assert earlier["job_id_reads_back"] is True, earlier
