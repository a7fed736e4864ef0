"""The transport of the LakeFormation hook: everything between an endpoint method and the bytes on
the wire, for the sync hook (requests) and the async client (aiohttp) alike. It knows no endpoint
and no job model: an endpoint method hands it an :class:`~._wire.Endpoint` (or a built
:class:`~._wire.Call` and its reply parser).

* :class:`LakeFormationBaseHook` (sync: settings, ``requests.Session``, IAM token cache, retries)
  and :class:`LakeFormationBaseAsyncClient` (the ``aiohttp.ClientSession`` of its event loop and
  connection, shared through :mod:`._sessions`) send a call, re-send once with a fresh IAM token
  after a 401 and retry transient failures with the policy in :mod:`._retry`.
* Every attempt, sync or async, IAM token request included, ends within its bound (connect + read
  timeout, or the caller's :func:`call_deadline`), however slowly the server sends the status line,
  the headers or the body (:mod:`._requests_io`, aiohttp's ``total`` timeout).
* Requests and replies: :mod:`._wire` (calls, signing, scrubbing), :mod:`._io` (deadline, capped
  body), :mod:`._replies` (generic reply checks and error mapping).
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from airflow_provider_lakeformation._compat import AirflowNotFoundException, BaseHook, mask_secret
from airflow_provider_lakeformation.auth import IamToken, TokenCache, shared_token_cache, token_cache_key
from airflow_provider_lakeformation.exceptions import LakeFormationError, TransportError
from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.hooks._io import (
    ACCEPT_ENCODING,
    aread_capped,
    attempt_seconds_left,
    read_capped,
    short_error,
    tls_error,
    warn_insecure,
)
from airflow_provider_lakeformation.hooks._replies import parse_iam_token, parse_safely
from airflow_provider_lakeformation.hooks._requests_io import (
    KEEP_HEADERS,
    new_session,
    raw_chunks,
    read_deadline,
    requests_not_sent,
)
from airflow_provider_lakeformation.hooks._retry import (
    call_deadline,
    current_deadline,
    is_ambiguous,
    retry_async,
    retry_sync,
)
from airflow_provider_lakeformation.hooks._sessions import SessionLease
from airflow_provider_lakeformation.hooks._settings import AuthType, ConnectionSettings, RetrySettings
from airflow_provider_lakeformation.hooks._wire import (
    USER_AGENT,
    Call,
    Endpoint,
    Parser,
    QueryValue,
    RawResponse,
    auth_headers,
    iam_call,
    known_secrets,
    static_token,
)

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

__all__ = ["call_deadline", "current_deadline"]  # re-exported for the waiter

T = TypeVar("T")
H = TypeVar("H", bound="LakeFormationBaseHook")
A = TypeVar("A", bound="LakeFormationBaseAsyncClient")


def register_secrets(s: ConnectionSettings) -> None:
    """Register the connection's credential values with Airflow's secrets masker (second line of
    defence behind :func:`scrub`)."""
    for secret in s.secret_values():
        mask_secret(secret)


def refresh_after(resp: RawResponse, token: str | None, s: ConnectionSettings, what: str) -> bool:
    """Whether ``resp`` is a 401 for a cached IAM token (drop it, fetch a new one, re-send once)."""
    if resp.status == 401 and token is not None and s.auth_type is AuthType.IAM:
        log.info("LakeFormation %s: token rejected (401); fetching a new IAM token, re-sending once", what)
        return True
    return False


# ------------------------------------------------------------------------ sync transport


_SETTINGS: dict[ConnectionSettings, ConnectionSettings] = {}
#: Distinct settings kept for sharing; past this the cache starts over (connections that change often).
_SETTINGS_MAX = 256


def _interned(settings: ConnectionSettings) -> ConnectionSettings:
    """One shared object per distinct (frozen) settings: thousands of triggers on one connection
    hold one copy instead of one each."""
    shared = _SETTINGS.get(settings)
    if shared is None:
        if len(_SETTINGS) >= _SETTINGS_MAX:
            _SETTINGS.clear()
        shared = _SETTINGS[settings] = settings
    return shared


class LakeFormationBaseHook(BaseHook):
    """Connection settings, HTTP session, auth and retries of the LakeFormation hook. Its arguments
    are documented on ``hooks.lakeformation.LakeFormationHook``, the class users create."""

    conn_name_attr = "lakeformation_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "lakeformation"
    hook_name = "Huawei Cloud LakeFormation"

    def __init__(
        self,
        lakeformation_conn_id: str = default_conn_name,
        *,
        project_id: str | None = None,
        instance_id: str | None = None,
        region: str | None = None,
        retry: RetrySettings | Mapping[str, Any] | None = None,
        timeout: float | tuple[float, float] | None = None,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        self.lakeformation_conn_id = lakeformation_conn_id
        self.project_id = project_id
        self.instance_id = instance_id
        self.region = region
        self.retry = retry
        self.timeout = timeout
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._token_cache: TokenCache | None = None

    @classmethod
    def from_settings(cls: type[H], settings: ConnectionSettings) -> H:
        """A hook using ready ``settings`` (no Airflow connection lookup).

        :param settings: validated connection settings.
        :return: the hook.
        """
        hook = cls(settings.conn_id or cls.default_conn_name)
        hook._settings = settings
        register_secrets(settings)
        return hook

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lakeformation_conn_id={self.lakeformation_conn_id!r})"

    # ------------------------------------------------------------------ settings

    def _settings_from(self, conn: Any, extra: Mapping[str, Any]) -> ConnectionSettings:
        return _interned(self._build_settings(conn, extra))

    def _build_settings(self, conn: Any, extra: Mapping[str, Any]) -> ConnectionSettings:
        settings = ConnectionSettings.from_connection(
            conn,
            extra=extra,
            project_id=self.project_id,
            instance_id=self.instance_id,
            region=self.region,
            retry=self.retry,
            timeout=self.timeout,
        )
        register_secrets(settings)
        return settings

    @property
    def settings(self) -> ConnectionSettings:
        """Validated settings from the connection and the overrides (looked up once, then cached).

        :raises LakeFormationSpecError: a required setting is missing or invalid.
        """
        if self._settings is None:
            conn = self.get_connection(self.lakeformation_conn_id)
            self._settings = self._settings_from(conn, conn.extra_dejson)
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """:attr:`settings`, looking the connection up with ``aget_connection`` (never blocking
        the event loop; falls back to ``sync_to_async(get_connection)`` on older Airflow).

        :return: the validated settings.
        :raises LakeFormationSpecError: a required setting is missing or invalid.
        """
        if self._settings is None:
            from asgiref.sync import sync_to_async

            getter = getattr(type(self), "aget_connection", None)
            if getter is not None:
                try:
                    conn = await getter(self.lakeformation_conn_id)
                except AirflowNotFoundException:
                    # Airflow 3.3's in-process supervisor (``airflow dags test`` running a trigger
                    # inline) has no async channel, so aget_connection misses connections stored
                    # in the metadata DB; the sync lookup in a worker thread finds them.
                    conn = await sync_to_async(self.get_connection)(self.lakeformation_conn_id)
            else:  # pragma: no cover - Airflow < 3.1
                conn = await sync_to_async(self.get_connection)(self.lakeformation_conn_id)
            aextra = getattr(conn, "aextra_dejson", None)
            extra = await aextra() if aextra is not None else conn.extra_dejson
            if self._settings is None:
                self._settings = self._settings_from(conn, extra)
        return self._settings

    def iam_token_cache(self, s: ConnectionSettings) -> TokenCache:
        """The process-wide IAM token cache of these credentials (shared by the async client).

        :param s: the hook's settings (auth type ``iam``).
        :return: the cache.
        """
        if self._token_cache is None:
            assert s.iam_endpoint
            assert s.domain_name
            assert s.user_name
            assert s.password
            key = token_cache_key(
                s.iam_endpoint, s.domain_name, s.user_name, s.project_id, s.password.get_secret_value()
            )
            self._token_cache = shared_token_cache(key)
        return self._token_cache

    # ------------------------------------------------------------------ session

    def get_conn(self) -> requests.Session:
        """The hook's ``requests.Session`` (created on first use, kept alive).

        :return: the session.
        """
        if self._session is None:
            self._session = new_session()
        return self._session

    def close(self) -> None:
        """Close the HTTP session (a new one is created if the hook is used again)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self: H) -> H:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ one call

    def _token(self, s: ConnectionSettings) -> str | None:
        if s.auth_type is AuthType.IAM:
            return self.iam_token_cache(s).get(self._fetch_iam_token)
        return static_token(s)

    def _fetch_iam_token(self) -> IamToken:
        s = self.settings
        call = iam_call(s)
        log.info("Fetching an IAM token from %s for LakeFormation", s.iam_endpoint)

        def attempt() -> IamToken:
            return parse_iam_token(call, self._send(call, auth_headers(s, call, None), s))

        return retry_sync(attempt, policy=s.retry, what=call.what, logger=log)

    def _send(
        self, call: Call, headers: dict[str, str], s: ConnectionSettings, token: str | None = None
    ) -> RawResponse:
        warn_insecure(s, "sync")
        started = time.monotonic()
        left = attempt_seconds_left(s, started)
        try:
            with read_deadline(started + left):
                return self._exchange(call, headers, s, started, left, token)
        except requests.exceptions.SSLError as exc:
            raise tls_error(s, exc) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError(f"connect timeout after {s.connect_timeout:g} s", sent=False) from exc
        except requests.exceptions.Timeout as exc:
            attempt_seconds_left(s, started)  # the deadline, when that is what ran out
            raise TransportError(f"no response within the read timeout of {s.read_timeout:g} s") from exc
        except requests.exceptions.ConnectionError as exc:
            if requests_not_sent(exc):
                raise TransportError(f"could not connect: {short_error(exc, s)}", sent=False) from exc
            raise TransportError(f"connection lost: {short_error(exc, s)}") from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError(short_error(exc, s)) from exc

    def _exchange(
        self,
        call: Call,
        headers: dict[str, str],
        s: ConnectionSettings,
        started: float,
        left: float,
        token: str | None,
    ) -> RawResponse:
        """Send ``call`` and read the whole reply (requests' errors pass through to :meth:`_send`)."""
        resp = self.get_conn().request(
            call.method,
            call.url,
            data=call.body,
            headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=(min(s.connect_timeout, left), min(s.read_timeout, left)),
            verify=s.requests_verify,
            allow_redirects=False,
            auth=KEEP_HEADERS,
            stream=True,
        )
        with resp:
            chunks = raw_chunks(resp, s, started)
            body = read_capped(call, resp.status_code, resp.headers, chunks, s.max_response_bytes)
        secrets = known_secrets(s, token, resp.headers.get("X-Subject-Token"))
        return RawResponse(resp.status_code, resp.reason or "", resp.headers, body, secrets)

    def _transmit(self, call: Call) -> RawResponse:
        """One attempt; with IAM auth a 401 drops the cached token and re-sends once."""
        s = self.settings
        token = self._token(s) if call.auth else None
        resp = self._send(call, auth_headers(s, call, token), s, token)
        if refresh_after(resp, token, s, call.what):
            assert token is not None
            self.iam_token_cache(s).invalidate(token)
            token = self._token(s)
            resp = self._send(call, auth_headers(s, call, token), s, token)
        return resp

    def send(
        self,
        endpoint: Endpoint[T],
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: Any = None,
        reconcile: Callable[[], T | None] | None = None,
        retry: RetrySettings | None = None,
        **ids: str,
    ) -> T:
        """Call ``endpoint`` with retries and read the reply with its parser.

        :param endpoint: the declared operation (method, path, reply parser).
        :param query: query parameters (``None`` values dropped).
        :param body: a JSON-able request body.
        :param reconcile: "did it take effect?" check of a non-idempotent call (see :meth:`execute`).
        :param retry: a policy other than the connection's.
        :param ids: the path's ``{name}`` values (``job_id``; ``instance_id`` defaults to the connection's).
        :return: what the endpoint's parser returns.
        :raises LakeFormationError: the mapped error once retries are spent.
        """
        call = endpoint.call(self.settings, query=query, body=body, **ids)
        return self.execute(call, endpoint.parse, reconcile=reconcile, retry=retry)

    def attempt(self, call: Call, parse: Parser[T]) -> T:
        """Send ``call`` once (no retries) and ``parse`` the reply.

        :param call: the request.
        :param parse: checks the reply and reads its body (an endpoint's parser).
        :return: what ``parse`` returns.
        :raises LakeFormationError: the mapped transport or API error.
        """
        return parse_safely(call, self._transmit(call), parse)

    def execute(
        self,
        call: Call,
        parse: Parser[T],
        *,
        reconcile: Callable[[], T | None] | None = None,
        retry: RetrySettings | None = None,
    ) -> T:
        """Send ``call`` with retries and ``parse`` the reply.

        With ``reconcile`` (non-idempotent calls), an ambiguous failure is followed by
        ``reconcile()`` before anything is re-sent: a non-None result means the call took effect
        and is returned as is. If the call finally fails after any ambiguous failure (retries
        spent, or e.g. a 400 "already running" for a re-sent start whose first copy was processed
        late), ``reconcile()`` gets one last say.

        :param call: the request.
        :param parse: checks the reply and reads its body.
        :param reconcile: "did it take effect?" check of a non-idempotent call.
        :param retry: a policy other than the connection's.
        :return: what ``parse`` (or ``reconcile``) returns.
        :raises LakeFormationError: the mapped error once retries are spent.
        """
        pending = False  # the last attempt failed ambiguously: check before re-sending
        ambiguous_seen = False

        def attempt() -> T:
            nonlocal pending, ambiguous_seen
            if pending and reconcile is not None:
                done = reconcile()
                if done is not None:
                    return done
                pending = False
            try:
                return self.attempt(call, parse)
            except Exception as exc:
                pending = reconcile is not None and is_ambiguous(exc)
                ambiguous_seen = ambiguous_seen or pending
                raise

        try:
            return retry_sync(attempt, policy=retry or self.settings.retry, what=call.what, logger=log)
        except LakeFormationError:
            done = _last_say(reconcile) if ambiguous_seen else None
            if done is not None:
                return done
            raise


