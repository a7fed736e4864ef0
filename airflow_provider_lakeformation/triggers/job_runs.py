"""Event trigger for ``AssetWatcher``: one event per newly finished run of a LakeFormation job,
whoever started it (Airflow, the console, LakeFormation's own scheduler).

::

    from airflow.sdk import Asset, AssetWatcher
    trigger = LakeFormationJobRunTrigger(job_id="<job id>")          # or job_type= + name_pattern=
    asset = Asset("lakeformation://cn-north-4/<instance>/hive/sales",
                  watchers=[AssetWatcher(name="sales_discovery_runs", trigger=trigger)])

Guarantees (details and polling cost in docs/lineage.md):

* no event for a run that finished before the watcher was first deployed (the first poll marks
  every watched job's current run as handled: older runs are never reported; a run still going
  then is reported when it ends);
* one event per finished run whose final status is in ``statuses`` (``SUCCESS`` by default), also
  across triggerer restarts and re-creation of the trigger: the runs already reported are kept in
  the watched asset's state store (Airflow 3.3+), written a hand-off delay after the event left the
  trigger. If the triggerer dies inside that delay the run is reported again after the restart
  (never lost). Without an asset state store (older Airflow, or no watched asset) the runs are
  kept in memory: a restart takes a new baseline, so runs that end while it is down are missed;
* no error ends the watcher, and none becomes an event: bad arguments fail when the trigger is
  built (the DAG file is parsed); a failed poll is logged (WARNING, then ERROR after 3 in a row)
  and retried after a backoff with jitter that honours ``Retry-After`` (the package's one poll
  loop, :func:`~airflow_provider_lakeformation.waiter.async_watch`);
* bounded cost: a poll makes at most 11 list requests (pattern mode) or 1 job read, plus at most
  ``history_reads_per_poll`` history reads; the state is one mark per job, for at most
  :data:`MAX_MARKS` jobs.

On Airflow 3.3+ the watchers a triggerer holds with equal :meth:`~LakeFormationJobRunTrigger.
shared_stream_key` share one poll (the triggerer's shared streams): the group's poll reads the
job(s) and the history of changed jobs once, and each watcher judges that against its own marks,
with the guarantees above. ``[lakeformation] status_feed = false`` makes each poll alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from airflow.triggers.base import TriggerEvent

from airflow_provider_lakeformation._compat import BaseEventTrigger
from airflow_provider_lakeformation.config import checked_poll_interval, status_feed_enabled
from airflow_provider_lakeformation.exceptions import LakeFormationSpecError, shown
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.lineage.assets import run_extra
from airflow_provider_lakeformation.models.arguments import (
    count_arg,
    duration_arg,
    final_statuses_arg,
    job_id_arg,
    job_type_arg,
    text_arg,
)
from airflow_provider_lakeformation.models.jobs import Job
from airflow_provider_lakeformation.models.status import JobStatus
from airflow_provider_lakeformation.triggers.base import LakeFormationBaseTrigger
from airflow_provider_lakeformation.waiter import Backoff, async_watch

if TYPE_CHECKING:
    from airflow_provider_lakeformation.hooks.lakeformation import AsyncLakeFormationClient

__all__ = ["LakeFormationJobRunTrigger", "run_key"]

#: Key prefix of the state kept in the watched asset's state store.
STATE_KEY_PREFIX = "lakeformation_job_runs"
#: Default seconds between polls when neither the argument nor the config option gives one.
DEFAULT_POLL_INTERVAL = 60.0
#: Jobs per list request of a ``job_type`` + ``name_pattern`` watcher: with the API's largest
#: offset (1000) a poll lists at most 1,100 jobs in at most 11 requests.
LIST_PAGE_SIZE = 100
#: Most jobs whose marks the state keeps: past it, jobs no longer listed are forgotten.
MAX_MARKS = 2 * (1000 + LIST_PAGE_SIZE)
#: Most history reads a poll may be allowed (``history_reads_per_poll``).
MAX_HISTORY_READS = 100
#: A watcher with a hand-off longer than this many poll intervals polls alone: while it waits, the
#: shared stream's items queue up for it (the triggerer fails a subscriber 1024 items behind).
SHARED_MAX_HANDOFF_POLLS = 100

#: What the watcher remembers of one job: ``[run key, finished]``: the newest run it has handled
#: (reported, or recorded without an event), and whether that run had finished. Runs that started
#: before it are never reported again.
Mark = list[Any]


def default_poll_interval() -> float:
    """``[lakeformation] watcher_poll_interval`` (read where the trigger is built: the DAG file)."""
    from airflow.providers.common.compat.sdk import conf

    return float(conf.getfloat("lakeformation", "watcher_poll_interval", fallback=DEFAULT_POLL_INTERVAL))


class StateStore(Protocol):
    """What the trigger needs of Airflow's asset state store accessor."""

    async def aget(self, key: str, default: Any = None) -> Any: ...

    async def aset(self, key: str, value: Any) -> None: ...


