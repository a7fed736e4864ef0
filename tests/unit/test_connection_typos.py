"""Connection typos fail fast (issue #26 item 6): the host's form is checked when the connection is
read, a host name that does not exist is not retried and is named, ``verify`` names itself."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeformation.exceptions import (
    LakeFormationConnectionError,
    LakeFormationSpecError,
    TransportError,
)
from airflow_provider_lakeformation.hooks._retry import is_retryable, unresolved_host
from airflow_provider_lakeformation.hooks.lakeformation import ConnectionSettings, LakeFormationHook

IDS = {"project_id": "p", "instance_id": "i"}


def _settings(host: str | None = None, port: int | None = None, **extra: Any) -> ConnectionSettings:
    return ConnectionSettings.from_fields(
        host=host, port=port, login="ak", password="sk", extra={**IDS, **extra}
    )


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        (
            "htp:/127.0.0.1 18080",
            None,
            "host: must not contain spaces or control characters: 'https://htp:/127.0.0.1 18080'",
        ),
        ("http://127.0.0.1 :18080", None, "must not contain spaces"),
        ("http://emulator:", None, "host: the port after ':' is empty in 'http://emulator:'"),
        ("htp:/127.0.0.1", None, "the port after ':' is empty"),
        ("http://lake..formation", None, "host: 'lake..formation' is not a host name or IP address"),
        ("http://-lake", None, "'-lake' is not a host name"),
        ("http://lake\tformation", None, "control characters"),
    ],
)
def test_malformed_host_fails_when_the_connection_is_read(host: str, port: int | None, message: str) -> None:
    with pytest.raises(LakeFormationSpecError) as info:
        _settings(host, port)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("host", "port", "endpoint"),
    [
        ("127.0.0.1", 18080, "https://127.0.0.1:18080"),
        ("http://[::1]:8080", None, "http://[::1]:8080"),
        ("http://lf_emulator:8080/", None, "http://lf_emulator:8080"),
        (
            "https://lakeformation.cn-north-4.myhuaweicloud.com",
            None,
            "https://lakeformation.cn-north-4.myhuaweicloud.com",
        ),
        ("http://gateway.example.com/lakeformation", None, "http://gateway.example.com/lakeformation"),
    ],
)
def test_well_formed_hosts_still_pass(host: str, port: int | None, endpoint: str) -> None:
    assert _settings(host, port).endpoint == endpoint


def test_verify_that_is_no_word_and_no_file_names_verify(tmp_path: Path) -> None:
    with pytest.raises(LakeFormationSpecError) as info:
        _settings("http://127.0.0.1:1", verify="yes please")
    assert "verify: must be true or false (or the path of a CA bundle file); got 'yes please'" in str(
        info.value
    )
    assert "ca_bundle" not in str(info.value)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert _settings("http://127.0.0.1:1", verify=str(bundle)).ca_bundle == str(bundle)  # as before


def _dns_failure(errno: int) -> TransportError:
    err = TransportError("could not connect", sent=False)
    err.__cause__ = socket.gaierror(errno, "resolver says no")
    return err


def test_only_a_name_that_does_not_exist_is_permanent() -> None:
    assert not is_retryable(_dns_failure(socket.EAI_NONAME))
    assert unresolved_host(_dns_failure(socket.EAI_NONAME)) == ""
    assert is_retryable(_dns_failure(socket.EAI_AGAIN))  # "try again": a resolver blip, retried
    assert unresolved_host(_dns_failure(socket.EAI_AGAIN)) is None
    assert is_retryable(TransportError("connection refused", sent=False))


NO_SUCH_HOST = "no-such-host.invalid"  # RFC 6761: never resolves


@pytest.fixture
def resolver_says_no_such_name() -> None:
    try:
        socket.getaddrinfo(NO_SUCH_HOST, 80)
    except socket.gaierror as err:
        if err.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
            return
    pytest.skip("this machine's resolver does not answer 'no such name' for .invalid")


@pytest.mark.usefixtures("resolver_says_no_such_name")
def test_unknown_host_is_named_and_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(f"http://{NO_SUCH_HOST}:18080", max_retries=5, retry_min_wait=1)
    hook = LakeFormationHook.from_settings(settings)
    caplog.set_level(logging.WARNING)
    with pytest.raises(LakeFormationConnectionError) as info:
        hook.get_job("j-1")
    assert f"the host name '{NO_SUCH_HOST}' does not exist in DNS" in str(info.value)
    assert "retrying" not in caplog.text  # one attempt, not six

    async def via_async_client() -> None:
        async with hook.async_client() as api:
            await api.get_job("j-1")

    with pytest.raises(LakeFormationConnectionError, match=f"host name '{NO_SUCH_HOST}' does not exist"):
        asyncio.run(via_async_client())
    assert "retrying" not in caplog.text
