"""Job status values and the status sets every component reads (the one place they are defined)."""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    """Status of a LakeFormation job, as the service reports it."""

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
        return self in TERMINAL_STATUSES

    @property
    def is_in_progress(self) -> bool:
        return self in IN_PROGRESS_STATUSES


#: A job in one of these states will not change state again until it is started again.
TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.PARTIAL_SUCCESS}
)
#: A run is under way: starting the job again is refused, deleting it needs a stop first.
IN_PROGRESS_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.SUBMITTED, JobStatus.RUNNING})


def successful_statuses(*, partial_success_ok: bool = False) -> frozenset[JobStatus]:
    """Terminal states that count as success; PARTIAL_SUCCESS only when ``partial_success_ok``."""
    if partial_success_ok:
        return frozenset({JobStatus.SUCCESS, JobStatus.PARTIAL_SUCCESS})
    return frozenset({JobStatus.SUCCESS})


def failed_statuses(*, partial_success_ok: bool = False) -> frozenset[JobStatus]:
    """Terminal states that count as failure (the complement of :func:`successful_statuses`)."""
    return TERMINAL_STATUSES - successful_statuses(partial_success_ok=partial_success_ok)


#: Defaults: PARTIAL_SUCCESS is a failure unless a caller opts in.
SUCCESSFUL_STATUSES: frozenset[JobStatus] = successful_statuses()
FAILED_STATUSES: frozenset[JobStatus] = failed_statuses()


def parse_status(value: object) -> JobStatus:
    """Read a status given as ``"RUNNING"`` or ``{"status": "RUNNING"}`` (both shapes occur in the docs).

    Raises ``ValueError`` naming the value when it is neither shape or not a known status.
    """
    raw = value.get("status") if isinstance(value, dict) else value
    if isinstance(raw, JobStatus):
        return raw
    if not isinstance(raw, str):
        raise ValueError(f"status must be a string or an object with a 'status' string, got {value!r}")
    try:
        return JobStatus(raw.strip().upper())
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise ValueError(f"unknown job status {raw!r} (known: {known})") from None
