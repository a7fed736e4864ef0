"""Settings of the emulator: credentials, identifiers, timings and behaviour switches."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from .status import OUTCOMES, Status

#: Environment variable that carries a JSON config to uvicorn worker processes.
CONFIG_ENV = "LF_EMULATOR_CONFIG_JSON"

#: Largest value of each duration setting, in seconds (a day; a year for token lifetimes).
MAX_SECONDS: dict[str, float] = {
    "submit_seconds": 86400.0,
    "run_seconds": 86400.0,
    "stop_seconds": 86400.0,
    "clock_skew": 86400.0,
    "token_ttl": 366 * 86400.0,
}
STATUS_SHAPES: frozenset[str] = frozenset({"string", "object"})

#: Fields that may be changed at run time with ``PATCH /_emulator/config``.
RUNTIME_FIELDS: frozenset[str] = frozenset(
    {
        "submit_seconds",
        "run_seconds",
        "stop_seconds",
        "default_outcome",
        "status_shape",
        "token_ttl",
        "clock_skew",
        "allow_modify_running",
    }
)

#: ``field name -> environment variable`` for the identifiers and credentials.
ENV_OVERRIDES: dict[str, str] = {
    "project_id": "LF_EMULATOR_PROJECT_ID",
    "instance_id": "LF_EMULATOR_INSTANCE_ID",
    "region": "LF_EMULATOR_REGION",
    "ak": "LF_EMULATOR_AK",
    "sk": "LF_EMULATOR_SK",
    "token": "LF_EMULATOR_TOKEN",
    "iam_user": "LF_EMULATOR_IAM_USER",
    "iam_password": "LF_EMULATOR_IAM_PASSWORD",
    "domain_name": "LF_EMULATOR_DOMAIN_NAME",
    "temp_ak": "LF_EMULATOR_TEMP_AK",
    "temp_sk": "LF_EMULATOR_TEMP_SK",
    "security_token": "LF_EMULATOR_SECURITY_TOKEN",
}


@dataclass
class EmulatorConfig:
    """Everything the emulator can be told; the defaults are the documented emulator credentials."""

    project_id: str = "0123456789abcdef0123456789abcdef"
    instance_id: str = "lf-emulator-instance"
    instance_name: str = "lf-emulator"
    region: str = "cn-north-4"
    ak: str = "EMULATORAK"
    sk: str = "emulator-secret-key"
    token: str = "emulator-token"
    iam_user: str = "emulator_user"
    iam_password: str = "emulator-password"
    domain_name: str = "emulator_domain"
    #: Temporary AK/SK: requests signed with them must carry this X-Security-Token (signed).
    temp_ak: str = "EMULATORTEMPAK"
    temp_sk: str = "emulator-temp-secret-key"
    security_token: str = "emulator-security-token"
    #: SQLite file; None keeps the state in memory (lost on exit).
    state_path: str | None = None
    #: Seconds a started job stays SUBMITTED, then RUNNING (description markers override per job).
    submit_seconds: float = 0.5
    run_seconds: float = 2.0
    #: Seconds between a stop call (202) and the job showing STOPPED.
    stop_seconds: float = 0.0
    default_outcome: str = Status.SUCCESS.value
    #: "string" -> "status": "RUNNING"; "object" -> "status": {"status": "RUNNING"}.
    status_shape: str = "string"
    #: Lifetime in seconds of IAM tokens issued by POST /v3/auth/tokens.
    token_ttl: float = 86400.0
    #: Largest accepted difference between X-Sdk-Date and the emulator clock, in seconds.
    clock_skew: float = 900.0
    #: Whether PUT on a SUBMITTED/RUNNING job is accepted (the default answers 400).
    allow_modify_running: bool = False
    #: True when several uvicorn worker processes share the SQLite state.
    shared: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` for a setting out of range."""
        for name, high in MAX_SECONDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number of seconds")
            if not 0 <= value <= high:
                raise ValueError(f"{name} must be between 0 and {high:.0f} seconds")
        if self.token_ttl <= 0:
            raise ValueError("token_ttl must be positive")
        if not isinstance(self.allow_modify_running, bool):
            raise ValueError("allow_modify_running must be true or false")
        self.default_outcome = str(self.default_outcome).upper()
        if self.default_outcome not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {sorted(OUTCOMES)}")
        if self.status_shape not in STATUS_SHAPES:
            raise ValueError(f"status_shape must be one of {sorted(STATUS_SHAPES)}")
        for name in ("project_id", "instance_id", "ak", "sk", "token", "iam_user", "iam_password"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EmulatorConfig:
        return cls(**json.loads(text))

    @classmethod
    def from_env(cls, **overrides: Any) -> EmulatorConfig:
        """Defaults, then ``LF_EMULATOR_*`` environment variables, then ``overrides`` (None = unset)."""
        values: dict[str, Any] = {}
        for name, var in ENV_OVERRIDES.items():
            if os.environ.get(var):
                values[name] = os.environ[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def api_prefix(self) -> str:
        """Path prefix of the job API."""
        return f"/v1/{self.project_id}/instances/{self.instance_id}"
