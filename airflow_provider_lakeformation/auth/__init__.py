"""Request identity: AK/SK ``SDK-HMAC-SHA256`` signing and the IAM user token cache."""

from __future__ import annotations

from airflow_provider_lakeformation.auth.signer import (
    ALGORITHM,
    HEADER_AUTHORIZATION,
    HEADER_PROJECT_ID,
    HEADER_SDK_DATE,
    HEADER_SECURITY_TOKEN,
    SDK_DATE_FORMAT,
    UNSIGNED_PAYLOAD,
    canonical_query_string,
    canonical_request,
    parse_authorization,
    sign_request,
    signed_header_names,
    string_to_sign,
    verify_signature,
)
from airflow_provider_lakeformation.auth.token_cache import (
    DEFAULT_REFRESH_MARGIN,
    IamToken,
    TokenCache,
    build_password_auth_body,
    clear_shared_token_caches,
    parse_expires_at,
    shared_token_cache,
    token_cache_key,
    token_from_iam_response,
)

__all__ = [
    "ALGORITHM",
    "DEFAULT_REFRESH_MARGIN",
    "HEADER_AUTHORIZATION",
    "HEADER_PROJECT_ID",
    "HEADER_SDK_DATE",
    "HEADER_SECURITY_TOKEN",
    "SDK_DATE_FORMAT",
    "UNSIGNED_PAYLOAD",
    "IamToken",
    "TokenCache",
    "build_password_auth_body",
    "canonical_query_string",
    "canonical_request",
    "clear_shared_token_caches",
    "parse_authorization",
    "parse_expires_at",
    "shared_token_cache",
    "sign_request",
    "signed_header_names",
    "string_to_sign",
    "token_cache_key",
    "token_from_iam_response",
    "verify_signature",
]