def _last_say(reconcile: Callable[[], T | None] | None) -> T | None:
    """``reconcile()`` after the call finally failed; its own error is swallowed (the original
    error is the one worth reporting)."""
    if reconcile is None:
        return None
    try:
        return reconcile()
    except Exception:
        return None


# ----------------------------------------------------------------------- async transport


@lru_cache(maxsize=16)
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)


def _aiohttp_ssl(s: ConnectionSettings) -> ssl.SSLContext | bool:
    if not s.verify:
        return False
    if s.ca_bundle:
        return _ssl_context(s.ca_bundle)
    return True


def _new_session(s: ConnectionSettings) -> aiohttp.ClientSession:
    """The session shared by the async clients of one loop and transport settings
    (:mod:`~airflow_provider_lakeformation.hooks._sessions`): no pool limit, so one slow request
    never queues the others; no cookie jar, so nothing a reply sets reaches another client."""
    import aiohttp

    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout),
        connector=aiohttp.TCPConnector(ssl=_aiohttp_ssl(s), limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
    )


async def _request(
    session: aiohttp.ClientSession,
    call: Call,
    headers: dict[str, str],
    s: ConnectionSettings,
    proxy: str | None,
    token: str | None = None,
) -> RawResponse:
    """Send ``call`` once over ``session`` within the attempt's deadline, the body read capped;
    transport failures become :class:`TransportError`."""
    import asyncio

    import aiohttp
    from yarl import URL

    started = time.monotonic()
    left = attempt_seconds_left(s, started)
    try:
        async with session.request(
            call.method,
            URL(call.url, encoded=True),
            data=call.body,
            headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
            allow_redirects=False,
            proxy=proxy,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=left, sock_connect=s.connect_timeout, sock_read=s.read_timeout
            ),
        ) as resp:
            body = await aread_capped(call, resp, s.max_response_bytes)
            secrets = known_secrets(s, token, resp.headers.get("X-Subject-Token"))
            return RawResponse(resp.status, resp.reason or "", resp.headers, body, secrets)
    except aiohttp.ClientSSLError as exc:
        raise tls_error(s, exc) from exc
    except aiohttp.ClientConnectorError as exc:
        raise TransportError(f"could not connect: {short_error(exc, s)}", sent=False) from exc
    except aiohttp.ConnectionTimeoutError as exc:
        raise TransportError(f"connect timeout after {s.connect_timeout:g} s", sent=False) from exc
    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
        attempt_seconds_left(s, started)  # the deadline, when that is what ran out
        raise TransportError(f"no response within the read timeout of {s.read_timeout:g} s") from exc
    except aiohttp.ClientError as exc:
        raise TransportError(f"connection lost: {short_error(exc, s)}") from exc


