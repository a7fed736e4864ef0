"""A local emulator of the LakeFormation job API (plus IAM tokens), for tests, demos and benchmarks.

``python -m airflow_provider_lakeformation.emulator --port 8080`` or, in-process::

    with EmulatorServer(port=0, run_seconds=0.3) as srv:
        srv.url, srv.project_id, srv.instance_id, srv.ak, srv.sk, srv.token

See ``docs/emulator.md``.
"""

from __future__ import annotations

from .app import EmulatorApp, create_app
from .config import EmulatorConfig
from .server import EmulatorServer

__all__ = ["EmulatorApp", "EmulatorConfig", "EmulatorServer", "create_app"]
