"""Secrets that are not in a named secret field: the one rule for which keys hold a secret and for
credentials written inside a URL.

* :func:`is_secret_name`: whether a key (a JSON field, a query parameter) names a secret:
  ``password``, ``pwd``, ``secret_key``, ``access_key``, ``token``, ``signature``, ``credential``,
  ``api_key``, ``private_key``, ``sk``, ``ak``... in any case, with ``_`` or ``-`` or neither.
* :func:`url_credentials`: a URL (``jdbc:mysql://root:PW@db:3306/hive?password=PW``,
  ``obs://ak:SK@bucket/path``) without its userinfo and secret-named query / ``;`` parameters, and the
  secret values it took out (for Airflow's secrets masker).
* :func:`redact_urls_in`: the same for every URL inside free text (a job log's lines).
* :func:`mask_by_key`: a JSON-like value whose secret-named entries are :class:`~pydantic.SecretStr`
  and whose URLs lost their credentials: how a response model keeps a block it could not read strictly.

The lineage names (:mod:`~airflow_provider_lakeformation.lineage.naming`), the operators' rendered
``job`` field and the response models all go through these functions.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from pydantic import SecretStr

__all__ = ["is_secret_name", "mask_by_key", "redact_url", "redact_urls_in", "url_credentials"]

_SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|credential|signature|apikey|accesskey|privatekey|^(?:ak|sk|sig|auth)$"
)
#: ``scheme://`` (also ``jdbc:mysql://``) and the userinfo after it, up to the last ``@`` of the
#: authority (a password may hold an ``@``); without a scheme, a leading ``//`` or nothing.
_AUTHORITY = re.compile(r"^(?P<prefix>(?:[A-Za-z][A-Za-z0-9+.\-]*:)*//|//|)(?P<userinfo>[^/?#\s]*@)?")
#: ``?key=value``, ``&key=value`` or ``;key=value`` (JDBC URL properties).
_PARAM = re.compile(r"(?P<sep>[?&;])(?P<key>[^=?&;#]*)(?:=(?P<value>[^&;#]*))?")


def is_secret_name(name: str) -> bool:
    """Whether the key ``name`` names a secret (the rule for job specs, replies and URL parameters).

    :param name: a field or parameter name.
    :return: True for ``password``, ``secret_key``, ``X-Auth-Token``, ``AccessKeyId``, ``sk``...
    """
    return bool(_SECRET_NAME.search(re.sub(r"[\s_\-.]", "", name.lower())))


def url_credentials(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` without the credentials a URL may carry, and those credentials.

    The userinfo (``user:password@``) is dropped, and so is every query or ``;`` parameter whose
    name :func:`is_secret_name`; other text is returned unchanged.

    :param text: a URL, a JDBC URL or any other string.
    :return: ``(text without credentials, the secret values taken out)``: each value as written and,
        when it differs, percent-decoded; the whole userinfo and its password part.
    """
    found: list[str] = []
    head = _AUTHORITY.match(text)
    userinfo = (head.group("userinfo") or "")[:-1] if head is not None else ""
    if head is not None and userinfo and (head.group("prefix") or ":" in userinfo):
        found.append(userinfo)
        found.append(userinfo.partition(":")[2])
        text = head.group("prefix") + text[head.end() :]

    def _param(match: re.Match[str]) -> str:
        if not is_secret_name(unquote(match.group("key"))):
            return match.group(0)
        found.append(match.group("value") or "")
        return match.group("sep") if match.group("sep") == "?" else ""

    if any(sep in text for sep in "?;"):
        text = _PARAM.sub(_param, text).replace("?&", "?").rstrip("?")
    values = {v for raw in found for v in (raw, unquote(raw)) if v}
    return text, tuple(sorted(values, key=len, reverse=True))


def redact_url(text: str) -> str:
    """:func:`url_credentials` without the values: a URL fit for a name, a log or a page.

    :param text: a URL or any string.
    :return: ``text`` without userinfo and secret-named parameters.
    """
    return url_credentials(text)[0]


#: A URL inside free text (a log line): ``scheme://`` (also ``jdbc:mysql://``) up to a blank or quote.
_URL_IN_TEXT = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9+.\-]+:)*//[^\s\"'<>]+")


def redact_urls_in(text: str) -> str:
    """``text`` (a log line, a message) with every URL in it passed through :func:`redact_url`.

    :param text: free text from a server.
    :return: the text, no URL in it carrying credentials.
    """
    if "//" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def mask_by_key(value: Any) -> Any:
    """``value`` (parsed JSON) with every entry under a secret-named key wrapped in
    :class:`~pydantic.SecretStr` (``'**********'`` in reprs and dumps) and every string stripped of
    URL credentials (:func:`redact_url`).

    :param value: a dict, list or scalar.
    :return: the masked copy.
    """
    if isinstance(value, dict):
        return {
            key: _secret(item) if isinstance(key, str) and is_secret_name(key) else mask_by_key(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_by_key(item) for item in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def _secret(value: Any) -> Any:
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value if isinstance(value, str) else repr(value))