def run_key(run: Job) -> str | None:
    """Identity of one run of a job: its start time (the job's own record and its history entries
    both carry it; it changes on every start). ``None`` if the service sent none."""
    return None if run.start_time is None else str(run.start_time)


def _order(key: str) -> tuple[int, int | str]:
    """Sort key of a run key: epoch numbers by value, other text (ISO times) as text."""
    text = key.strip()
    return (0, int(text)) if text.lstrip("-").isdigit() else (1, text)


def _finished(run: Job) -> bool:
    return run.status is not None and run.status.is_terminal


def _marks_from_state(value: Any) -> dict[str, Mark] | None:
    """The marks of a stored state: ``{"v": 2, "jobs": {id: [key, finished]}}``, or the first
    format ``{"v": 1, "seen": {id: [keys]}}`` (every key there was a finished run)."""
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("jobs"), Mapping):
        return {
            str(job_id): [str(mark[0]), bool(mark[1])]
            for job_id, mark in value["jobs"].items()
            if isinstance(mark, list) and len(mark) == 2
        }
    if isinstance(value.get("seen"), Mapping):
        return {
            str(job_id): [max((str(k) for k in keys), key=_order), True]
            for job_id, keys in value["seen"].items()
            if isinstance(keys, list) and keys
        }
    return None


@dataclass(frozen=True)
class SharedPoll:
    """One raw item of the shared stream (Airflow 3.3+): what one poll of the watched job(s) read,
    handed to every watcher of the group, each judging it against its own marks.

    :param jobs: the watched job, or every job matching the pattern (as listed).
    :param history: the history pages (newest first) the poll read: of the jobs whose run changed
        since the stream's previous poll.
    :param later: changed jobs whose history the stream reads at a later poll
        (``history_reads_per_poll``).
    """

    jobs: list[Job]
    history: Mapping[str, list[Job]] = field(default_factory=dict)
    later: frozenset[str] = frozenset()


class _SharedPoller:
    """The poll of a shared stream (a :class:`~airflow_provider_lakeformation.waiter.Watch` of
    :class:`SharedPoll` items): the list/get of the watched job(s), and the history of the jobs whose
    run changed since its previous poll (at most ``history_reads_per_poll``, the longest-waiting
    first), through ``trigger``'s own request code. Its marks are in memory only: the first poll of
    a group reads no history (each watcher then catches up on its own, see
    :meth:`LakeFormationJobRunTrigger.poll`).

    :param trigger: a trigger of the group (built from its kwargs): what to read and how.
    :param api: the open async client.
    """

    handoff_seconds = 0.0

    def __init__(self, trigger: LakeFormationJobRunTrigger, api: AsyncLakeFormationClient) -> None:
        self.trigger, self.api = trigger, api
        self.marks: dict[str, Mark] | None = None

    async def poll(self, fed: Any = None) -> list[SharedPoll]:
        t = self.trigger
        jobs = await t._watched_jobs(self.api)
        current = {job.id: [run_key(job), _finished(job)] for job in jobs if run_key(job) is not None}
        if self.marks is None:
            self.marks = current
            return [SharedPoll(jobs)]
        t._polls += 1
        history: dict[str, list[Job]] = {}
        for job in t._changed(jobs, self.marks):
            history[job.id] = (await self.api.list_job_history(job.id, limit=t.history_limit)).jobs
        for job_id in history:
            t._waiting.pop(job_id, None)
        self.marks = {
            job_id: (current[job_id] if job_id in history else self.marks.get(job_id, mark))
            for job_id, mark in current.items()
            if job_id in history or job_id in self.marks
        }
        return [SharedPoll(jobs, history, frozenset(t._waiting))]

    async def commit(self) -> None:
        """Nothing to record: each watcher records its own marks."""


