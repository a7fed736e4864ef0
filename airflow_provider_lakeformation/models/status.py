"""Job status values, the status sets every component reads, and the status logic every waiter
shares (the operators' wait, the sensor and the trigger): :func:`resolve_states` (which statuses end a
wait), :func:`job_outcome` (what a status means), :class:`StatusTransitionLogger` (one log line per
change) and :data:`TRANSIENT_ERRORS` (errors a waiter polls through)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from enum import Enum
from functools import cache
from typing import Any, Literal, Protocol

from airflow_provider_lakeformation.exceptions import (
    SERVER_TEXT_CHARS,
    LakeFormationConnectionError,
    LakeFormationRetryableError,
    LakeFormationSpecError,
    shown,
)


class JobStatus(str, Enum):
    """Status of a LakeFormation job, as the service reports it.

    A status the client does not know (a state the service added later, e.g. ``QUEUED``) is kept
    as an ``UNKNOWN`` value carrying the text: ``JobStatus("QUEUED")`` has ``name`` ``UNKNOWN``,
    ``value`` ``"QUEUED"``, equals ``"QUEUED"``, is neither terminal nor in progress, and
    :attr:`is_known` is False. Waits keep polling through it (see :func:`job_outcome`). The text is
    kept as :func:`~airflow_provider_lakeformation.exceptions.shown` makes it (control characters
    escaped, cut to :data:`~airflow_provider_lakeformation.exceptions.SERVER_TEXT_CHARS`), so every
    log line, event and XCom that carries a status carries a safe one.
    """

    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    PARTIAL_SUCCESS = "PARTIAL_SUCCESS"

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> JobStatus | None:
        """Known names in any case and with blanks; any other text becomes an ``UNKNOWN`` value."""
        if not isinstance(value, str):
            return None
        text = value.strip()
        known = cls.__members__.get(text.upper())
        if known is not None:
            return known
        if not text:
            return None
        if len(text) > _SHOWN_STATUS_CHARS or not text.isprintable():
            text = shown(text)  # a status shown once (e.g. back from a trigger event) stays as it is
        member = str.__new__(cls, text)
        member._name_ = "UNKNOWN"
        member._value_ = text
        return member

    @property
    def is_known(self) -> bool:
        """False for a status value this client does not know (kept as its raw text)."""
        return self._name_ != "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_in_progress(self) -> bool:
        return self in IN_PROGRESS_STATUSES


#: The longest unknown status kept as sent: :func:`shown` cuts a longer one to its 200 characters
#: plus the note saying so, which is shorter than this.
_SHOWN_STATUS_CHARS = SERVER_TEXT_CHARS + 64

#: A job in one of these states will not change state again until it is started again.
TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.PARTIAL_SUCCESS}
)
#: A run is under way: starting the job again is refused, deleting it needs a stop first.
IN_PROGRESS_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.SUBMITTED, JobStatus.RUNNING})


@cache  # one shared set per flag: thousands of waiting triggers hold the same object
def successful_statuses(*, partial_success_ok: bool = False) -> frozenset[JobStatus]:
    """Terminal states that count as success; PARTIAL_SUCCESS only when ``partial_success_ok``."""
    if partial_success_ok:
        return frozenset({JobStatus.SUCCESS, JobStatus.PARTIAL_SUCCESS})
    return frozenset({JobStatus.SUCCESS})


@cache
def failed_statuses(*, partial_success_ok: bool = False) -> frozenset[JobStatus]:
    """Terminal states that count as failure (the complement of :func:`successful_statuses`)."""
    return TERMINAL_STATUSES - successful_statuses(partial_success_ok=partial_success_ok)


#: Defaults: PARTIAL_SUCCESS is a failure unless a caller opts in.
SUCCESSFUL_STATUSES: frozenset[JobStatus] = successful_statuses()
FAILED_STATUSES: frozenset[JobStatus] = failed_statuses()


def parse_status(value: object) -> JobStatus:
    """Read a status as the service sends it: ``"RUNNING"`` or ``{"status": "RUNNING"}`` (both shapes
    occur in the docs). Tolerant: a value the client does not know is kept as its raw text
    (``JobStatus("QUEUED")``, ``is_known`` False); it never fails the read.

    Raises ``ValueError`` only when the value is neither shape (or an empty string).
    """
    raw = value.get("status") if isinstance(value, dict) else value
    if isinstance(raw, JobStatus):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        # the type only: the value came from a server and may hold anything (a secret as a key)
        got = "an empty string" if isinstance(raw, str) else type(value if raw is None else raw).__name__
        raise ValueError(f"status must be a string or an object with a 'status' string, got {got}")
    return JobStatus(raw)


def known_status(value: object) -> JobStatus:
    """A status given by a user (a filter, ``target_states``): one of the documented values.

    Raises ``ValueError`` naming the value and the known ones otherwise.
    """
    status = parse_status(value)
    if not status.is_known:
        known = ", ".join(s.value for s in JobStatus)
        raise ValueError(f"unknown job status {status.value!r} (known: {known})")
    return status


#: Errors worth polling through: the hook already retried them and the service may recover.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (LakeFormationRetryableError, LakeFormationConnectionError)

#: What a status means for a waiter: finished well, finished badly, or not yet (``None``).
Outcome = Literal["success", "error"]


class StatusLog(Protocol):
    """The logger methods a waiter uses (a ``logging.Logger`` or a structlog logger)."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def error(self, event: Any, *args: Any, **kw: Any) -> Any: ...


