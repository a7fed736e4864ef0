#!/usr/bin/env bash
# Run the whole test suite (unit, emulator integration, Airflow end-to-end incl. a real scheduler +
# triggerer) plus ruff and mypy. Creates ./.venv on first use. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LF_VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import airflow_provider_lakeformation, pytest, fastapi" 2>/dev/null \
   || [ pyproject.toml -nt "$VENV/.installed" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[test,distributed]'
  touch "$VENV/.installed"
fi
export PATH="$PWD/$VENV/bin:$PATH"
status=0
echo "== ruff"; ruff check airflow_provider_lakeformation tests example_dags benchmarks scripts || status=1
echo "== mypy"; mypy || status=1
echo "== pytest"
set +e
python -m pytest -ra "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  rc=0
fi
[ "$rc" -eq 0 ] || status=$rc
exit "$status"
