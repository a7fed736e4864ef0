"""Async LakeFormation client for triggers (aiohttp), sharing everything but the transport with
the sync hook."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from airflow_provider_lakeformation.auth import IamToken
from airflow_provider_lakeformation.exceptions import LakeFormationBadRequestError, LakeFormationError
from airflow_provider_lakeformation.hooks._calls import (
    console_url,
    iam_call,
    job_call,
    job_id_arg,
    parse_job,
    short_error,
    tls_error,
)
from airflow_provider_lakeformation.hooks._retry import retry_async
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings
from airflow_provider_lakeformation.hooks._wire import (
    USER_AGENT,
    Call,
    RawResponse,
    TransportError,
    auth_headers,
    parse_iam_token,
    parse_job_status,
    parse_model,
    parse_nothing,
)
from airflow_provider_lakeformation.models.jobs import Job, JobLog
from airflow_provider_lakeformation.models.status import IN_PROGRESS_STATUSES, JobStatus

if TYPE_CHECKING:
    import aiohttp

    from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

__all__ = ["AsyncLakeFormationClient"]

log = logging.getLogger("airflow_provider_lakeformation.hooks.lakeformation")

T = TypeVar("T")


@lru_cache(maxsize=16)
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)


def _aiohttp_ssl(s: ConnectionSettings) -> ssl.SSLContext | bool:
    if not s.verify:
        return False
    if s.ca_bundle:
        return _ssl_context(s.ca_bundle)
    return True


class AsyncLakeFormationClient:
    """Async LakeFormation client for triggers: ``async with hook.async_client() as api``.

    Holds one ``aiohttp.ClientSession`` for its lifetime; same auth, retries, error mapping and
    parsing as the hook. The connection is looked up with ``aget_connection`` and the IAM token
    fetched with aiohttp, so the event loop is never blocked.
    """

    def __init__(self, hook: LakeFormationHook) -> None:
        self._hook = hook
        self._session: aiohttp.ClientSession | None = None
        self._settings: ConnectionSettings | None = None
        self._proxies: dict[str, str | None] = {}

    @property
    def settings(self) -> ConnectionSettings:
        if self._settings is None:
            raise RuntimeError("use the client inside `async with hook.async_client() as api:`")
        return self._settings

    async def __aenter__(self) -> AsyncLakeFormationClient:
        import aiohttp

        s = await self._hook.aget_settings()
        self._settings = s
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
            ),
            connector=aiohttp.TCPConnector(ssl=_aiohttp_ssl(s)),
            headers={"User-Agent": USER_AGENT},
        )
        self._proxies = {}
        return self

    def _proxy(self, url: str) -> str | None:
        """The proxy for ``url`` from HTTP(S)_PROXY / NO_PROXY, looked up once per host (like
        requests; aiohttp's own ``trust_env`` would also read ~/.netrc on every request)."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._proxies:
            proxy = getproxies().get(parts.scheme)
            if proxy and proxy_bypass(parts.hostname or ""):
                proxy = None
            self._proxies[key] = proxy
        return self._proxies[key]

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session (also done by ``async with``)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # ------------------------------------------------------------------ transport

    async def _token(self, s: ConnectionSettings) -> str | None:
        if s.auth_type is AuthType.TOKEN:
            assert s.token is not None
            return s.token.get_secret_value()
        if s.auth_type is AuthType.IAM:
            return await self._hook._iam_cache(s).aget(self._fetch_iam_token)
        return None

    async def _fetch_iam_token(self) -> IamToken:
        s = self.settings
        call = iam_call(s)
        log.info("Fetching an IAM token from %s for LakeFormation", s.iam_endpoint)

        async def attempt() -> IamToken:
            return parse_iam_token(call, await self._send(call, auth_headers(s, call, None)))

        return await retry_async(attempt, policy=s.retry, what=call.what, logger=log)

    async def _send(self, call: Call, headers: dict[str, str]) -> RawResponse:
        import asyncio

        import aiohttp
        from yarl import URL

        session = self._session
        if session is None:
            raise RuntimeError("use the client inside `async with hook.async_client() as api:`")
        s = self.settings
        try:
            async with session.request(
                call.method,
                URL(call.url, encoded=True),
                data=call.body,
                headers=headers,
                allow_redirects=False,
                proxy=self._proxy(call.url),
            ) as resp:
                body = await resp.read()
                return RawResponse(resp.status, resp.reason or "", resp.headers, body)
        except aiohttp.ClientSSLError as exc:
            raise tls_error(s, exc) from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(f"could not connect: {short_error(exc)}", sent=False) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise TransportError(f"connect timeout after {s.connect_timeout:g} s", sent=False) from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
            raise TransportError(f"no response within the read timeout of {s.read_timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"connection lost: {short_error(exc)}") from exc

    async def _transmit(self, call: Call) -> RawResponse:
        s = self.settings
        token = await self._token(s) if call.auth else None
        resp = await self._send(call, auth_headers(s, call, token))
        if resp.status == 401 and token is not None and s.auth_type is AuthType.IAM:
            log.info(
                "LakeFormation %s: token rejected (401); fetching a new IAM token, re-sending once", call.what
            )
            self._hook._iam_cache(s).invalidate(token)
            token = await self._token(s)
            resp = await self._send(call, auth_headers(s, call, token))
        return resp

    async def _execute(self, call: Call, parse: Callable[[Call, RawResponse], T]) -> T:
        async def attempt() -> T:
            return parse(call, await self._transmit(call))

        return await retry_async(attempt, policy=self.settings.retry, what=call.what, logger=log)

    # ------------------------------------------------------------------ API

    async def get_job(self, job_id: str) -> Job:
        """``GET /lf-jobs/{job_id}``."""
        return await self._execute(job_call(self.settings, "GET", job_id_arg(job_id)), parse_job)

    async def get_job_status(self, job_id: str) -> JobStatus:
        """The job's status (reads only ``status`` from the body: cheap enough to poll often)."""
        return await self._execute(job_call(self.settings, "GET", job_id_arg(job_id)), parse_job_status)

    async def get_job_log(self, job_id: str) -> JobLog:
        """``GET /lf-jobs/{job_id}/log``."""
        call = job_call(self.settings, "GET", job_id_arg(job_id), "log")
        return await self._execute(call, lambda c, r: parse_model(c, r, JobLog))

    async def stop_job(self, job_id: str) -> None:
        """``POST /lf-jobs/{job_id}/stop``; a 400 for a job that is not running counts as done."""
        job_id = job_id_arg(job_id)
        try:
            await self._execute(job_call(self.settings, "POST", job_id, "stop"), parse_nothing)
        except LakeFormationBadRequestError as exc:
            try:
                status = await self.get_job_status(job_id)
            except LakeFormationError:
                raise exc from None
            if status in IN_PROGRESS_STATUSES:
                raise
            log.info(
                "LakeFormation job %s is %s, not running: nothing to stop (%s)", job_id, status, exc.error_msg
            )

    def job_console_url(self, job_id: str) -> str:
        """See :meth:`LakeFormationHook.job_console_url`."""
        return console_url(self.settings, job_id_arg(job_id))