def _state_set(values: Iterable[JobStatus | str], what: str) -> frozenset[JobStatus]:
    try:
        return frozenset(known_status(v) for v in values)
    except ValueError as err:
        raise LakeFormationSpecError(what, [str(err)]) from None


def resolve_states(
    target_states: Iterable[JobStatus | str] | None = None,
    failure_states: Iterable[JobStatus | str] | None = None,
    *,
    fail_on_partial_success: bool = True,
) -> tuple[frozenset[JobStatus], frozenset[JobStatus]]:
    """The (success, failure) status sets of a waiter.

    :param target_states: statuses that mean success (default SUCCESS, plus PARTIAL_SUCCESS unless
        ``fail_on_partial_success``).
    :param failure_states: statuses that mean failure (default: the other terminal statuses).
    :param fail_on_partial_success: where PARTIAL_SUCCESS goes when a set is defaulted.
    :return: ``(success_states, failure_states)``, disjoint.
    :raises LakeFormationSpecError: unknown names, overlapping sets or an empty success set.
    """
    partial_ok = not fail_on_partial_success
    success = None if target_states is None else _state_set(target_states, "target_states")
    failure = None if failure_states is None else _state_set(failure_states, "failure_states")
    if success is not None and failure is not None:
        if overlap := success & failure:
            names = ", ".join(sorted(s.value for s in overlap))
            raise LakeFormationSpecError("failure_states", [f"overlaps target_states ({names})"])
    elif success is not None:  # a defaulted set never claims what the caller put in the other one
        failure = failed_statuses(partial_success_ok=partial_ok) - success
    elif failure is not None:
        success = successful_statuses(partial_success_ok=partial_ok) - failure
    else:
        success = successful_statuses(partial_success_ok=partial_ok)
        failure = failed_statuses(partial_success_ok=partial_ok)
    if not success:
        raise LakeFormationSpecError("target_states", ["must name at least one status"])
    return success, failure


def job_outcome(
    status: JobStatus, success_states: frozenset[JobStatus], failure_states: frozenset[JobStatus]
) -> Outcome | None:
    """``"success"``, ``"error"`` or ``None`` (keep waiting) for ``status``."""
    if status in success_states:
        return "success"
    if status in failure_states:
        return "error"
    return None


class StatusTransitionLogger:
    """Logs each status change of a job once, with the time spent in the previous status."""

    __slots__ = ("_changed_at", "_clock", "_job_id", "_last", "_log", "_started_at")

    def __init__(
        self,
        job_id: str,
        log: StatusLog,
        *,
        initial: JobStatus | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job_id = job_id
        self._log = log
        self._last = initial
        self._clock = clock
        self._started_at = self._changed_at = clock()

    @property
    def last(self) -> JobStatus | None:
        """The last status observed (or the initial one)."""
        return self._last

    def observe(self, status: JobStatus) -> bool:
        """Record ``status``; log and return True when it differs from the previous one."""
        if status == self._last:
            return False
        now = self._clock()
        if self._last is None:
            self._log.info("LakeFormation job %s: %s", self._job_id, status.value)
        else:
            self._log.info(
                "LakeFormation job %s: %s -> %s after %.1f s (%.1f s since waiting began)",
                self._job_id,
                self._last.value,
                status.value,
                now - self._changed_at,
                now - self._started_at,
            )
        self._last = status
        self._changed_at = now
        return True
