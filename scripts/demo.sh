#!/usr/bin/env bash
# End-to-end demo: run example_dags/example_lakeformation_discovery.py against the local LakeFormation
# emulator with a real Airflow (metadata DB, dag.test, deferral to an inline trigger).
#
# Needs only python3 (>= 3.10) and the package registry. Everything lands in ./.demo:
#   .demo/venv           virtualenv (created once, reused; pip install -e '.[emulator]')
#   .demo/airflow_home   AIRFLOW_HOME (SQLite metadata DB, logs)
#   .demo/*.log          emulator and `airflow dags test` output
# Running it again reuses the venv and DB. Exit status 0 only if the LakeFormation job ended SUCCESS.
#
# Environment knobs: PYTHON (interpreter for the venv, default python3), DEMO_DIR (default ./.demo),
# AIRFLOW_VERSION (pin apache-airflow, e.g. 3.3.2; default: whatever pip resolves),
# DEMO_RUN_SECONDS (how long the emulated job runs, default 3), DEMO_JOB_DESCRIPTION (the DAG's
# `description` param; e.g. 'Nightly discovery [lf-emulator:outcome=FAILED]' to see a failing job).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="${DEMO_DIR:-$REPO/.demo}"
PY="${PYTHON:-python3}"
VENV="$DEMO/venv"
RUN_SECONDS="${DEMO_RUN_SECONDS:-3}"
DAG_ID="example_lakeformation_discovery"
JOB_NAME="airflow_example_sales_discovery"

say() { printf '\n==> %s\n' "$*"; }
mkdir -p "$DEMO"

# ---------------------------------------------------------------------------------------- venv
if [ ! -x "$VENV/bin/python" ]; then
  say "Creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.demo-installed"
if [ ! -f "$STAMP" ] || [ "$REPO/pyproject.toml" -nt "$STAMP" ] \
   || ! "$VENV/bin/python" -c "import airflow, fastapi, uvicorn, airflow_provider_lakeformation" 2>/dev/null; then
  say "Installing the provider and Airflow into $VENV (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  pins=()
  if [ -n "${AIRFLOW_VERSION:-}" ]; then pins+=("apache-airflow==$AIRFLOW_VERSION"); fi
  "$VENV/bin/python" -m pip install -q -e "$REPO[emulator]" "${pins[@]}"
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
"$VENV/bin/python" -c "import airflow; print('Airflow', airflow.__version__)"

# ------------------------------------------------------------------------------------ emulator
PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
EMULATOR_URL="http://127.0.0.1:$PORT"
say "Starting the LakeFormation emulator on $EMULATOR_URL (jobs run ${RUN_SECONDS}s)"
"$VENV/bin/python" -m airflow_provider_lakeformation.emulator \
  --host 127.0.0.1 --port "$PORT" --run-seconds "$RUN_SECONDS" >"$DEMO/emulator.log" 2>&1 &
EMULATOR_PID=$!
cleanup() {
  if kill -0 "$EMULATOR_PID" 2>/dev/null; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$VENV/bin/python" - "$EMULATOR_URL" "$EMULATOR_PID" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url + "/_emulator/stats", timeout=2) as resp:
            if resp.status == 200:
                sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("emulator process exited; see .demo/emulator.log")
    time.sleep(0.2)
sys.exit("emulator did not come up within 30 s; see .demo/emulator.log")
PY

# ------------------------------------------------------------------------------------- airflow
export AIRFLOW_HOME="$DEMO/airflow_home"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/example_dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
mkdir -p "$AIRFLOW_HOME"

say "airflow db migrate ($AIRFLOW_HOME)"
airflow db migrate >"$DEMO/db_migrate.log" 2>&1 || { cat "$DEMO/db_migrate.log"; exit 1; }

say "Connections lakeformation_default (emulator, AK/SK) and hive_metastore_mysql"
# The emulator's default credentials (see docs/operators.md). `connections import --overwrite` is
# `airflow connections add` for both connections in one idempotent CLI call (each call costs ~4 s).
# Host name + port + scheme, with the port stored as such (not only inside a URL): Airflow 3.3.2's UI
# Test button needs a stored port (see the README's Connection section).
LF_CONN_JSON="$("$VENV/bin/python" - "$PORT" <<'PY'
import json, sys
print(json.dumps({
    "conn_type": "lakeformation",
    "description": "Local LakeFormation emulator (demo)",
    "host": "127.0.0.1",
    "port": int(sys.argv[1]),
    "login": "EMULATORAK",
    "password": "emulator-secret-key",
    "extra": {
        "scheme": "http",
        "auth_type": "aksk",
        "region": "cn-north-4",
        "project_id": "0123456789abcdef0123456789abcdef",
        "instance_id": "lf-emulator-instance",
        "max_retries": 3,
    },
}))
PY
)"
CONNS_FILE="$DEMO/connections.json"
(umask 077; cat >"$CONNS_FILE" <<EOF
{"lakeformation_default": $LF_CONN_JSON,
 "hive_metastore_mysql": {"conn_type": "mysql", "description": "Hive metastore database (demo values)",
   "host": "metastore-db.example.internal", "port": 3306, "schema": "hive",
   "login": "hive", "password": "demo-metastore-password"}}
EOF
)
airflow connections import --overwrite "$CONNS_FILE" >"$DEMO/connections.log" 2>&1 \
  || { cat "$DEMO/connections.log"; exit 1; }
grep -h "Imported connection" "$DEMO/connections.log" || true

say "airflow dags test $DAG_ID (the sensor defers; the trigger runs inline)"
# The trigger runs inline here; it reads the connection from the metadata DB like a real triggerer.
set +e
conf_args=()
if [ -n "${DEMO_JOB_DESCRIPTION:-}" ]; then
  conf_args=(--conf "$("$VENV/bin/python" -c 'import json, sys; print(json.dumps({"description": sys.argv[1]}))' "$DEMO_JOB_DESCRIPTION")")
fi
airflow dags test "$DAG_ID" "${conf_args[@]}" 2>&1 \
  | tee "$DEMO/dags_test.log"
DAG_RC=${PIPESTATUS[0]}
set -e

if grep -q "running trigger in line" "$DEMO/dags_test.log" && grep -q "Trigger completed" "$DEMO/dags_test.log"; then
  echo "Deferral observed: the sensor deferred and its trigger fired (see .demo/dags_test.log)"
else
  echo "ERROR: no deferral seen in the 'airflow dags test' output" >&2
  DAG_RC=1
fi

say "Final job status, read from the emulator through LakeFormationHook"
set +e
AIRFLOW_CONN_LAKEFORMATION_DEFAULT="$LF_CONN_JSON" "$VENV/bin/python" - "$JOB_NAME" <<'PY'
import sys

from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

hook = LakeFormationHook("lakeformation_default")
job = hook.find_job_by_name("METADATA_DISCOVERY", sys.argv[1])
if job is None:
    sys.exit(f"no job named {sys.argv[1]} found")
status = hook.get_job_status(job.id)
print(f"LakeFormation job {job.id} finished: {status.value}")
sys.exit(0 if status.value == "SUCCESS" else 3)
PY
STATUS_RC=$?
set -e

if [ "$DAG_RC" -ne 0 ] || [ "$STATUS_RC" -ne 0 ]; then
  echo "Demo FAILED (dags test exit $DAG_RC, job status check exit $STATUS_RC)" >&2
  exit 1
fi
say "Demo OK"
