"""The one rule for secrets outside the named fields: secret key names and credentials in URLs."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from airflow_provider_lakeformation.models import SECRET_FIELDS
from airflow_provider_lakeformation.models.redaction import (
    is_secret_name,
    mask_by_key,
    redact_url,
    redact_urls_in,
    url_credentials,
)

CASES = [
    ("jdbc:mysql://root:PW1x@db:3306/hive", "jdbc:mysql://db:3306/hive", {"root:PW1x", "PW1x"}),
    ("jdbc:mysql://root:p@ss@db:3306/hive", "jdbc:mysql://db:3306/hive", {"root:p@ss", "p@ss"}),
    ("jdbc:mysql://db/hive?useSSL=true&password=PW2x", "jdbc:mysql://db/hive?useSSL=true", {"PW2x"}),
    ("jdbc:postgresql://db/h?password=PW3x&ssl=1", "jdbc:postgresql://db/h?ssl=1", {"PW3x"}),
    ("jdbc:sqlserver://db:1433;user=sa;password=PW4x", "jdbc:sqlserver://db:1433;user=sa", {"PW4x"}),
    ("obs://AKx:SK%2Fx@bucket/a/", "obs://bucket/a/", {"AKx:SK%2Fx", "AKx:SK/x", "SK%2Fx", "SK/x"}),
    ("https://b.obs/x?AccessKeyId=AK9&Signature=S1g", "https://b.obs/x", {"AK9", "S1g"}),
    ("user:pw12@dlf.example.com", "dlf.example.com", {"user:pw12", "pw12"}),
    ("obs://bucket/path/", "obs://bucket/path/", set()),
    ("jdbc:mysql://10.0.0.1:3306/hive", "jdbc:mysql://10.0.0.1:3306/hive", set()),
    ("not a url: x@y", "not a url: x@y", set()),
]


@pytest.mark.parametrize(("url", "clean", "secrets"), CASES, ids=[c[0] for c in CASES])
def test_url_credentials(url: str, clean: str, secrets: set[str]) -> None:
    text, found = url_credentials(url)
    assert (text, set(found)) == (clean, secrets)
    assert redact_url(url) == clean
    assert redact_url(clean) == clean  # idempotent


@pytest.mark.parametrize(
    "name", [*sorted(SECRET_FIELDS), "X-Auth-Token", "security_token", "AccessKeyId", "pwd", "sk", "apiKey"]
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["username", "jdbc_url", "endpoint", "status", "id", "task", "skip"])
def test_other_names(name: str) -> None:
    assert not is_secret_name(name)


def test_mask_by_key() -> None:
    masked = mask_by_key({"a": [{"password": "PWx1"}], "url": "obs://k:SKx1@b/", "token": 5, "n": 1})
    assert isinstance(masked["a"][0]["password"], SecretStr)
    assert masked["url"] == "obs://b/"
    assert masked["n"] == 1
    assert "5" not in repr(masked["token"])
    assert "PWx1" not in repr(masked)


def test_redact_urls_in_text() -> None:
    line = "INFO under obs://ak:SKx9@b/data/ (log obs://b/logs/) jdbc:mysql://r:PWx9@db/h?password=Qx9&a=1"
    assert redact_urls_in(line) == "INFO under obs://b/data/ (log obs://b/logs/) jdbc:mysql://db/h?a=1"
    assert redact_urls_in("at 12:30 the job failed") == "at 12:30 the job failed"
