"""Event trigger for ``AssetWatcher``: one event per newly finished run of a LakeFormation job,
whoever started it (Airflow, the console, LakeFormation's own scheduler).

::

    from airflow.sdk import Asset, AssetWatcher
    trigger = LakeFormationJobRunTrigger(job_id="<job id>")          # or job_type= + name_pattern=
    asset = Asset("lakeformation://cn-north-4/<instance>/hive/sales",
                  watchers=[AssetWatcher(name="sales_discovery_runs", trigger=trigger)])

Guarantees (details and polling cost in docs/lineage.md):

* no event for a run that finished before the watcher was first deployed (the first poll records
  every finished run it sees as already known);
* one event per finished run whose final status is in ``statuses`` (``SUCCESS`` by default), also
  across triggerer restarts and re-creation of the trigger: the runs already reported are kept in
  the watched asset's state store (Airflow 3.3+), written a hand-off delay after the event left the
  trigger. If the triggerer dies inside that delay the run is reported again after the restart
  (never lost). Without an asset state store (older Airflow, or no watched asset) the runs are
  kept in memory: a restart takes a new baseline, so runs that end while it is down are missed;
* no error ends the watcher: failed polls are logged and retried with backoff.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from airflow.triggers.base import TriggerEvent

from airflow_provider_lakeformation._compat import BaseEventTrigger
from airflow_provider_lakeformation.exceptions import LakeFormationSpecError
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.lineage.assets import run_extra
from airflow_provider_lakeformation.models.jobs import Job, JobType
from airflow_provider_lakeformation.models.status import JobStatus, parse_status

if TYPE_CHECKING:
    from airflow_provider_lakeformation.hooks.lakeformation import AsyncLakeFormationClient, LakeFormationHook

__all__ = ["LakeFormationJobRunTrigger", "run_key"]

#: Key prefix of the state kept in the watched asset's state store.
STATE_KEY_PREFIX = "lakeformation_job_runs"
#: Largest backoff after consecutive failed polls, in multiples of ``poll_interval``.
MAX_BACKOFF_FACTOR = 10


#: Default seconds between polls when neither the argument nor the config option gives one.
DEFAULT_POLL_INTERVAL = 60.0


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


def _statuses(values: Iterable[str] | None) -> list[str]:
    if values is None:
        return [JobStatus.SUCCESS.value]
    out: set[str] = set()
    for value in values:
        try:
            status = parse_status(value)
        except ValueError as err:
            raise LakeFormationSpecError("statuses", [f"statuses: {err}"]) from None
        if not status.is_terminal:
            raise LakeFormationSpecError("statuses", [f"statuses: {status.value} is not a final status"])
        out.add(status.value)
    if not out:
        raise LakeFormationSpecError("statuses", ["statuses: must name at least one final status"])
    return sorted(out)


class LakeFormationJobRunTrigger(BaseEventTrigger):
    """Fire once per newly finished run of one job, or of the jobs of one type matching a name pattern.

    :param job_id: the job to watch; or leave it out and give ``job_type`` and ``name_pattern``.
    :param job_type: ``METADATA_DISCOVERY``, ``METADATA_MIGRATION`` or ``PERMISSION_MIGRATION``.
    :param name_pattern: the service's ``name_pattern`` (``*`` any run of characters, ``?`` one).
    :param statuses: final statuses that fire an event (default ``["SUCCESS"]``).
    :param lakeformation_conn_id: Airflow connection of type ``lakeformation``.
    :param project_id: overrides the connection's project.
    :param instance_id: overrides the connection's instance.
    :param poll_interval: seconds between polls (+-10 % jitter); default
        ``[lakeformation] watcher_poll_interval`` (60).
    :param history_limit: runs read per job when a job changed (1..100); more runs of one job
        finishing within one poll interval than this are not all reported.
    :param handoff_seconds: delay between an event and recording its run as reported (the time
        Airflow needs to store the event; see the module docstring).
    :param state_asset_name: which watched asset keeps the state when the watcher watches several.
    """

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
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job_id = job_id.strip() if isinstance(job_id, str) and job_id.strip() else None
        self.job_type, self.name_pattern = self._pattern(job_type, name_pattern)
        if self.job_id is None and self.job_type is None:
            raise LakeFormationSpecError(
                "job_id", ["job_id: give a job id, or job_type and name_pattern to watch jobs by name"]
            )
        self.statuses = _statuses(statuses)
        self.lakeformation_conn_id = lakeformation_conn_id
        self.project_id = project_id
        self.instance_id = instance_id
        if poll_interval is None:
            poll_interval = default_poll_interval()
        if poll_interval <= 0:
            raise LakeFormationSpecError("poll_interval", ["poll_interval: must be greater than 0"])
        if not 1 <= int(history_limit) <= 100:
            raise LakeFormationSpecError("history_limit", ["history_limit: must be 1..100"])
        if handoff_seconds < 0:
            raise LakeFormationSpecError("handoff_seconds", ["handoff_seconds: must be 0 or more"])
        self.poll_interval = float(poll_interval)
        self.history_limit = int(history_limit)
        self.handoff_seconds = float(handoff_seconds)
        self.state_asset_name = state_asset_name
        self._signatures: dict[str, tuple[str | None, str | None]] = {}

    def _pattern(self, job_type: str | None, name_pattern: str | None) -> tuple[str | None, str | None]:
        if job_type is None and name_pattern is None:
            return None, None
        if self.job_id is not None:
            raise LakeFormationSpecError("job_id", ["job_id: give either job_id or job_type + name_pattern"])
        try:
            jt = JobType(str(job_type).strip().upper())
        except ValueError:
            allowed = ", ".join(t.value for t in JobType)
            raise LakeFormationSpecError("job_type", [f"job_type: must be one of {allowed}"]) from None
        if not isinstance(name_pattern, str) or not name_pattern.strip():
            raise LakeFormationSpecError("name_pattern", ["name_pattern: must be a non-empty pattern"])
        return jt.value, name_pattern.strip()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON kwargs (ids, names, numbers); no credentials."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "job_type": self.job_type,
                "name_pattern": self.name_pattern,
                "statuses": self.statuses,
                "lakeformation_conn_id": self.lakeformation_conn_id,
                "project_id": self.project_id,
                "instance_id": self.instance_id,
                "poll_interval": self.poll_interval,
                "history_limit": self.history_limit,
                "handoff_seconds": self.handoff_seconds,
                "state_asset_name": self.state_asset_name,
            },
        )

    @property
    def watch_key(self) -> str:
        """What is watched: the job id, or ``{job_type}:{name_pattern}``."""
        return self.job_id or f"{self.job_type}:{self.name_pattern}"

    @property
    def state_key(self) -> str:
        return f"{STATE_KEY_PREFIX}:{self.watch_key}"

    def _hook(self) -> LakeFormationHook:
        from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

        return LakeFormationHook(
            self.lakeformation_conn_id, project_id=self.project_id, instance_id=self.instance_id
        )

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

    async def _load_state(self) -> dict[str, list[str]] | None:
        store = self._store()
        if store is None:
            return None
        value = await store.aget(self.state_key)
        if isinstance(value, Mapping) and isinstance(value.get("seen"), Mapping):
            return {str(k): [str(x) for x in v] for k, v in value["seen"].items() if isinstance(v, list)}
        return None

    async def _save_state(self, seen: Mapping[str, list[str]]) -> None:
        store = self._store()
        if store is not None:
            await store.aset(self.state_key, {"v": 1, "watch": self.watch_key, "seen": dict(seen)})

    # ---------------------------------------------------------------------------------- polling

    async def _watched_jobs(self, api: AsyncLakeFormationClient) -> list[Job]:
        if self.job_id is not None:
            return [await api.get_job(self.job_id)]
        jobs: list[Job] = []
        offset = 0
        while True:
            page = await api.list_jobs(str(self.job_type), name_pattern=self.name_pattern, offset=offset)
            jobs.extend(page.jobs)
            offset += len(page.jobs)
            if not page.jobs or offset >= page.total or offset > 1000:
                return jobs

    async def _runs(
        self, api: AsyncLakeFormationClient, job: Job, signatures: dict[str, tuple[str | None, str | None]]
    ) -> list[Job]:
        """The job's runs, newest first: its current run (which the history may or may not list
        yet), then its history. The history is read only when the job changed since the last poll."""
        signature = (run_key(job), None if job.status is None else job.status.value)
        if signatures.get(job.id) == signature:
            return []
        runs = [job] if run_key(job) is not None else []
        page = await api.list_job_history(job.id, limit=self.history_limit)
        runs.extend(page.jobs)
        signatures[job.id] = signature
        return runs

    async def poll(
        self, api: AsyncLakeFormationClient, seen: dict[str, list[str]], *, baseline: bool
    ) -> list[dict[str, Any]]:
        """One poll: new finished runs (oldest first) become event payloads and are added to
        ``seen``. With ``baseline`` every finished run is recorded without an event. All or
        nothing: if a request fails, ``seen`` is left as it was (the next poll sees the same runs)."""
        payloads: list[dict[str, Any]] = []
        updated = {job_id: list(keys) for job_id, keys in seen.items()}
        signatures = dict(self._signatures)
        for job in await self._watched_jobs(api):
            known = updated.setdefault(job.id, [])
            for run in reversed(await self._runs(api, job, signatures)):
                key = run_key(run)
                if key is None or key in known or run.status is None or not run.status.is_terminal:
                    continue
                known.append(key)
                if not baseline and run.status.value in self.statuses:
                    payloads.append(self._payload(api, job, run))
            del known[: max(0, len(known) - 2 * self.history_limit)]  # the oldest first
        seen.clear()
        seen.update(updated)
        self._signatures = signatures
        return payloads

    def _payload(self, api: AsyncLakeFormationClient, job: Job, run: Job) -> dict[str, Any]:
        try:
            url: str | None = api.job_console_url(job.id)
        except Exception:
            url = None
        extra = (run.model_extra or {}) | run.model_dump(exclude_none=True, mode="json")
        payload = run_extra(job, console_url=url, run=extra)
        payload["watch"] = self.watch_key
        return payload

    # -------------------------------------------------------------------------------------- run

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll forever; yield one event per newly finished run. Nothing ends it but cancellation."""
        seen: dict[str, list[str]] | None = None
        loaded = baseline = dirty = False
        failures = 0
        async with self._hook().async_client() as api:
            while True:
                try:
                    if not loaded:
                        seen = await self._load_state()
                        loaded, baseline, seen = True, seen is None, seen or {}
                    assert seen is not None
                    payloads = await self.poll(api, seen, baseline=baseline)
                    dirty = dirty or baseline or bool(payloads)
                    for payload in payloads:
                        self._log_event(payload)
                        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]
                    if payloads and self.handoff_seconds:
                        await asyncio.sleep(self.handoff_seconds)  # let Airflow store the events first
                    if dirty:
                        await self._save_state(seen)
                        dirty = False
                        if baseline:
                            self._log_baseline(seen)
                    baseline = False
                    failures = 0
                except Exception as err:  # never end the watcher: log, back off, poll again
                    failures += 1
                    self.log.warning(
                        "LakeFormation watcher %s: poll failed (%d in a row), will retry: %s: %s",
                        self.watch_key,
                        failures,
                        type(err).__name__,
                        err,
                    )
                factor = min(2**failures, MAX_BACKOFF_FACTOR) if failures else 1
                await asyncio.sleep(self.poll_interval * factor * (0.9 + 0.2 * random.random()))

    def _log_event(self, payload: Mapping[str, Any]) -> None:
        self.log.info(
            "LakeFormation watcher %s: run of job %s finished %s (started %s)",
            self.watch_key,
            payload.get("job_id"),
            payload.get("job_status"),
            payload.get("start_time"),
        )

    def _log_baseline(self, seen: Mapping[str, list[str]]) -> None:
        self.log.info(
            "LakeFormation watcher %s: first deployment, %d finished run(s) of %d job(s) recorded as "
            "already reported (no events for them)",
            self.watch_key,
            sum(len(v) for v in seen.values()),
            len(seen),
        )
