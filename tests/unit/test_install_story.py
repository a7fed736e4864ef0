"""The README's install table and the CI lanes agree: each lane installs exactly what the README tells
a user of its Airflow line to install (``LANE_AIRFLOW`` in scripts/lanes.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LANES = ["main", "af2.11-py3.10", "af3.1-py3.12", "af3.3-py3.13"]


def lane_requirements(lane: str) -> list[str]:
    script = f'source scripts/lanes.sh && lane_spec "{lane}" && echo "$LANE_AIRFLOW"'
    out = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("lane", LANES)
def test_readme_install_line_is_the_lane_install(lane: str) -> None:
    reqs = lane_requirements(lane)
    command = "pip install " + " ".join(f'"{req}"' for req in reqs) + " airflow-provider-lakeformation"
    assert f"`{command}`" in (REPO / "README.md").read_text(), command


@pytest.mark.parametrize("lane", ["af2.11-py3.10", "af3.1-py3.12"])
def test_pre_3_3_lines_pin_cryptography_below_51(lane: str) -> None:
    assert "cryptography<51" in lane_requirements(lane)
