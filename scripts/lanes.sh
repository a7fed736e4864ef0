# Lane definitions and helpers of scripts/test.sh (sourced, not run).
#
# A lane is one Airflow line on one Python, in its own venv, running its own set of suites:
#   main            Airflow 3.3.2, Python 3.11: ruff, mypy, the whole suite (tests/), packaging
#   af2.11-py3.10   Airflow 2.11.2, Python 3.10
#   af3.1-py3.12    Airflow 3.1.8, Python 3.12
#   af3.3-py3.13    Airflow 3.3.2, Python 3.13
# The extra lanes run the unit, integration and reliability suites, every example DAG through
# dag.test() (the sensor deferring) and the examples folder's import errors, `airflow dags test` on
# the CLI, the real scheduler + triggerer test, the user-install test (fernet key, password
# connection in the DB, deferral) and what execution_timeout does to a deferred wait.

LANES_ALL=(main af2.11-py3.10 af3.1-py3.12 af3.3-py3.13)

# Suites of the extra lanes (the main lane runs tests/ whole).
LANE_SUITES=(
  tests/unit tests/integration tests/reliability
  tests/e2e/test_example_dags.py tests/e2e/test_airflow_cli.py tests/e2e/test_real_scheduler.py
  tests/e2e/test_user_install.py tests/e2e/test_execution_timeout.py
)

# lane_spec NAME -> sets LANE_AIRFLOW (the requirements a user of that Airflow line installs beside the
# provider, space-separated, exactly as the README's install table writes them), LANE_PYTHON (X.Y),
# LANE_VENV.
#
# Airflow 2.11.2 and 3.1.8 (the newest patches of their lines) set an attribute on cryptography's
# MultiFernet (airflow/models/crypto.py: `_fernet.is_encrypted = True`), which cryptography 51's Rust
# MultiFernet refuses: with a fernet key set, no password connection can be stored or read and no
# task can defer. Airflow 3.3 wraps the object and works with 51. Hence `cryptography<51` on those
# lines (docs/compatibility.md); tests/e2e/test_user_install.py catches the next such break by name.
lane_spec() {
  case "$1" in
    main)          LANE_AIRFLOW="apache-airflow==3.3.2";                    LANE_PYTHON="3.11"; LANE_VENV="${LF_VENV:-.venv}" ;;
    af2.11-py3.10) LANE_AIRFLOW="apache-airflow==2.11.2 cryptography<51";   LANE_PYTHON="3.10"; LANE_VENV=".venv-af2.11-py3.10" ;;
    af3.1-py3.12)  LANE_AIRFLOW="apache-airflow==3.1.8 cryptography<51";    LANE_PYTHON="3.12"; LANE_VENV=".venv-af3.1-py3.12" ;;
    af3.3-py3.13)  LANE_AIRFLOW="apache-airflow==3.3.2";                    LANE_PYTHON="3.13"; LANE_VENV=".venv-af3.3-py3.13" ;;
    *) echo "unknown lane '$1' (lanes: ${LANES_ALL[*]})" >&2; return 2 ;;
  esac
}

# find_python X.Y -> path of a CPython X.Y interpreter: $PYTHON for the main lane, pythonX.Y on
# PATH, then pyenv's versions (PYENV_ROOT or ~/.pyenv), newest patch first.
find_python() {
  local want="$1" cand
  if [ "$want" = "3.11" ] && [ -n "${PYTHON:-}" ]; then
    command -v "$PYTHON" && return 0
  fi
  for cand in "python$want" "python3"; do
    if command -v "$cand" >/dev/null 2>&1 \
       && [ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; then
      command -v "$cand"; return 0
    fi
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  for cand in $(ls -d "$root"/versions/"$want".*/ 2>/dev/null | sort -V -r); do
    if [ -x "$cand/bin/python" ]; then echo "$cand/bin/python"; return 0; fi
  done
  return 1
}

# lane_install NAME: create the lane's venv and install, in two steps, (1) exactly what the README tells
# a user of the lane's Airflow line to install (LANE_AIRFLOW + the provider), then (2) the test extra
# constrained to the versions step 1 resolved (`pip freeze`), so no test tool can move a package a
# user gets (and hide a break such as cryptography 51's). Skipped when the stamp matches
# pyproject.toml and the lane's requirements.
lane_install() {
  lane_spec "$1" || return 2
  local py stamp want
  py="$(find_python "$LANE_PYTHON")" || { echo "lane $1: no Python $LANE_PYTHON found (PATH or pyenv)" >&2; return 3; }
  if [ ! -x "$LANE_VENV/bin/python" ] \
     || [ "$("$LANE_VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$LANE_PYTHON" ]; then
    rm -rf "$LANE_VENV"
    "$py" -m venv "$LANE_VENV"
  fi
  stamp="$LANE_VENV/.installed"
  want="$LANE_AIRFLOW $(cksum < pyproject.toml)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
     || ! "$LANE_VENV/bin/python" -c "import airflow_provider_lakeformation, pytest, fastapi" 2>/dev/null; then
    local extras="test"
    # The main lane also runs the distributed e2e test (Celery + PostgreSQL + Redis).
    [ "$1" = "main" ] && extras="test,distributed"
    mkdir -p .lanes
    # One install at a time: lanes installing side by side would all write the checkout's egg-info.
    (
      flock 9
      local pip=("$LANE_VENV/bin/python" -m pip) user_env="$LANE_VENV/user-env.txt" reqs
      read -r -a reqs <<< "$LANE_AIRFLOW"
      "${pip[@]}" install -q --upgrade pip \
        && "${pip[@]}" install -q "${reqs[@]}" -e . \
        && "${pip[@]}" freeze --exclude-editable > "$user_env" \
        && "${pip[@]}" install -q -c "$user_env" -e ".[$extras]"
    ) 9> .lanes/install.lock || return 4
    echo "$want" > "$stamp"
  fi
}

# lane_versions NAME -> "Airflow A.B.C, Python X.Y.Z" of the lane's venv
lane_versions() {
  lane_spec "$1" || return 2
  "$LANE_VENV/bin/python" - <<'EOF' 2>/dev/null || echo "Airflow ?, Python ?"
import platform
from importlib.metadata import version
print(f"Airflow {version('apache-airflow')}, Python {platform.python_version()}")
EOF
}

# junit_counts FILE -> "P passed, F failed, S skipped" from pytest's JUnit XML (errors count as failed)
junit_counts() {
  python3 - "$1" <<'EOF' 2>/dev/null || echo "0 passed, 1 failed, 0 skipped"
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
tests = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(f"{tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
EOF
}
