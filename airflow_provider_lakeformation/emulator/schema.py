"""The emulator's own reading of the request bodies on the vendor pages (create job, modify job).

Written from the pages' tables, field by field, and deliberately separate from the provider's
``models/``: the emulator checks the client instead of mirroring it. Where the pages are silent or
contradict themselves the choice made here is listed in docs/emulator.md ("The emulator's reading
of the pages"). Every model forbids unknown fields and takes JSON types strictly (a boolean is not
a number, a number is not a string), except where a page's own example sends another type.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

# -------------------------------------------------------------------------------- enumerations

JobTypeName = Literal["METADATA_MIGRATION", "PERMISSION_MIGRATION", "METADATA_DISCOVERY"]
JOB_TYPES: tuple[str, ...] = ("METADATA_MIGRATION", "PERMISSION_MIGRATION", "METADATA_DISCOVERY")
#: The parameter block a job of each type runs with ("determined by the type", Table 3).
BLOCK_FOR_TYPE: dict[str, str] = {
    "METADATA_MIGRATION": "metadata_migration_parameter",
    "PERMISSION_MIGRATION": "permission_migration_parameter",
    "METADATA_DISCOVERY": "metadata_discovery_parameter",
}
#: ``mode`` of the start call (API reference: NORMAL or COMPARISON).
START_MODES: tuple[str, ...] = ("NORMAL", "COMPARISON")
#: Fields the pages say are never returned ("cannot be exposed during query and listing").
SECRET_FIELDS: frozenset[str] = frozenset({"password", "access_key", "secret_key"})

# Table 5: the enum lists UPSERT; the modify page's request and both response examples send UPDATE.
MigrationConflict = Literal["UPSERT", "UPDATE"]
# Table 10: the enum omits TEXT, the description lists it ("TEXT: stands for text").
FileDiscoveryType = Literal["PARQUET", "CSV", "JSON", "ORC", "TEXT", "AVRO", "ALL"]
PrincipalConversion = Literal["IAM_USER", "IAM_GROUP", "ROLE"]
Frequency = Literal["MONTHLY", "WEEKLY", "DAILY", "HOURLY"]

# ------------------------------------------------------------------------------------ strings

#: "Mandatory: Yes" strings: an empty string counts as not given.
Required = Annotated[StrictStr, Field(min_length=1)]
#: Table 3: "4 to 255 characters. Only letters, digits, and underscores (_) are allowed."
JobName = Annotated[StrictStr, Field(min_length=4, max_length=255, pattern=r"^[A-Za-z0-9_]+$")]
#: Table 3: "Enter 0 to 4000 characters".
Description = Annotated[StrictStr, Field(max_length=4000)]
#: Table 6: "only letters and digits and cannot exceed 255 characters".
Username = Annotated[StrictStr, Field(max_length=255, pattern=r"^[A-Za-z0-9]*$")]
#: Table 11: "1 to 49 characters. Only letters, digits, underscores (_), hyphens (-), and periods (.)".
PrincipalName = Annotated[StrictStr, Field(min_length=1, max_length=49, pattern=r"^[A-Za-z0-9_.\-]+$")]
#: Table 8: "cannot contain special characters such as <, >, :,", /, , |, ?, *" (the blank between the
#: two commas is read as a lost backslash).
FileName = Annotated[StrictStr, Field(min_length=1, pattern=r'^[^<>:"/\\|?*]+$')]
#: Table 7 / Table 5: "A maximum of 20 records are supported."
MAX_LOCATIONS = 20


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)


# ------------------------------------------------------------------------------ parameter blocks


class DataSourceParameter(_Body):
    """Table 6: every field optional; empty secrets mean "none" or "unchanged"."""

    jdbc_url: StrictStr | None = None
    username: Username | None = None
    password: StrictStr | None = None
    endpoint: StrictStr | None = None
    access_key: StrictStr | None = None
    secret_key: StrictStr | None = None
    subnet_ip: StrictStr | None = None


class LocationReplaceRule(_Body):
    """Table 7."""

    key: Required
    value: Required


class MetaDataMigrationParameter(_Body):
    """Table 5."""

    datasource_type: Literal[
        "ALIYUN_DLF", "MRS_RDS_FOR_MYSQL", "OPEN_FOR_MYSQL", "MRS_RDS_FOR_PG", "MRS_LOCAL_GAUSSDB"
    ]
    datasource_parameter: DataSourceParameter
    source_catalog: Required
    target_catalog: Required
    conflict_strategy: MigrationConflict
    log_location: Required
    sync_objects: Annotated[list[Literal["DATABASE", "FUNCTION", "TABLE", "PARTITION"]], Field(min_length=1)]
    default_owner: StrictStr | None = None
    locations: Annotated[list[LocationReplaceRule], Field(max_length=MAX_LOCATIONS)]
    instance_id: Required
    ignore_obs_checked: StrictBool | None = None
    network_type: Literal["EIP", "VPC_PEERING"] | None = None
    accepted_vpc_id: StrictStr | None = None


class RangerPrincipalRelas(_Body):
    """Table 9."""

    user_to: PrincipalConversion | None = None
    user_prefix: StrictStr | None = None
    user_suffix: StrictStr | None = None
    group_to: PrincipalConversion | None = None
    group_prefix: StrictStr | None = None
    group_suffix: StrictStr | None = None
    role_to: PrincipalConversion | None = None
    role_prefix: StrictStr | None = None
    role_suffix: StrictStr | None = None


class PermissionMigrationParameter(_Body):
    """Table 8."""

    location: Required
    file_name: FileName | None = None
    log_location: Required
    policy_type: Literal["DLF", "RANGER", "LAKEFORMATION"]
    catalog_id: StrictStr | None = None
    instance_id: Required
    ranger_permission_migration_principal_relas: RangerPrincipalRelas | None = None


class Principal(_Body):
    """Table 11."""

    principal_type: Literal["USER", "GROUP", "ROLE", "SHARE", "OTHER"]
    principal_source: Literal["IAM", "SAML", "LDAP", "LOCAL", "AGENTTENANT", "OTHER"]
    principal_name: PrincipalName


#: Table 10's ranges of execute_day / execute_hour per execute_frequency; None = "*" (every).
_DAY: dict[str | None, tuple[int, int] | None] = {
    "MONTHLY": (1, 31), "WEEKLY": (1, 7), "DAILY": None, "HOURLY": None,
}  # fmt: skip
_HOUR: dict[str | None, tuple[int, int] | None] = {
    "MONTHLY": (0, 23), "WEEKLY": (0, 23), "DAILY": (0, 23), "HOURLY": None,
}  # fmt: skip
_MINUTE = (0, 59)
_ASCII_NUMBER = re.compile(r"[0-9]{1,2}")


def check_schedule_value(value: int | str, allowed: tuple[int, int] | None, frequency: str | None) -> str:
    """The wire text of one execute_day/hour/minute value, or ValueError naming the rule.

    ``allowed`` None means the page asks for ``*``. Without a frequency any value of the widest
    range (or ``*``) is taken: the page states the ranges per frequency only.
    """
    text = str(value)
    when = f" when execute_frequency is {frequency}" if frequency else ""
    if allowed is None:
        if text != "*":
            raise ValueError(f"must be '*'{when}")
        return text
    if text == "*" and frequency is None:
        return text
    low, high = allowed
    if not _ASCII_NUMBER.fullmatch(text) or not low <= int(text) <= high:
        raise ValueError(f"must be a number from {low} to {high}{when} (ASCII digits)")
    return text


class MetaDataDiscoveryParameter(_Body):
    """Table 10. execute_day/hour/minute are typed String but the page's example sends integers."""

    data_location: Required
    target_catalog: Required
    target_database: Required
    conflict_strategy: Literal["UPDATE", "INSERT", "UPSERT"]
    file_discovery_type: FileDiscoveryType
    separator: StrictStr | None = None
    quote: Literal["DOUBLE_QUOTE", "SINGLE_QUOTE", "NULL_QUOTE"] | None = None
    escape: StrictStr | None = None
    header: StrictBool | None = None
    file_sample_rate: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    table_depth: Annotated[StrictInt, Field(ge=0)] | None = None
    log_location: Required
    default_owner: StrictStr | None = None
    principals: list[Principal] | None = None
    give_write: StrictBool | None = None
    instance_id: Required
    rediscovery_policy: Literal["FULL_DISCOVERY", "INCREMENTAL_DISCOVERY"] | None = None
    execute_strategy: Literal["MANNUAL", "SCHEDULE"] | None = None
    execute_frequency: Frequency | None = None
    execute_day: StrictInt | StrictStr | None = None
    execute_hour: StrictInt | StrictStr | None = None
    execute_minute: StrictInt | StrictStr | None = None

    @field_validator("execute_day", "execute_hour", "execute_minute")
    @classmethod
    def _schedule(cls, value: int | str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        frequency = info.data.get("execute_frequency")
        if info.field_name == "execute_minute":
            allowed: tuple[int, int] | None = _MINUTE
        else:
            table = _DAY if info.field_name == "execute_day" else _HOUR
            allowed = table[frequency] if frequency else (1, 31) if table is _DAY else (0, 23)
        return check_schedule_value(value, allowed, frequency)


class JobParameter(_Body):
    """Table 4: all three blocks optional ("determined by the system based on the job type"), plus
    the notification fields of newer JobParameter versions (API reference)."""

    metadata_migration_parameter: MetaDataMigrationParameter | None = None
    permission_migration_parameter: PermissionMigrationParameter | None = None
    metadata_discovery_parameter: MetaDataDiscoveryParameter | None = None
    smn_notify: StrictBool | None = None
    smn_notify_topic: StrictStr | None = None
    smn_notify_types: list[Literal["SUCCESS", "FAILED"]] | None = None


# ---------------------------------------------------------------------------------- the bodies


class CreateJobBody(_Body):
    """Create page, Table 3."""

    name: JobName
    description: Description | None = None
    type: JobTypeName
    parameter: JobParameter


class UpdateJobBody(_Body):
    """Modify page, Table 3 (no ``type``). The page says only "Task name."; a job name follows the
    create page's rule wherever it is set."""

    name: JobName
    description: Description | None = None
    parameter: JobParameter


def problems(exc: ValidationError) -> list[str]:
    """``field.path: rule`` per problem (input values never repeated)."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{path or 'body'}: {message}")
    return out


def missing_block(job_type: str, parameter: dict[str, Any]) -> str | None:
    """The problem when the block a job of ``job_type`` runs with is absent, else None."""
    block = BLOCK_FOR_TYPE[job_type]
    if parameter.get(block) is None:
        return f"parameter.{block}: required for a {job_type} job (the type decides which block is used)"
    return None


def wire_body(model: BaseModel) -> dict[str, Any]:
    """The body as stored and returned: fields sent as null left out, schedule values as strings."""
    return model.model_dump(mode="json", exclude_none=True)
