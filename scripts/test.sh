#!/usr/bin/env bash
# Run the test lanes (see scripts/lanes.sh); each lane has its own venv and prints one summary line.
#
#   bash scripts/test.sh                        every lane (what CI runs): the main lane (Airflow
#                                               3.3.2, Python 3.11: ruff, mypy, the docs site, the
#                                               whole suite incl. packaging) in the foreground while the extra lanes
#                                               (Airflow 2.11.2 / Python 3.10, 3.1.x / 3.12, 3.3.2 /
#                                               3.13) run one after the other beside it
#   bash scripts/test.sh --main                 the main lane only (quicker, for local work)
#   bash scripts/test.sh --lane af2.11-py3.10   one lane (extra arguments replace its pytest paths)
#   bash scripts/test.sh tests/e2e -x           the main lane only, arguments go to pytest
#
# The extra lanes mostly wait on servers (emulator, scheduler), so on 2 cores they run beside the main
# lane; LF_LANES_SERIAL=1 runs them after it instead. Their output goes to .lanes/extra.log and is
# printed after the main lane's.
# LF_VENV overrides the main lane's venv (.venv), PYTHON its interpreter (a Python 3.11).
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lanes.sh
source scripts/lanes.sh

lanes=("${LANES_ALL[@]}")
if [ "${1:-}" = "--all-lanes" ]; then
  shift
elif [ "${1:-}" = "--main" ]; then
  lanes=(main); shift
elif [ "${1:-}" = "--lane" ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 --lane NAME [pytest args] (lanes: ${LANES_ALL[*]})" >&2; exit 2; }
  lanes=("$2"); shift 2
elif [ "$#" -gt 0 ]; then
  lanes=(main)
fi
for lane in "${lanes[@]}"; do lane_spec "$lane" >/dev/null || exit 2; done

mkdir -p .lanes
summaries=()
status=0
total_started=$(date +%s)

run_lane() {  # run_lane NAME [pytest args]; prints the lane's output, returns its status
  local lane="$1"; shift
  local rc=0
  lane_spec "$lane"
  echo "== lane $lane: installing $LANE_AIRFLOW on Python $LANE_PYTHON into $LANE_VENV"
  lane_install "$lane" || return 10
  export PATH="$PWD/$LANE_VENV/bin:$PATH"
  # Each lane's own AIRFLOW_HOME: an airflow.cfg written by another Airflow line (e.g. 3.x's
  # xcom_backend = airflow.sdk...) must not leak into this one.
  export AIRFLOW_HOME="$PWD/.lanes/$lane/airflow_home"
  mkdir -p "$AIRFLOW_HOME"
  echo "== lane $lane: $(lane_versions "$lane")"
  if [ "$lane" = "main" ]; then
    echo "== ruff"; ruff check airflow_provider_lakeformation tests example_dags benchmarks scripts || rc=1
    echo "== mypy"; mypy || rc=1
    echo "== docs"; bash scripts/docs.sh || rc=1
  fi
  local paths=("$@") opts=()
  if [ "$lane" != "main" ]; then
    [ "${#paths[@]}" -gt 0 ] || paths=("${LANE_SUITES[@]}")
    # Lanes may run side by side: each keeps its reliability rows, and none writes .pytest_cache.
    export LF_RELIABILITY_JSON="$PWD/.lanes/$lane/reliability-results.json"
    opts=(-p no:cacheprovider)
  fi
  echo "== pytest (lane $lane)"
  python -m pytest -ra "${opts[@]}" --junitxml=".lanes/$lane.xml" "${paths[@]}"
  local prc=$?
  if [ "$prc" -eq 5 ]; then echo "pytest collected no tests" >&2; prc=0; fi
  [ "$prc" -eq 0 ] || rc=$prc
  return "$rc"
}

judge_lane() {  # judge_lane NAME [pytest args]: run the lane, print and store its summary line
  local lane="$1"; shift
  local started rc wall counts verdict line
  started=$(date +%s)
  rm -f ".lanes/$lane.xml" ".lanes/$lane.line"
  ( run_lane "$lane" "$@" )
  rc=$?
  wall=$(( $(date +%s) - started ))
  lane_spec "$lane"
  if [ -f ".lanes/$lane.xml" ]; then counts="$(junit_counts ".lanes/$lane.xml")"; else counts="0 passed, 1 failed, 0 skipped"; fi
  case "$rc" in 0) verdict="ok" ;; 10) verdict="FAILED (install)" ;; *) verdict="FAILED" ;; esac
  [ "$lane" = "main" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 10 ] && verdict="FAILED (pytest, ruff or mypy)"
  line="lane $lane: $(lane_versions "$lane"): $counts in ${wall}s: $verdict"
  echo "$line" | tee ".lanes/$lane.line"
  return "$rc"
}

extra_lanes() {  # the extra lanes one after the other: every venv first, then the suites
  local lane
  for lane in "$@"; do
    echo "== lane $lane: installing (before any lane's tests)"
    lane_install "$lane" || echo "lane $lane: install failed (its run reports it)"
  done
  for lane in "$@"; do judge_lane "$lane"; done
}

extras=()
for lane in "${lanes[@]}"; do [ "$lane" = "main" ] || extras+=("$lane"); done
if [ "${lanes[0]}" = "main" ] && [ "${#extras[@]}" -gt 0 ] && [ "${LF_LANES_SERIAL:-0}" != "1" ]; then
  # The main lane in the foreground, the extra lanes beside it (logging to .lanes/extra.log).
  extra_lanes "${extras[@]}" > .lanes/extra.log 2>&1 &
  extra_pid=$!
  echo "== extra lanes (${extras[*]}) running beside the main lane; log: .lanes/extra.log"
  judge_lane main "$@" || status=1
  echo "== waiting for the extra lanes"
  wait "$extra_pid"
  echo "== extra lanes' output (.lanes/extra.log)"
  cat .lanes/extra.log
else
  for lane in "${lanes[@]}"; do judge_lane "$lane" "$@" || status=1; done
fi
for lane in "${lanes[@]}"; do
  if [ -f ".lanes/$lane.line" ]; then
    summaries+=("$(cat ".lanes/$lane.line")")
  else
    summaries+=("lane $lane: no result: FAILED")
  fi
  case "${summaries[-1]}" in *": ok") ;; *) status=1 ;; esac
done

echo
echo "== summary (${#lanes[@]} lane(s), $(( $(date +%s) - total_started ))s)"
printf '%s\n' "${summaries[@]}"
python3 - "${summaries[@]}" <<'EOF'
import re
import sys
totals = [0, 0, 0]
for line in sys.argv[1:]:
    m = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", line)
    if m:
        totals = [t + int(v) for t, v in zip(totals, m.groups())]
print("total: {} passed, {} failed, {} skipped".format(*totals))
EOF
exit "$status"
