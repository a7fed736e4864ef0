"""Shared fixtures for tests against the local LakeFormation emulator (real HTTP, no mocks).

* ``emulator``: one in-process emulator for the whole session, reset (no jobs, no faults, zero
  counters, start-up settings) before every test. Jobs run fast: SUBMITTED 0.1 s, RUNNING 0.3 s.
  Change settings for one test with ``emulator.configure(run_seconds=..., status_shape="object")``
  (undone by the next reset) or per job with description markers ``[lf-emulator:duration=2]``.
* ``emulator_factory``: start extra emulators with other options (``token_ttl=1``,
  ``state_path=tmp_path / "lf.db"``...); all stopped at the end of the test.
* ``emulator_connection``: put an ``AIRFLOW_CONN_<ID>`` for the emulator into the environment
  (``emulator_connection("aksk" | "iam" | "token", conn_id="lakeformation_default")``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_lakeformation.emulator import EmulatorServer

#: Timings of the shared emulator (seconds).
EMULATOR_SUBMIT_SECONDS = 0.1
EMULATOR_RUN_SECONDS = 0.3


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[EmulatorServer]:
    """The session's emulator, not reset: prefer ``emulator``."""
    with EmulatorServer(
        port=0, submit_seconds=EMULATOR_SUBMIT_SECONDS, run_seconds=EMULATOR_RUN_SECONDS
    ) as server:
        yield server


@pytest.fixture
def emulator(emulator_session: EmulatorServer) -> Iterator[EmulatorServer]:
    """The shared emulator, reset before and after the test."""
    emulator_session.reset()
    yield emulator_session
    emulator_session.reset()


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., EmulatorServer]]:
    """``emulator_factory(**EmulatorServer options)`` -> a started emulator, stopped after the test."""
    started: list[EmulatorServer] = []

    def make(**options: Any) -> EmulatorServer:
        options.setdefault("submit_seconds", EMULATOR_SUBMIT_SECONDS)
        options.setdefault("run_seconds", EMULATOR_RUN_SECONDS)
        server = EmulatorServer(**options).start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def emulator_connection(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``emulator_connection(auth_type="aksk", conn_id="lakeformation_default", **extra)`` sets
    ``AIRFLOW_CONN_<CONN_ID>`` (JSON form) for the shared emulator and returns the conn id."""

    def make(auth_type: str = "aksk", conn_id: str = "lakeformation_default", **extra: Any) -> str:
        conn = emulator.connection(auth_type)
        conn["extra"].update(extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


@pytest.fixture(scope="session", autouse=True)
def _trigger_serde_warm() -> None:
    """Pay the first trigger round trip's one-off costs (serde imports, ~1.5 s on a loaded machine)
    before any test starts a short job: tests that must see a job RUNNING build their trigger after
    the start, and a cold first round trip let a 0.4 s job finish before the first poll."""
    from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger
    from tests.compat import rebuild_trigger

    rebuild_trigger(LakeFormationJobTrigger(job_id="warm-up", lakeformation_conn_id="warm_up"))
