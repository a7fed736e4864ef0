"""Error bodies of the LakeFormation API (and of the API gateway in front of it)."""

from __future__ import annotations

from airflow_provider_lakeformation.models.jobs import ResponseModel


class NestedError(ResponseModel):
    """The ``{"error": {...}}`` object some 403 answers carry."""

    code: str | int | None = None
    message: str | None = None
    error_code: str | int | None = None
    error_msg: str | None = None
    title: str | None = None


class ErrorBody(ResponseModel):
    """``{"error_code", "error_msg", "common_error_code", "solution_msg"}``, optionally nesting ``error``."""

    error_code: str | int | None = None
    error_msg: str | None = None
    common_error_code: str | int | None = None
    solution_msg: str | None = None
    error: NestedError | None = None

    @property
    def code(self) -> str | None:
        """The most specific error code present."""
        for value in (self.error_code, self.error.code if self.error else None, self.common_error_code):
            if value not in (None, ""):
                return str(value)
        return None

    @property
    def common_code(self) -> str | None:
        """``common_error_code`` as text (``None`` when absent or empty)."""
        value = self.common_error_code
        return None if value in (None, "") else str(value)

    @property
    def message(self) -> str | None:
        """The most specific error message present."""
        for value in (self.error_msg, self.error.message if self.error else None):
            if value:
                return value
        return None
