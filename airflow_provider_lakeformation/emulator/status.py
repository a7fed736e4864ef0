"""Job status values as the vendor pages list them, and the sets the emulator's state machine uses.

Written from the pages (not imported from the client), so the emulator checks the client."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """A job status (the create page's enumeration plus PARTIAL_SUCCESS from the API reference)."""

    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    PARTIAL_SUCCESS = "PARTIAL_SUCCESS"

    def __str__(self) -> str:
        return str(self.value)

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_in_progress(self) -> bool:
        return self in IN_PROGRESS


TERMINAL: frozenset[Status] = frozenset(
    {Status.SUCCESS, Status.FAILED, Status.STOPPED, Status.PARTIAL_SUCCESS}
)
IN_PROGRESS: frozenset[Status] = frozenset({Status.SUBMITTED, Status.RUNNING})
#: Outcomes a run may end in by itself (STOPPED only comes from a stop call).
OUTCOMES: frozenset[str] = frozenset(
    {Status.SUCCESS.value, Status.FAILED.value, Status.PARTIAL_SUCCESS.value}
)