class LakeFormationBaseAsyncClient:
    """Async transport: inside ``async with``, a share of the ``aiohttp.ClientSession`` of the running
    loop and connection (:mod:`._sessions`: one session and connection pool for thousands of
    triggers, closed by its last user); same auth,
    retries, error mapping and parsing as :class:`LakeFormationBaseHook`. The connection is looked
    up with ``aget_connection`` and the IAM token fetched with aiohttp (and kept in the hook's
    shared token cache), so the event loop is never blocked.

    :param hook: the hook whose connection, overrides and IAM token cache are used.
    """

    def __init__(self, hook: LakeFormationBaseHook) -> None:
        self._hook = hook
        self._lease: SessionLease | None = None
        self._settings: ConnectionSettings | None = None

    @property
    def settings(self) -> ConnectionSettings:
        """The hook's settings (read on ``async with``).

        :raises RuntimeError: used outside ``async with``.
        """
        if self._settings is None:
            raise RuntimeError("use the client inside `async with hook.async_client() as api:`")
        return self._settings

    async def __aenter__(self: A) -> A:
        return self.opened(await self._hook.aget_settings())

    def opened(self: A, s: ConnectionSettings) -> A:
        """Open the client with settings already read (``async with`` reads them itself): take a
        share of the running loop's session for them. Close it with :meth:`aclose`.

        :param s: the hook's settings (``await hook.aget_settings()``).
        :return: the client.
        """
        self._settings = s
        key = (s.conn_id, s.verify, s.ca_bundle, s.connect_timeout, s.read_timeout)
        self._lease = SessionLease(key, functools.partial(_new_session, s))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Give the shared session back (also done by ``async with``); its last user closes it."""
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()

    async def _token(self, s: ConnectionSettings) -> str | None:
        if s.auth_type is AuthType.IAM:
            return await self._hook.iam_token_cache(s).aget(self._fetch_iam_token)
        return static_token(s)

    async def _fetch_iam_token(self) -> IamToken:
        s = self.settings
        call = iam_call(s)
        log.info("Fetching an IAM token from %s for LakeFormation", s.iam_endpoint)

        async def attempt() -> IamToken:
            return parse_iam_token(call, await self._send(call, auth_headers(s, call, None)))

        return await retry_async(attempt, policy=s.retry, what=call.what, logger=log)

    async def _send(self, call: Call, headers: dict[str, str], token: str | None = None) -> RawResponse:
        lease = self._lease
        if lease is None:
            raise RuntimeError("use the client inside `async with hook.async_client() as api:`")
        s = self.settings
        warn_insecure(s, "async")
        session, proxy = lease.session(), lease.proxy(call.url)
        try:
            return await _request(session, call, headers, s, proxy, token)
        except TransportError:
            if not session.closed or self._lease is None:
                raise
        # The shared session was closed under this request (not the server's doing): once more on a
        # new one, as if the request had been made a moment later.
        return await _request(lease.session(), call, headers, s, proxy, token)

    async def _transmit(self, call: Call) -> RawResponse:
        s = self.settings
        token = await self._token(s) if call.auth else None
        resp = await self._send(call, auth_headers(s, call, token), token)
        if refresh_after(resp, token, s, call.what):
            assert token is not None
            self._hook.iam_token_cache(s).invalidate(token)
            token = await self._token(s)
            resp = await self._send(call, auth_headers(s, call, token), token)
        return resp

    async def send(
        self,
        endpoint: Endpoint[T],
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: Any = None,
        **ids: str,
    ) -> T:
        """Call ``endpoint`` with retries and read the reply with its parser (see
        :meth:`LakeFormationBaseHook.send`).

        :param endpoint: the declared operation (method, path, reply parser).
        :param query: query parameters (``None`` values dropped).
        :param body: a JSON-able request body.
        :param ids: the path's ``{name}`` values.
        :return: what the endpoint's parser returns.
        """
        return await self.execute(endpoint.call(self.settings, query=query, body=body, **ids), endpoint.parse)

    async def execute(self, call: Call, parse: Parser[T]) -> T:
        """Send ``call`` with retries and ``parse`` the reply.

        :param call: the request.
        :param parse: checks the reply and reads its body.
        :return: what ``parse`` returns.
        :raises LakeFormationError: the mapped error once retries are spent.
        """

        async def attempt() -> T:
            return parse_safely(call, await self._transmit(call), parse)

        return await retry_async(attempt, policy=self.settings.retry, what=call.what, logger=log)
