"""Settings of the whole test suite."""

from __future__ import annotations

import os

#: The suites poll the local emulator every 0.05-0.5 s to stay fast: lower the poll-interval floor
#: (default 1 s) for them and for the Airflow processes the end-to-end tests start (they inherit
#: the environment). ``tests/reliability/test_hardening_triggers.py`` checks the default floor.
os.environ.setdefault("AIRFLOW__LAKEFORMATION__MIN_POLL_INTERVAL", "0.01")
#: In-process triggers resume no scheduled task, so Airflow's deferral race (docs/operators.md) cannot
#: happen there: no hold by default (tests of the hold set ``min_deferral_seconds`` / ``hold_until``).
os.environ.setdefault("AIRFLOW__LAKEFORMATION__MIN_DEFERRAL_SECONDS", "0")
