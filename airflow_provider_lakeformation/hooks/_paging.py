"""The paging rules of ``GET /lf-jobs``: one home for the sync and the async ``iter_jobs``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from airflow_provider_lakeformation.exceptions import LakeFormationResponseError
from airflow_provider_lakeformation.models.arguments import MAX_LIST_OFFSET, check_page

log = logging.getLogger("airflow_provider_lakeformation.hooks.lakeformation")  # where iter_jobs logged


class _Listed(Protocol):
    @property
    def id(self) -> str: ...


J = TypeVar("J", bound=_Listed)
J_co = TypeVar("J_co", bound=_Listed, covariant=True)


class _Page(Protocol[J_co]):
    @property
    def total(self) -> int: ...

    @property
    def jobs(self) -> Sequence[J_co]: ...


class JobPager(Generic[J]):
    """The paging rules of ``GET /lf-jobs``, one home for the sync and the async ``iter_jobs``.

    Feed it each page with :meth:`take`; it returns the jobs not seen before and says when to stop:

    * every job once: a job id already returned is dropped (a server that repeats a page, or lists
      a job twice, yields no duplicates);
    * stop at the end (an empty page, or ``total`` reached), at the first page that brings no new
      job (a server that repeats a page or overstates ``total`` costs one more request, not 1,000),
      and past the API's largest offset (:data:`MAX_LIST_OFFSET`, with a warning);
    * a page with more jobs than asked for is refused (:class:`LakeFormationResponseError`).

    The pages may be of any reply model with ``total`` and ``jobs`` (each with an ``id``):
    ``JobPage`` for ``iter_jobs``, ``JobStatePage`` for the status feed.

    :param page_size: the ``limit`` sent with every request.
    :param quiet: no warning at the offset limit (a caller that reads the rest another way).
    """

    def __init__(self, page_size: int, *, quiet: bool = False) -> None:
        check_page(0, page_size)
        self.page_size = page_size
        self.quiet = quiet
        self.offset = 0
        self.done = False
        self._seen: set[str] = set()

    def take(self, page: _Page[J]) -> list[J]:
        """The jobs of ``page`` not returned before, in page order; sets :attr:`done` when paging ends.

        :param page: the page read at :attr:`offset`.
        :return: the new jobs.
        :raises LakeFormationResponseError: the page has more jobs than :attr:`page_size`.
        """
        if len(page.jobs) > self.page_size:
            self.done = True
            raise LakeFormationResponseError(
                f"LakeFormation sent a page of {len(page.jobs)} jobs when {self.page_size} were asked "
                "for: refused (the reply does not follow the API)"
            )
        new: list[J] = []
        for job in page.jobs:
            if job.id not in self._seen:
                self._seen.add(job.id)
                new.append(job)
        self.offset += len(page.jobs)
        self.done = not new or self.offset >= page.total
        if not self.done and self.offset > MAX_LIST_OFFSET:
            self.done = True
            if self.quiet:
                return new
            log.warning(
                "LakeFormation lists %d matching jobs but its API cannot page beyond offset %d: "
                "only the first %d were read (narrow name_pattern/status to see the rest)",
                page.total,
                MAX_LIST_OFFSET,
                self.offset,
            )
        return new
