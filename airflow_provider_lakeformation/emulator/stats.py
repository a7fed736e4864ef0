"""Request and activity counters behind ``GET /_emulator/stats``.

Counters live in process memory (a dict under a lock: cheap enough for every request). With
several worker processes (``shared=True``) each process adds its counts to the SQLite
``counters`` table every ``FLUSH_SECONDS`` and the stats answer sums that table, so numbers from
other workers may lag by up to that long.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from .store import Store

FLUSH_SECONDS = 0.25

#: Top-level counters, always present in the answer.
SCALARS = ("requests", "creates", "iam_tokens_issued", "auth_failures", "faults_injected")
#: Per-key counters: name in the answer -> key prefix.
GROUPS = {
    "by_route": "route:",
    "by_status": "status:",
    "auth_by_mode": "auth:",
    "auth_failures_by_reason": "authfail:",
    "starts": "start:",
    "start_requests": "startreq:",
    "stops": "stop:",
}


class Stats:
    def __init__(self, store: Store, *, shared: bool) -> None:
        self._store = store
        self._shared = shared
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._counts[key] += 1

    def flush(self) -> None:
        """Move this process's counts into the shared table (shared mode only)."""
        if not self._shared:
            return
        with self._lock:
            deltas = dict(self._counts)
            self._counts.clear()
        if deltas:
            with self._store.write() as tx:
                tx.add_counters(deltas)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict[str, Any]:
        if self._shared:
            self.flush()
            with self._store.read() as tx:
                counts = Counter(tx.counters())
        else:
            with self._lock:
                counts = Counter(self._counts)
        out: dict[str, Any] = {name: counts.get(name, 0) for name in SCALARS}
        for name, prefix in GROUPS.items():
            out[name] = {k[len(prefix) :]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}
        return out