class LakeFormationJobRunTrigger(LakeFormationBaseTrigger, BaseEventTrigger):
    """Fire once per newly finished run of one job, or of the jobs of one type matching a name pattern.

    Every argument is checked when the trigger is built (the DAG file is parsed): a bad one raises
    a ``LakeFormationSpecError`` naming it, so the watcher never loops on its own bad arguments.

    :param job_id: the job to watch (the id rule of the hook); or leave it out and give
        ``job_type`` and ``name_pattern``.
    :param job_type: ``METADATA_DISCOVERY``, ``METADATA_MIGRATION`` or ``PERMISSION_MIGRATION``.
    :param name_pattern: the service's ``name_pattern`` (``*`` any run of characters, ``?`` one).
    :param statuses: final statuses that fire an event (default ``["SUCCESS"]``).
    :param lakeformation_conn_id: Airflow connection of type ``lakeformation``.
    :param project_id: overrides the connection's project.
    :param instance_id: overrides the connection's instance.
    :param poll_interval: seconds between polls (+-10 % jitter); default
        ``[lakeformation] watcher_poll_interval`` (60); at least ``[lakeformation]
        min_poll_interval`` (1 s), at most 30 days.
    :param history_limit: runs read per job when a job changed (1..100); more runs of one job
        finishing within one poll interval than this are not all reported.
    :param handoff_seconds: delay between an event and recording its run as reported (the time
        Airflow needs to store the event; see the module docstring); 0 to 30 days.
    :param state_asset_name: which watched asset keeps the state when the watcher watches several.
    :param history_reads_per_poll: most history reads of one poll (1..100): jobs that changed beyond
        it are read at the next polls, the longest-waiting first.
    """

    serialized_fields: ClassVar[tuple[str, ...]] = (
        "job_id",
        "job_type",
        "name_pattern",
        "statuses",
        *LakeFormationBaseTrigger.serialized_fields,
        "poll_interval",
        "history_limit",
        "handoff_seconds",
        "state_asset_name",
        "history_reads_per_poll",
    )

    def __init__(
        self,
        job_id: str | None = None,
        job_type: str | None = None,
        name_pattern: str | None = None,
        statuses: Iterable[str] | None = None,
        lakeformation_conn_id: str = DEFAULT_CONN_ID,
        project_id: str | None = None,
        instance_id: str | None = None,
        poll_interval: float | None = None,
        history_limit: int = 20,
        handoff_seconds: float = 5.0,
        state_asset_name: str | None = None,
        history_reads_per_poll: int = 10,
    ) -> None:
        super().__init__(
            lakeformation_conn_id=lakeformation_conn_id, project_id=project_id, instance_id=instance_id
        )
        self.job_id, self.job_type, self.name_pattern = self._watched(job_id, job_type, name_pattern)
        self.statuses = final_statuses_arg("statuses", statuses, JobStatus.SUCCESS)
        interval = default_poll_interval() if poll_interval is None else poll_interval
        self.poll_interval = checked_poll_interval("poll_interval", interval)
        self.history_limit = count_arg("history_limit", history_limit, 1, 100)
        self.handoff_seconds = duration_arg("handoff_seconds", handoff_seconds) or 0.0
        self.state_asset_name = (
            None if state_asset_name is None else text_arg("state_asset_name", state_asset_name)
        )
        self.history_reads_per_poll = count_arg(
            "history_reads_per_poll", history_reads_per_poll, 1, MAX_HISTORY_READS
        )
        self._marks: dict[str, Mark] | None = None  # loaded on the first poll
        self._dirty = False  # marks to store: after the baseline and after events
        self._waiting: dict[str, int] = {}  # changed jobs carried to a later poll: the poll they wait since
        self._polls = 0
        self._api: AsyncLakeFormationClient | None = None  # the client of run()
        self.backoff = Backoff(self.watch_key, self.poll_interval, self.log)

    @staticmethod
    def _watched(
        job_id: str | None, job_type: str | None, name_pattern: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """``(job_id, None, None)`` or ``(None, job_type, name_pattern)``, each by its rule."""
        if job_id is not None and (job_type is not None or name_pattern is not None):
            raise LakeFormationSpecError("job_id", ["job_id: give either job_id or job_type + name_pattern"])
        if job_id is not None:
            return job_id_arg(job_id), None, None
        if job_type is None and name_pattern is None:
            raise LakeFormationSpecError(
                "job_id", ["job_id: give a job id, or job_type and name_pattern to watch jobs by name"]
            )
        try:
            kind = job_type_arg(job_type if job_type is not None else "").value
        except LakeFormationSpecError as err:
            raise LakeFormationSpecError("job_type", err.problems) from None
        return None, kind, text_arg("name_pattern", name_pattern)

    @property
    def watch_key(self) -> str:
        """What is watched: the job id, or ``{job_type}:{name_pattern}``."""
        return self.job_id or f"{self.job_type}:{self.name_pattern}"

    @property
    def state_key(self) -> str:
        return f"{STATE_KEY_PREFIX}:{self.watch_key}"

    # ------------------------------------------------------------------------------ state store

    def _store(self) -> StateStore | None:
        store: Any = getattr(self, "asset_state_store", None)
        if store is None:
            return None
        if self.state_asset_name:
            from airflow.sdk import Asset

            result: StateStore = store[Asset.ref(name=self.state_asset_name)]
            return result
        return store  # type: ignore[no-any-return]

    async def _load_marks(self) -> dict[str, Mark] | None:
        store = self._store()
        return None if store is None else _marks_from_state(await store.aget(self.state_key))

    async def commit(self) -> None:
        """Store the marks in the asset state store after the baseline and after events (see
        :func:`~airflow_provider_lakeformation.waiter.async_watch`). Marks that changed without an
        event (a run started, a run ended in a status that fires nothing) are stored with the next
        event: after a restart the older marks only cost a history read."""
        store = self._store()
        if self._marks is not None and self._dirty and store is not None:
            await store.aset(self.state_key, {"v": 2, "watch": self.watch_key, "jobs": self._marks})
        self._dirty = False

    # ---------------------------------------------------------------------------------- polling

    async def _watched_jobs(self, api: AsyncLakeFormationClient) -> list[Job]:
        """The watched job, or every job matching the pattern (the hook's paging: each job once)."""
        if self.job_id is not None:
            return [await api.get_job(self.job_id)]
        pages = api.iter_jobs(str(self.job_type), name_pattern=self.name_pattern, page_size=LIST_PAGE_SIZE)
        return [job async for job in pages]

    def _changed(
        self,
        jobs: list[Job],
        marks: Mapping[str, Mark],
        read: Collection[str] = (),
        later: Collection[str] = (),
    ) -> list[Job]:
        """Jobs whose latest run is not the one marked (or whose run finished since): their
        history is read, at most ``history_reads_per_poll`` per poll, the longest-waiting first
        (the others are carried to the next poll). A shared poll's item gives the history of the
        jobs in ``read`` (taken, beyond that budget) and reads those in ``later`` at a later poll
        (carried)."""
        by_id = {job.id: job for job in jobs}
        self._waiting = {
            job.id: self._waiting.get(job.id, self._polls)
            for job in jobs
            if run_key(job) is not None and marks.get(job.id) != [run_key(job), _finished(job)]
        }
        own = sorted(
            (job_id for job_id in self._waiting if job_id not in read and job_id not in later),
            key=self._waiting.__getitem__,
        )
        ready = [job_id for job_id in self._waiting if job_id in read] + own[: self.history_reads_per_poll]
        if len(self._waiting) > len(ready):
            self.log.info(
                "LakeFormation watcher %s: %d changed job(s), reading the history of %d this poll "
                "(history_reads_per_poll), the rest at the next polls",
                self.watch_key,
                len(self._waiting),
                len(ready),
            )
        return [by_id[job_id] for job_id in ready]

    async def _new_runs(
        self, api: AsyncLakeFormationClient, job: Job, mark: Mark | None, history: list[Job] | None = None
    ) -> tuple[list[Job], Mark]:
        """The finished runs of ``job`` not handled yet (oldest first) and the job's new mark: the job's
        own record (its current run) and its history (newest first; read here unless ``history``
        gives it), read back to front."""
        if history is None:
            history = (await api.list_job_history(job.id, limit=self.history_limit)).jobs
        new: list[Job] = []
        for run in [*reversed(history), job]:
            key = run_key(run)
            if key is None or (mark is not None and _order(key) < _order(mark[0])):
                continue  # no start time, or a run older than the marked one
            if mark is not None and key == mark[0] and (mark[1] or not _finished(run)):
                continue  # the marked run, already handled (or still going)
            if _finished(run):
                new.append(run)
            mark = [key, _finished(run)]
        return new, mark if mark is not None else [run_key(job), _finished(job)]

    async def poll(self, fed: SharedPoll | None = None) -> list[dict[str, Any]]:
        """One poll: the event payloads of new finished runs (per job, oldest first). The first poll
        without a stored state only marks every job's current run (no history read, no event). All
        or nothing: if a request fails, the marks are left as they were.

        :param fed: the shared stream's item (Airflow 3.3+): its listing and history pages are used
            instead of reading them; a changed job whose history it lacks (this watcher's marks are
            behind the stream's, e.g. after a restart) is read here, within
            ``history_reads_per_poll``. ``None``: read everything (polling alone).
        """
        api = self._api
        assert api is not None, "poll() runs inside run() or filter_shared_stream()"
        if self._marks is None:
            loaded = await self._load_marks()
            if loaded is None:
                first = fed.jobs if fed is not None else await self._watched_jobs(api)
                self._marks, self._dirty = self._baseline(first), True
                return []
            self._marks = loaded
        self._polls += 1
        jobs = fed.jobs if fed is not None else await self._watched_jobs(api)
        history = fed.history if fed is not None else {}
        marks = dict(self._marks)
        if len(marks) > MAX_MARKS:  # bounded state: forget the jobs no longer listed
            listed = {job.id for job in jobs}
            marks = {job_id: mark for job_id, mark in marks.items() if job_id in listed}
        payloads: list[dict[str, Any]] = []
        later = fed.later if fed is not None else frozenset()
        for job in self._changed(jobs, marks, history, later):
            runs, marks[job.id] = await self._new_runs(api, job, marks.get(job.id), history.get(job.id))
            payloads += [self._payload(api, job, run) for run in runs if self._fires(run)]
            self._waiting.pop(job.id, None)
        self._marks = marks
        self._dirty = self._dirty or bool(payloads)
        return payloads

    def _fires(self, run: Job) -> bool:
        return run.status is not None and run.status.value in self.statuses

    def _baseline(self, jobs: list[Job]) -> dict[str, Mark]:
        marks = {job.id: [run_key(job), _finished(job)] for job in jobs if run_key(job) is not None}
        self.log.info(
            "LakeFormation watcher %s: first deployment, the current runs of %d job(s) recorded as "
            "already handled (no events for runs that finished before)",
            self.watch_key,
            len(marks),
        )
        return marks

    def _payload(self, api: AsyncLakeFormationClient, job: Job, run: Job) -> dict[str, Any]:
        try:
            url: str | None = api.job_console_url(job.id)
        except Exception:
            url = None
        extra = (run.model_extra or {}) | run.model_dump(exclude_none=True, mode="json")
        payload = run_extra(job, console_url=url, run=extra)
        payload["watch"] = self.watch_key
        self.log.info(
            "LakeFormation watcher %s: run of job %s finished %s (started %s)",
            shown(self.watch_key),
            shown(job.id),
            shown(payload.get("job_status")),
            shown(payload.get("start_time")),
        )
        return payload

    # -------------------------------------------------------------------------------------- run

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll forever through :func:`~airflow_provider_lakeformation.waiter.async_watch`; yield one
        event per newly finished run. Nothing ends it but cancellation."""
        async with self._hook().async_client() as api:
            self._api = api
            async for payload in async_watch(self, self.backoff):
                yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    # ----------------------------------------------------------------- shared stream (Airflow 3.3+)

    def shared_stream_key(self) -> Hashable | None:
        """Airflow 3.3+: watchers with equal keys share one poll in a triggerer (one list/get per
        poll interval and one history read per changed job, whatever their number): same
        connection, project, instance, watched job(s), poll interval, ``history_limit`` and
        ``history_reads_per_poll`` (what the poll reads, and when). ``statuses``, ``handoff_seconds``
        and ``state_asset_name`` may differ: each watcher applies its own.

        :return: the key; ``None`` (poll alone, as before) when ``[lakeformation] status_feed`` is
            off, or when the hand-off is so long that the shared items would pile up meanwhile.
        """
        if not status_feed_enabled() or self.handoff_seconds > SHARED_MAX_HANDOFF_POLLS * self.poll_interval:
            return None
        return (
            STATE_KEY_PREFIX,
            self.lakeformation_conn_id,
            self.project_id,
            self.instance_id,
            self.watch_key,
            self.poll_interval,
            self.history_limit,
            self.history_reads_per_poll,
        )

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[SharedPoll]:
        """The group's one poll (Airflow 3.3+): :class:`SharedPoll` items, one per poll, through
        the same loop as :meth:`run` (:func:`~airflow_provider_lakeformation.waiter.async_watch`):
        no failed poll ends it; it backs off (``Retry-After`` included) and yields nothing meanwhile.

        :param kwargs: one watcher's kwargs (only the fields of :meth:`shared_stream_key` are used).
        :return: the items, forever.
        """
        poller = cls(**kwargs)
        async with poller._hook().async_client() as api:
            async for item in async_watch(_SharedPoller(poller, api), poller.backoff):
                yield item

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """This watcher's events from the group's items (Airflow 3.3+): :meth:`poll` on each item
        with this watcher's own marks (asset state store), statuses and hand-off, in the same loop
        as :meth:`run`; the history of a changed job the item lacks is read here.

        :param shared_stream: the group's :class:`SharedPoll` items.
        :return: one event per newly finished run, forever.
        """
        async with self._hook().async_client() as api:
            self._api = api
            async for payload in async_watch(self, self.backoff, feed=shared_stream):
                yield TriggerEvent(payload)  # type: ignore[no-untyped-call]
