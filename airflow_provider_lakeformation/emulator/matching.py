"""``name_pattern`` of the list call: ``*`` any run of characters, ``?`` one character, against the
whole name; a pattern without wildcards matches names that contain it.

Matched without backtracking: the pieces between stars are placed, in order, at their leftmost
fit, which is always a fit when one exists. The cost is at most len(name) x len(pattern) steps,
whatever the pattern (a regular expression with several ``.*`` can take exponential time).
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import bad_request

#: Longest accepted pattern: a job name has at most 255 characters.
MAX_PATTERN = 255


def _fits(name: str, piece: str, at: int) -> bool:
    if at < 0 or at + len(piece) > len(name):
        return False
    return all(p == "?" or p == name[at + k] for k, p in enumerate(piece))


def _leftmost(name: str, piece: str, start: int, end: int) -> int:
    for at in range(start, end - len(piece) + 1):
        if _fits(name, piece, at):
            return at
    return -1


def wildcard_match(pattern: str, name: str) -> bool:
    """Whether ``name`` matches ``pattern`` as a whole (``*`` and ``?`` wildcards)."""
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return len(name) == len(pattern) and _fits(name, pattern, 0)
    first, *middle, last = pieces
    end = len(name) - len(last)
    if end < len(first) or not _fits(name, first, 0) or not _fits(name, last, end):
        return False
    position = len(first)
    for piece in middle:
        if not piece:
            continue
        found = _leftmost(name, piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def name_matcher(pattern: str | None) -> Callable[[str], bool]:
    """The predicate for ``name_pattern`` (400 for a pattern longer than a job name can be)."""
    if not pattern:
        return lambda name: True
    if len(pattern) > MAX_PATTERN:
        raise bad_request(f"name_pattern: at most {MAX_PATTERN} characters")
    if "*" not in pattern and "?" not in pattern:
        return lambda name: pattern in name
    return lambda name: wildcard_match(pattern, name)
