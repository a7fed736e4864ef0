"""Argument rules shared by the hook, the operators, the sensor and the triggers: each rule is
written once, here, and raises :class:`~airflow_provider_lakeformation.exceptions.LakeFormationSpecError`
naming the argument and the rule before any HTTP call (for tasks and triggers: when the DAG file is
parsed, in their ``__init__``).

=================  ==========================================================================
argument kind      rule
=================  ==========================================================================
ids                :func:`path_segment_arg` (``job_id``, ``project_id``, ``instance_id``)
booleans           :func:`bool_arg` (one reading of strings, also for connection extras)
durations          :func:`duration_arg` (finite, 0 or more, at most 30 days)
poll intervals     :func:`poll_interval_arg` (a duration of at least the poll-interval floor)
moments            :func:`epoch_arg` (``end_time``: finite epoch seconds)
statuses           :func:`status_arg` (one filter), :func:`final_statuses_arg` (a set of final ones)
pages              :func:`check_page` (``offset`` 0..1000, ``limit`` 1..1000)
counts             :func:`count_arg` (an integer in a range)
=================  ==========================================================================
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.models.jobs import (
    JOB_NAME_PATTERN,
    CreateJobRequest,
    JobParameter,
    JobType,
    StartMode,
)
from airflow_provider_lakeformation.models.status import JobStatus, known_status

#: Largest ``offset`` the list APIs accept.
MAX_LIST_OFFSET = 1000
#: Largest ``limit`` the list APIs accept.
MAX_PAGE_SIZE = 1000
#: Words read as true / false, in connection extras and in templated operator arguments alike.
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "t", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "f", "n"})
#: Longest id accepted as one URL path segment (project, instance, job ids): the service's ids are
#: 32-64 characters; anything near this bound is a mistake, not an id.
MAX_SEGMENT_CHARS = 256
#: Longest duration (timeout, wait, poll interval) accepted, in seconds: 30 days.
MAX_DURATION_SECONDS = 30 * 24 * 3600.0
#: Shortest poll interval accepted by default, in seconds (operators, sensor, both triggers): below
#: it a fleet of waits turns into a load test of the API. ``[lakeformation] min_poll_interval``
#: lowers it (tests), never below :data:`POLL_INTERVAL_HARD_FLOOR`.
MIN_POLL_INTERVAL = 1.0
#: The lowest ``[lakeformation] min_poll_interval`` honoured, in seconds.
POLL_INTERVAL_HARD_FLOOR = 0.01
#: Most consecutive transient errors a wait may be told to tolerate (``max_transient_errors``).
MAX_TRANSIENT_ERRORS = 1000
#: Default ``min_deferral_seconds`` (``[lakeformation] min_deferral_seconds``): how long after a task
#: defers its trigger holds back the event that resumes it (Airflow's deferral race, docs/operators.md).
MIN_DEFERRAL_SECONDS = 10.0
#: Longest ``min_deferral_seconds`` accepted: a hold is a few seconds, never a wait of its own.
MAX_DEFERRAL_HOLD = 300.0


def spec_error(what: str, problem: str) -> LakeFormationSpecError:
    """A :class:`LakeFormationSpecError` for one problem of ``what``."""
    return LakeFormationSpecError(what, [problem])


def path_segment_arg(name: str, value: Any) -> str:
    """The one rule of every id that becomes a URL path segment (project_id, instance_id, job_id),
    for the sync hook, the async client and templated operator fields alike: a non-empty string
    (surrounding whitespace stripped) of at most :data:`MAX_SEGMENT_CHARS` characters, not ``.`` or
    ``..``, without ``/``, ``?``, ``#``, ``%``, whitespace, control characters (NUL, DEL, CR/LF...)
    or lone surrogates. Non-ASCII letters are allowed; the caller percent-encodes them as UTF-8.

    :param name: the argument's name (named in the error).
    :param value: the id.
    :return: the stripped id.
    :raises LakeFormationSpecError: the id breaks the rule.
    """
    if not isinstance(value, str) or not value.strip():
        raise spec_error(name, f"{name}: must be a non-empty string")
    text = value.strip()
    if len(text) > MAX_SEGMENT_CHARS:
        raise spec_error(name, f"{name}: must be at most {MAX_SEGMENT_CHARS} characters")
    if text in (".", ".."):
        raise spec_error(name, f"{name}: must be a non-empty id other than '.' or '..'")
    for char in text:
        if char in "/?#%" or char.isspace() or unicodedata.category(char) in ("Cc", "Cs", "Cf", "Zl", "Zp"):
            raise spec_error(
                name,
                f"{name}: must not contain whitespace, control characters, lone surrogates, "
                "'/', '?', '#' or '%'",
            )
    return text


def job_id_arg(job_id: Any) -> str:
    """A job id: :func:`path_segment_arg` named ``job_id``."""
    return path_segment_arg("job_id", job_id)


def _finite(name: str, value: Any, rule: str) -> float:
    """``value`` as a finite float (numeric strings from templates too; not a bool), else the
    error of ``rule``."""
    if isinstance(value, bool):
        raise spec_error(name, rule)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise spec_error(name, rule) from None
    if not math.isfinite(number):
        raise spec_error(name, rule)
    return number


def duration_arg(name: str, value: Any, *, allow_zero: bool = True, allow_none: bool = False) -> float | None:
    """A duration in seconds (timeout, wait, poll interval): a finite number from 0 (or above 0
    when not ``allow_zero``) to :data:`MAX_DURATION_SECONDS`; numeric strings (templates) accepted.

    :param name: the argument's name (named in the error).
    :param value: the duration.
    :param allow_zero: whether 0 is accepted.
    :param allow_none: whether ``None`` (no limit) is accepted.
    :return: the duration as a float (``None`` when allowed and given).
    :raises LakeFormationSpecError: not a number, not finite, or out of range.
    """
    if value is None and allow_none:
        return None
    low = "0 or greater" if allow_zero else "greater than 0"
    rule = f"{name}: must be a finite number of seconds, {low} and at most {MAX_DURATION_SECONDS:.0f}"
    seconds = _finite(name, value, rule)
    if seconds < 0 or (seconds == 0 and not allow_zero) or seconds > MAX_DURATION_SECONDS:
        raise spec_error(name, rule)
    return seconds


def poll_interval_arg(name: str, value: Any, floor: float = MIN_POLL_INTERVAL) -> float:
    """A poll interval in seconds: a :func:`duration_arg` of at least ``floor`` (0, negative, NaN,
    infinite or sub-floor values would poll the API in a hot loop).

    :param name: the argument's name (named in the error).
    :param value: the interval.
    :param floor: the shortest interval accepted (:data:`MIN_POLL_INTERVAL` unless configured lower,
        never below :data:`POLL_INTERVAL_HARD_FLOOR`).
    :return: the interval as a float.
    :raises LakeFormationSpecError: not a number, not finite, below ``floor`` or above 30 days.
    """
    floor = max(float(floor), POLL_INTERVAL_HARD_FLOOR)
    seconds = duration_arg(name, value, allow_zero=False)
    assert seconds is not None
    if seconds < floor:
        raise spec_error(
            name,
            f"{name}: must be at least {floor:g} seconds (the poll-interval floor, "
            "[lakeformation] min_poll_interval)",
        )
    return seconds


def deferral_hold_arg(name: str, value: Any) -> float:
    """``min_deferral_seconds``: a finite number of seconds from 0 (no hold) to
    :data:`MAX_DEFERRAL_HOLD`; numeric strings (templates, config) accepted.

    :param name: the argument's name (named in the error).
    :param value: the seconds.
    :return: the seconds as a float.
    :raises LakeFormationSpecError: not a number, not finite, negative or above the bound.
    """
    seconds = duration_arg(name, value)
    assert seconds is not None
    if seconds > MAX_DEFERRAL_HOLD:
        raise spec_error(name, f"{name}: must be at most {MAX_DEFERRAL_HOLD:.0f} seconds (got {seconds:g})")
    return seconds


def epoch_arg(name: str, value: Any) -> float | None:
    """A moment as epoch seconds (``end_time``): ``None`` (no limit) or a finite number from 0.

    :param name: the argument's name (named in the error).
    :param value: the moment.
    :return: the moment as a float, or ``None``.
    :raises LakeFormationSpecError: not a number, NaN, infinite or negative.
    """
    if value is None:
        return None
    rule = f"{name}: must be a finite number of epoch seconds (or None for no limit)"
    seconds = _finite(name, value, rule)
    if seconds < 0:
        raise spec_error(name, rule)
    return seconds


def count_arg(name: str, value: Any, low: int, high: int) -> int:
    """A count (``max_transient_errors``, ``history_limit``...): an integer from ``low`` to ``high``;
    integral numbers and numeric strings (templates) accepted.

    :param name: the argument's name (named in the error).
    :param value: the count.
    :param low: the smallest count accepted.
    :param high: the largest count accepted.
    :return: the count.
    :raises LakeFormationSpecError: not an integer, or out of range.
    """
    rule = f"{name}: must be an integer from {low} to {high}"
    number = _finite(name, value, rule)
    if number != int(number) or not low <= number <= high:
        raise spec_error(name, rule)
    return int(number)


def text_arg(name: str, value: Any) -> str:
    """A non-empty text argument (``name_pattern``), surrounding whitespace stripped.

    :param name: the argument's name (named in the error).
    :param value: the text.
    :return: the stripped text.
    :raises LakeFormationSpecError: not a string, or blank.
    """
    if not isinstance(value, str) or not value.strip():
        raise spec_error(name, f"{name}: must be a non-empty string")
    return value.strip()


def job_type_arg(value: JobType | str, what: str = "arguments") -> JobType:
    """A :class:`JobType` from an enum member or its name (any case); ``what`` is named in the error."""
    try:
        return JobType(value.strip().upper() if isinstance(value, str) else value)
    except ValueError:
        known = ", ".join(t.value for t in JobType)
        raise spec_error(what, f"job_type: must be one of {known}") from None


def status_arg(value: JobStatus | str | None) -> str | None:
    """The wire value of a status filter (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        return known_status(value).value
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise spec_error("arguments", f"status: must be one of {known}") from None


def final_statuses_arg(name: str, values: Iterable[JobStatus | str] | None, default: JobStatus) -> list[str]:
    """A set of final statuses (the watcher's ``statuses``), as sorted wire values.

    :param name: the argument's name (named in the error).
    :param values: statuses (any case); ``None`` means ``[default]``.
    :param default: the status of ``None``.
    :return: the sorted wire values.
    :raises LakeFormationSpecError: a status that is unknown or not final, a bare string, or none.
    """
    if values is None:
        return [default.value]
    if isinstance(values, str):
        raise spec_error(name, f"{name}: must be a list of statuses, not one string")
    out: set[str] = set()
    for value in values:
        try:
            status = known_status(value)
        except ValueError:
            known = ", ".join(s.value for s in JobStatus if s.is_terminal)
            raise spec_error(name, f"{name}: each must be one of {known}") from None
        if not status.is_terminal:
            raise spec_error(name, f"{name}: {status.value} is not a final status")
        out.add(status.value)
    if not out:
        raise spec_error(name, f"{name}: must name at least one final status")
    return sorted(out)


def check_page(offset: int, limit: int) -> None:
    """``offset`` 0..1000 and ``limit`` 1..1000, as the list APIs accept."""
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_LIST_OFFSET:
        raise spec_error("arguments", f"offset: must be an integer from 0 to {MAX_LIST_OFFSET}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise spec_error("arguments", f"limit: must be an integer from 1 to {MAX_PAGE_SIZE}")


def bool_arg(value: Any, what: str) -> bool | None:
    """The one reading of a boolean argument, for templated operator arguments, trigger kwargs and
    connection extras alike: ``None``, ``""`` and ``"none"`` (any case) -> ``None`` (not given);
    :data:`TRUE_WORDS` / :data:`FALSE_WORDS` (any case, also the integers 1 and 0) -> True / False.

    :param value: the value.
    :param what: the argument's name (named in the error).
    :return: True, False or ``None``.
    :raises LakeFormationSpecError: anything else (``"maybe"``, 2, a list...).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (str, int)):
        text = str(value).strip().lower()
        if text in ("", "none"):
            return None
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
    raise spec_error(what, f"{what}: must be true or false")


def flag_arg(value: Any, what: str, default: bool) -> bool:
    """:func:`bool_arg` where "not given" means ``default``.

    :param value: the value.
    :param what: the argument's name (named in the error).
    :param default: the value of ``None`` / ``""``.
    :return: True or False.
    :raises LakeFormationSpecError: not a boolean word.
    """
    parsed = bool_arg(value, what)
    return default if parsed is None else parsed


def start_args(mode: StartMode | str | None, cascade: Any) -> tuple[StartMode | None, bool | None]:
    """``mode`` (NORMAL/COMPARISON, any case; blank = service default) and ``cascade`` of a start."""
    parsed: StartMode | None = None
    if isinstance(mode, StartMode):
        parsed = mode
    elif mode is not None and str(mode).strip():
        try:
            parsed = StartMode(str(mode).strip().upper())
        except ValueError:
            allowed = ", ".join(m.value for m in StartMode)
            raise spec_error("mode", f"mode: must be one of {allowed}") from None
    return parsed, bool_arg(cascade, "cascade")


def spec_mapping(job: Any) -> dict[str, Any]:
    """A rendered spec as a dict: a mapping, or a JSON object rendered from a template as text."""
    if isinstance(job, str):
        try:
            job = json.loads(job)
        except ValueError:
            raise spec_error("job spec", "job: a string spec must be a JSON object") from None
    if not isinstance(job, Mapping):
        raise spec_error("job spec", "job: must be a dict (or a JSON object string)")
    return dict(job)


def create_request(spec: Any, default_instance_id: str | None) -> CreateJobRequest:
    """The validated :class:`CreateJobRequest` of ``spec`` (a request or a mapping); a missing
    parameter-block ``instance_id`` becomes ``default_instance_id``."""
    if isinstance(spec, CreateJobRequest):
        return spec
    if not isinstance(spec, Mapping):
        raise spec_error("job spec", "must be a CreateJobRequest or a mapping")
    try:
        return CreateJobRequest.model_validate(
            dict(spec), context={"default_instance_id": default_instance_id}
        )
    except ValidationError as exc:
        raise LakeFormationSpecError.from_validation_error("job spec", exc) from None


def parameter_blocks(parameter: JobParameter, job_type: JobType, log: logging.Logger) -> None:
    """Check that ``parameter`` carries the block of ``job_type``; blocks beside it are sent as given,
    with one warning naming them (the pages mark every block optional and their create example
    sends all three).

    :param parameter: the request's parameter object.
    :param job_type: the job's type.
    :param log: where the warning goes.
    :raises LakeFormationSpecError: the type's block is missing.
    """
    try:
        extra = parameter.check_type(job_type)
    except ValueError as exc:
        raise spec_error("job spec", str(exc)) from None
    if extra:
        log.warning(
            "LakeFormation %s job: sending %s beside its own block as given (the service reads the "
            "block of the job's type)",
            job_type.value,
            ", ".join(f"parameter.{name}" for name in extra),
        )


def is_template(value: Any) -> bool:
    """Whether ``value`` is still to be rendered (a Jinja string, or an ``XComArg`` or other
    object Airflow resolves at run time): its content is checked after rendering, not at DAG parse."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return not isinstance(value, (int, float, bool, JobType))


def job_name_arg(value: Any) -> str:
    """A job name looked up exactly (``job_name``): the rule of a job's name (4-255 letters, digits
    and ``_``), so a name no job can have fails before any HTTP call.

    :param value: the name.
    :return: the name.
    :raises LakeFormationSpecError: not a possible job name.
    """
    if not isinstance(value, str) or not 4 <= len(value) <= 255 or not re.fullmatch(JOB_NAME_PATTERN, value):
        raise spec_error(
            "job_name", "job_name: must be a job name of 4 to 255 letters, digits and '_' (matched exactly)"
        )
    return value


def job_ref_arg(
    job_id: Any, job_name: Any, job_type: Any, *, rendered: bool = True
) -> tuple[str | None, str | None, JobType | None]:
    """The job an operator or the sensor works on: exactly one of ``job_id`` or ``job_name`` (with
    ``job_type``, as names are unique per type only). At construction (``rendered=False``) the
    presence rules apply and every value that is not a template is checked; after rendering, every value.

    :param job_id: the job id, or ``None``.
    :param job_name: the job's exact name, or ``None``.
    :param job_type: the job's type (with ``job_name`` only).
    :param rendered: whether templates have been rendered.
    :return: ``(job_id, job_name, job_type)``; a value still to be rendered is ``None``.
    :raises LakeFormationSpecError: a rule is broken.
    """
    if (job_id is None) == (job_name is None):
        raise spec_error(
            "job_id/job_name", "job_id, job_name: give exactly one of them (job_name together with job_type)"
        )
    if job_id is not None:
        if job_type is not None:
            raise spec_error("job_type", "job_type: only used with job_name (a job id names one job already)")
        return (job_id_arg(job_id) if rendered or not is_template(job_id) else None), None, None
    if job_type is None:
        raise spec_error("job_type", "job_type: required with job_name (job names are unique per type)")
    name = job_name_arg(job_name) if rendered or not is_template(job_name) else None
    kind = job_type_arg(job_type, "job_type") if rendered or not is_template(job_type) else None
    return None, name, kind


def choice_arg(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """One of the ``allowed`` words (``if_exists``, ``if_running``...).

    :param name: the argument's name (named in the error).
    :param value: the value given.
    :param allowed: the accepted words.
    :return: the value.
    :raises LakeFormationSpecError: anything else.
    """
    if not isinstance(value, str) or value not in allowed:
        raise spec_error(name, f"{name}: must be one of {', '.join(allowed)}")
    return value


#: What a ``name_pattern`` may hold: the characters of job names plus the wildcards ``*`` and ``?``.
NAME_PATTERN_RE = re.compile(r"[A-Za-z0-9_*?]{1,255}")


def name_pattern_arg(value: Any) -> str | None:
    """A list filter on job names (``name_pattern``; ``None`` or blank: no filter): at most 255 of
    the characters a job name may hold (letters, digits, ``_``) and the wildcards ``*`` / ``?``, so
    a pattern no name can match fails before any HTTP call.

    :param value: the pattern.
    :return: the pattern, or ``None``.
    :raises LakeFormationSpecError: any other character, or longer than a job name.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not NAME_PATTERN_RE.fullmatch(value):
        raise spec_error(
            "name_pattern",
            "name_pattern: must be at most 255 letters, digits, '_' and the wildcards '*' and '?'",
        )
    return value


def list_args(
    job_type: Any, name_pattern: Any, status: Any, *, rendered: bool = True
) -> tuple[JobType | None, str | None, str | None]:
    """The filters of a job listing (the list operator): ``job_type`` (required), ``name_pattern``
    and ``status``; at construction (``rendered=False``) values still to be rendered are skipped.

    :param job_type: the jobs' type.
    :param name_pattern: :func:`name_pattern_arg`.
    :param status: a status the jobs are in, or ``None``.
    :param rendered: whether templates have been rendered.
    :return: ``(job_type, name_pattern, status)``; a value still to be rendered is ``None``.
    :raises LakeFormationSpecError: a rule is broken.
    """

    def check(value: Any) -> bool:
        return rendered or not is_template(value)

    if job_type is None:
        raise spec_error("job_type", "job_type: required (the list API lists one type at a time)")
    kind = job_type_arg(job_type, "job_type") if check(job_type) else None
    pattern = name_pattern_arg(name_pattern) if check(name_pattern) else None
    wanted = status_arg(status) if check(status) else None
    return kind, pattern, wanted
