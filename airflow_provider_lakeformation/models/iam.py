"""IAM token API (``POST /v3/auth/tokens``) response body."""

from __future__ import annotations

from airflow_provider_lakeformation.models.jobs import ResponseModel


class IamTokenInfo(ResponseModel):
    expires_at: str
    issued_at: str | None = None


class IamTokenBody(ResponseModel):
    """Body of the IAM token answer; the token itself comes in the ``X-Subject-Token`` header."""

    token: IamTokenInfo
