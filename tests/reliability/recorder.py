"""Scenario recorder: tests describe what they checked and the counts they saw; the conftest writes
every row (with the pytest outcome) to a JSON file that ``make_table.py`` renders as docs/reliability.md."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Where the rows go (relative paths are taken from the repository root). ``build/`` is git-ignored.
RESULTS_ENV = "LF_RELIABILITY_JSON"
DEFAULT_RESULTS = "build/reliability-results.json"


@dataclass
class Row:
    nodeid: str
    category: str = ""
    scenario: str = ""
    checked: str = ""
    counts: dict[str, Any] = field(default_factory=dict)
    outcome: str = "not run"
    duration: float = 0.0
    note: str = ""

    def __call__(self, category: str, scenario: str, checked: str) -> Row:
        self.category, self.scenario, self.checked = category, scenario, checked
        return self

    def count(self, **counts: Any) -> Row:
        """Add counts (job starts seen by the emulator, requests made, retries...)."""
        self.counts.update(counts)
        return self


@dataclass
class Results:
    rows: dict[str, Row] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def row(self, nodeid: str) -> Row:
        return self.rows.setdefault(nodeid, Row(nodeid))

    def write(self, root: Path) -> Path | None:
        rows = [r for r in self.rows.values() if r.category]
        if not rows:
            return None
        path = Path(os.environ.get(RESULTS_ENV) or DEFAULT_RESULTS)
        if not path.is_absolute():
            path = root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wall_seconds": round(time.time() - self.started, 1),
            "rows": [asdict(r) for r in rows],
        }
        path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path
