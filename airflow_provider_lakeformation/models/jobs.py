"""Pydantic v2 models of the LakeFormation job API: the one schema of the project.

Request models (``CreateJobRequest``, ``UpdateJobRequest`` and the parameter blocks) enforce every
documented rule and forbid unknown fields, so a bad spec fails before any HTTP call. Response models
(``Job``, ``JobPage``, ``JobLog``) tolerate unknown fields and both shapes of ``status``.

Secret fields (``password``, ``access_key``, ``secret_key``) are ``SecretStr``: masked in ``repr``,
``str`` and ordinary dumps, and revealed only by :meth:`WireModel.to_wire`, which builds the body
that is actually sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import Enum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_serializer,
    model_serializer,
    model_validator,
)

from airflow_provider_lakeformation.models.redaction import mask_by_key, redact_url
from airflow_provider_lakeformation.models.status import JobStatus, parse_status

# --------------------------------------------------------------------------------------------- enums


class _WireEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class JobType(_WireEnum):
    METADATA_MIGRATION = "METADATA_MIGRATION"
    PERMISSION_MIGRATION = "PERMISSION_MIGRATION"
    METADATA_DISCOVERY = "METADATA_DISCOVERY"


class DatasourceType(_WireEnum):
    ALIYUN_DLF = "ALIYUN_DLF"
    MRS_RDS_FOR_MYSQL = "MRS_RDS_FOR_MYSQL"
    OPEN_FOR_MYSQL = "OPEN_FOR_MYSQL"
    MRS_RDS_FOR_PG = "MRS_RDS_FOR_PG"
    MRS_LOCAL_GAUSSDB = "MRS_LOCAL_GAUSSDB"


class MigrationConflictStrategy(_WireEnum):
    """The migration page's enumeration lists only UPSERT, but its modify request example and the
    create and modify response examples send UPDATE: the pages contradict themselves, so both are
    accepted and sent as given."""

    UPSERT = "UPSERT"
    UPDATE = "UPDATE"


class SyncObject(_WireEnum):
    DATABASE = "DATABASE"
    FUNCTION = "FUNCTION"
    TABLE = "TABLE"
    PARTITION = "PARTITION"


class NetworkType(_WireEnum):
    EIP = "EIP"
    VPC_PEERING = "VPC_PEERING"


class PolicyType(_WireEnum):
    DLF = "DLF"
    RANGER = "RANGER"
    LAKEFORMATION = "LAKEFORMATION"


class PrincipalConversion(_WireEnum):
    """What a Ranger user, group or role becomes in LakeFormation."""

    IAM_USER = "IAM_USER"
    IAM_GROUP = "IAM_GROUP"
    ROLE = "ROLE"


class DiscoveryConflictStrategy(_WireEnum):
    UPDATE = "UPDATE"
    INSERT = "INSERT"
    UPSERT = "UPSERT"


class FileDiscoveryType(_WireEnum):
    """TEXT is described in the page's prose though missing from its enum list; we accept it."""

    PARQUET = "PARQUET"
    CSV = "CSV"
    JSON = "JSON"
    ORC = "ORC"
    TEXT = "TEXT"
    AVRO = "AVRO"
    ALL = "ALL"


class QuoteType(_WireEnum):
    DOUBLE_QUOTE = "DOUBLE_QUOTE"
    SINGLE_QUOTE = "SINGLE_QUOTE"
    NULL_QUOTE = "NULL_QUOTE"


class RediscoveryPolicy(_WireEnum):
    FULL_DISCOVERY = "FULL_DISCOVERY"
    INCREMENTAL_DISCOVERY = "INCREMENTAL_DISCOVERY"


class ExecuteStrategy(_WireEnum):
    """``MANNUAL`` is the wire spelling (sic)."""

    MANNUAL = "MANNUAL"
    SCHEDULE = "SCHEDULE"


class ExecuteFrequency(_WireEnum):
    MONTHLY = "MONTHLY"
    WEEKLY = "WEEKLY"
    DAILY = "DAILY"
    HOURLY = "HOURLY"


class PrincipalType(_WireEnum):
    USER = "USER"
    GROUP = "GROUP"
    ROLE = "ROLE"
    SHARE = "SHARE"
    OTHER = "OTHER"


class PrincipalSource(_WireEnum):
    IAM = "IAM"
    SAML = "SAML"
    LDAP = "LDAP"
    LOCAL = "LOCAL"
    AGENTTENANT = "AGENTTENANT"
    OTHER = "OTHER"


class SmnNotifyType(_WireEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class StartMode(_WireEnum):
    """``mode`` query parameter of the start call."""

    NORMAL = "NORMAL"
    COMPARISON = "COMPARISON"


# ------------------------------------------------------------------------------------- field types


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text") from None
    return value


#: Any string sent on the wire: must encode as UTF-8.
WireStr = Annotated[str, AfterValidator(_utf8)]
#: A mandatory string: not empty.
RequiredStr = Annotated[str, Field(min_length=1), AfterValidator(_utf8)]
JOB_NAME_PATTERN = r"^[A-Za-z0-9_]+$"
JobName = Annotated[str, Field(min_length=4, max_length=255, pattern=JOB_NAME_PATTERN)]
Description = Annotated[str, Field(max_length=4000), AfterValidator(_utf8)]
PrincipalName = Annotated[str, Field(min_length=1, max_length=49, pattern=r"^[A-Za-z0-9_.\-]+$")]
DatasourceUsername = Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9]*$")]
_FILE_NAME_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')


def _file_name(value: str) -> str:
    if _FILE_NAME_FORBIDDEN.search(value):
        raise ValueError('must not contain any of < > : " / \\ | ? *')
    return value


FileName = Annotated[str, Field(min_length=1), AfterValidator(_file_name), AfterValidator(_utf8)]


_ASCII_NUMBER = re.compile(r"[0-9]{1,2}")


def _schedule_value(value: Any) -> Any:
    """execute_day/hour/minute are typed String on the page but the example sends integers: either is
    accepted and sent as given. A string is ``*`` or one or two ASCII digits; a boolean is refused."""
    if isinstance(value, bool):
        raise ValueError("must be a number or '*', not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and (value == "*" or _ASCII_NUMBER.fullmatch(value)):
        return value
    raise ValueError("must be '*' or a number written with ASCII digits")


ScheduleValue = Annotated[int | str, BeforeValidator(_schedule_value)]

#: Fields a job spec may carry that must never be shown: they are SecretStr in these models.
SECRET_FIELDS: frozenset[str] = frozenset({"password", "access_key", "secret_key"})


# ------------------------------------------------------------------------------------- base models


def _revealing(info: SerializationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("reveal_secrets"))


class WireModel(BaseModel):
    """Base of every request model: strict about unknown fields, silent about input values. Its
    ``repr`` and ordinary dumps show every URL without its credentials (:func:`redact_url`); only
    :meth:`to_wire` keeps them."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, hide_input_in_errors=True, defer_build=True
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON body as sent to the service: enums as strings, secrets revealed, unset fields left out."""
        return self.model_dump(mode="json", exclude_none=True, context={"reveal_secrets": True})

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if isinstance(value, str) else value

    @model_serializer(mode="wrap")
    def _url_credentials_hidden(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if _revealing(info) or not isinstance(data, dict):
            return data
        return {k: redact_url(v) if isinstance(v, str) else v for k, v in data.items()}


class ResponseModel(BaseModel):
    """Base of every response model: unknown fields are kept, never an error."""

    model_config = ConfigDict(
        extra="allow", hide_input_in_errors=True, populate_by_name=True, defer_build=True
    )


# ----------------------------------------------------------------------------------- parameter blocks


class DataSourceParameter(WireModel):
    """Connection to the source metastore. Secrets are sent only on create/update, never returned."""

    jdbc_url: WireStr | None = None
    username: DatasourceUsername | None = None
    password: SecretStr | None = None
    endpoint: WireStr | None = None
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    subnet_ip: WireStr | None = None

    @field_serializer("password", "access_key", "secret_key", when_used="json-unless-none")
    def _serialize_secret(self, value: SecretStr, info: SerializationInfo) -> str:
        if _revealing(info):
            return value.get_secret_value()
        return str(value)

    @model_validator(mode="after")
    def _secrets_are_utf8(self) -> DataSourceParameter:
        for name in SECRET_FIELDS:
            secret = getattr(self, name)
            if secret is not None:
                try:
                    secret.get_secret_value().encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(f"{name}: must be valid UTF-8 text") from None
        return self


class LocationReplaceRule(WireModel):
    """One path replacement: ``key`` (source path) becomes ``value`` (target path)."""

    key: RequiredStr
    value: RequiredStr


def _default_instance_id(cls: type[BaseModel], data: Any, info: ValidationInfo) -> Any:
    """Fill a missing ``instance_id`` from the validation context (the connection's instance)."""
    ctx = info.context if isinstance(info.context, dict) else {}
    default = ctx.get("default_instance_id")
    if default and isinstance(data, dict) and not data.get("instance_id"):
        return {**data, "instance_id": default}
    return data


class MetaDataMigrationParameter(WireModel):
    """Parameters of a METADATA_MIGRATION job."""

    datasource_type: DatasourceType
    datasource_parameter: DataSourceParameter
    source_catalog: RequiredStr
    target_catalog: RequiredStr
    conflict_strategy: MigrationConflictStrategy
    log_location: RequiredStr
    sync_objects: Annotated[list[SyncObject], Field(min_length=1)]
    default_owner: WireStr | None = None
    locations: Annotated[list[LocationReplaceRule], Field(max_length=20)]
    instance_id: RequiredStr
    ignore_obs_checked: StrictBool | None = None
    network_type: NetworkType | None = None
    accepted_vpc_id: WireStr | None = None

    _fill_instance = model_validator(mode="before")(_default_instance_id)


class RangerPermissionMigrationPrincipalRelas(WireModel):
    """How Ranger users, groups and roles are converted into LakeFormation principals."""

    user_to: PrincipalConversion | None = None
    user_prefix: WireStr | None = None
    user_suffix: WireStr | None = None
    group_to: PrincipalConversion | None = None
    group_prefix: WireStr | None = None
    group_suffix: WireStr | None = None
    role_to: PrincipalConversion | None = None
    role_prefix: WireStr | None = None
    role_suffix: WireStr | None = None


class PermissionMigrationParameter(WireModel):
    """Parameters of a PERMISSION_MIGRATION job."""

    location: RequiredStr
    file_name: FileName | None = None
    log_location: RequiredStr
    policy_type: PolicyType
    catalog_id: WireStr | None = None
    instance_id: RequiredStr
    ranger_permission_migration_principal_relas: RangerPermissionMigrationPrincipalRelas | None = None

    _fill_instance = model_validator(mode="before")(_default_instance_id)


class Principal(WireModel):
    """An entity granted permissions on discovered metadata."""

    principal_type: PrincipalType
    principal_source: PrincipalSource
    principal_name: PrincipalName


#: Allowed values of execute_day / execute_hour per execute_frequency ("*" = every).
_DAY_RANGE: dict[ExecuteFrequency, tuple[int, int] | None] = {
    ExecuteFrequency.MONTHLY: (1, 31),
    ExecuteFrequency.WEEKLY: (1, 7),
    ExecuteFrequency.DAILY: None,
    ExecuteFrequency.HOURLY: None,
}
_HOUR_RANGE: dict[ExecuteFrequency, tuple[int, int] | None] = {
    ExecuteFrequency.MONTHLY: (0, 23),
    ExecuteFrequency.WEEKLY: (0, 23),
    ExecuteFrequency.DAILY: (0, 23),
    ExecuteFrequency.HOURLY: None,
}


def _check_schedule_value(field: str, value: int | str, allowed: tuple[int, int] | None, freq: str) -> None:
    """The range of the page for ``freq``, checked on the integer value (``"01"`` is 1)."""
    if allowed is None:
        if value != "*":
            raise ValueError(f"{field}: must be '*' when execute_frequency is {freq}")
        return
    low, high = allowed
    number = value if isinstance(value, int) else int(value) if value != "*" else None
    if number is None or not low <= number <= high:
        raise ValueError(f"{field}: must be an integer from {low} to {high} when execute_frequency is {freq}")


class MetaDataDiscoveryParameter(WireModel):
    """Parameters of a METADATA_DISCOVERY job."""

    data_location: RequiredStr
    target_catalog: RequiredStr
    target_database: RequiredStr
    conflict_strategy: DiscoveryConflictStrategy
    file_discovery_type: FileDiscoveryType
    separator: WireStr | None = None
    quote: QuoteType | None = None
    escape: WireStr | None = None
    header: StrictBool | None = None
    file_sample_rate: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    table_depth: Annotated[StrictInt, Field(ge=0)] | None = None
    log_location: RequiredStr
    default_owner: WireStr | None = None
    principals: list[Principal] | None = None
    give_write: StrictBool | None = None
    instance_id: RequiredStr
    rediscovery_policy: RediscoveryPolicy | None = None
    execute_strategy: ExecuteStrategy | None = None
    execute_frequency: ExecuteFrequency | None = None
    execute_day: ScheduleValue | None = None
    execute_hour: ScheduleValue | None = None
    execute_minute: ScheduleValue | None = None

    _fill_instance = model_validator(mode="before")(_default_instance_id)

    @model_validator(mode="after")
    def _check_schedule(self) -> MetaDataDiscoveryParameter:
        """The page states each range per execute_frequency and no dependency between the fields:
        with a frequency, its range (or ``*``); without one, ``*`` or the widest range."""
        freq = self.execute_frequency
        checks = (
            ("execute_day", self.execute_day, _DAY_RANGE),
            ("execute_hour", self.execute_hour, _HOUR_RANGE),
            ("execute_minute", self.execute_minute, None),
        )
        for field, value, ranges in checks:
            if value is None:
                continue
            widest = (1, 31) if field == "execute_day" else (0, 23) if ranges else (0, 59)
            if freq is None:
                if value != "*":
                    _check_schedule_value(field, value, widest, "not set")
            else:
                _check_schedule_value(field, value, ranges[freq] if ranges else widest, freq.value)
        return self


#: Which parameter block each job type carries.
PARAMETER_BLOCK_FOR_TYPE: dict[JobType, str] = {
    JobType.METADATA_MIGRATION: "metadata_migration_parameter",
    JobType.PERMISSION_MIGRATION: "permission_migration_parameter",
    JobType.METADATA_DISCOVERY: "metadata_discovery_parameter",
}


class JobParameter(WireModel):
    """The parameter object. The block of the job's type is required; the page marks every block
    optional and its create example sends all three, so the other blocks are accepted (each one
    validated) and sent as given."""

    metadata_migration_parameter: MetaDataMigrationParameter | None = None
    permission_migration_parameter: PermissionMigrationParameter | None = None
    metadata_discovery_parameter: MetaDataDiscoveryParameter | None = None
    smn_notify: StrictBool | None = None
    smn_notify_topic: WireStr | None = None
    smn_notify_types: list[SmnNotifyType] | None = None

    def blocks(self) -> list[str]:
        """Names of the parameter blocks that are set."""
        return [name for name in PARAMETER_BLOCK_FOR_TYPE.values() if getattr(self, name) is not None]

    def check_type(self, job_type: JobType) -> list[str]:
        """Raise ``ValueError`` unless the block for ``job_type`` is set; return the other blocks set
        (sent as given beside it).

        :param job_type: the job's type.
        :return: the names of the blocks set beside the type's own.
        """
        wanted = PARAMETER_BLOCK_FOR_TYPE[job_type]
        present = self.blocks()
        if wanted not in present:
            found = ", ".join(present) or "none"
            raise ValueError(f"parameter: a {job_type.value} job needs parameter.{wanted} (found: {found})")
        return [name for name in present if name != wanted]


# ----------------------------------------------------------------------------------------- requests


class CreateJobRequest(WireModel):
    """Body of ``POST /lf-jobs``.

    ``CreateJobRequest.model_validate(spec, context={"default_instance_id": ...})`` fills a missing
    ``instance_id`` in the parameter block from the connection.
    """

    name: JobName
    description: Description | None = None
    type: JobType
    parameter: JobParameter

    @model_validator(mode="after")
    def _block_matches_type(self) -> CreateJobRequest:
        self.parameter.check_type(self.type)
        return self


class UpdateJobRequest(WireModel):
    """Body of ``PUT /lf-jobs/{job_id}``: no ``type``; the existing job's type's block is required."""

    name: JobName
    description: Description | None = None
    parameter: JobParameter

    @model_validator(mode="after")
    def _one_block(self) -> UpdateJobRequest:
        if not self.parameter.blocks():
            raise ValueError("parameter: a parameter block is needed (found: none)")
        return self

    @classmethod
    def from_create(cls, request: CreateJobRequest) -> UpdateJobRequest:
        """The update that makes an existing job match ``request``."""
        return cls(name=request.name, description=request.description, parameter=request.parameter)


# ---------------------------------------------------------------------------------------- responses


def _status_or_none(value: Any) -> Any:
    return None if value is None else parse_status(value)


def _masked_reply(value: Any) -> Any:
    """A job as the server sent it, every secret-named entry masked and every URL stripped of its
    credentials (:func:`~airflow_provider_lakeformation.models.redaction.mask_by_key`) before it is
    read: a block that fails the strict model and is kept as a dict, or an echoed token kept as an
    unknown field, never shows a secret in a ``repr``, a dump or an error."""
    return mask_by_key(value) if isinstance(value, dict) else value


class Job(ResponseModel):
    """A job as returned by create, get, modify and list. ``status`` may come as a string or object.
    Secrets the server sends back (by key name, or inside a URL) are masked as the job is read."""

    id: str
    name: str | None = None
    description: str | None = None
    type: Annotated[JobType | str | None, Field(union_mode="left_to_right")] = None
    parameter: Annotated[JobParameter | dict[str, Any] | None, Field(union_mode="left_to_right")] = None
    create_time: str | int | None = None
    start_time: str | int | None = None
    end_time: str | int | None = None
    status: Annotated[JobStatus | None, BeforeValidator(_status_or_none)] = None

    _mask = model_validator(mode="before")(_masked_reply)


class JobPage(ResponseModel):
    """One page of ``GET /lf-jobs`` or ``GET /lf-jobs/{id}/history``."""

    total: int = 0
    jobs: list[Job] = Field(default_factory=list)

    _mask = model_validator(mode="before")(_masked_reply)


class JobState(BaseModel):
    """What a status feed reads of a job in a get or list reply: id, type, status and the current
    run's start and end time, nothing else.

    Every other field is ignored, not kept (a list page holds up to 1,000 jobs, each with its full
    parameter block: a feed reads thousands of them per interval), so nothing secret is held either.
    ``status`` as a string or ``{"status": ...}``; an unknown status or type is kept as its text.
    """

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, defer_build=True)

    id: str
    type: Annotated[JobType | str | None, Field(union_mode="left_to_right")] = None
    status: Annotated[JobStatus | None, BeforeValidator(_status_or_none)] = None
    start_time: str | int | None = None
    end_time: str | int | None = None


class JobStatePage(BaseModel):
    """A page of ``GET /lf-jobs`` as a status feed reads it (:class:`JobState` per job)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, defer_build=True)

    total: int = 0
    jobs: list[JobState] = Field(default_factory=list)


class JobLog(ResponseModel):
    """``GET /lf-jobs/{id}/log``."""

    log: str = ""

    def tail(self, lines: int) -> str:
        """The last ``lines`` lines of the log."""
        if lines <= 0:
            return ""
        return "\n".join(self.log.splitlines()[-lines:])


class Instance(ResponseModel):
    """A LakeFormation instance (``status`` RUNNING when usable)."""

    id: str
    name: str | None = None
    status: str | None = None


class InstancePage(ResponseModel):
    """``GET /v1/{project_id}/instances``."""

    total: int = 0
    instances: list[Instance] = Field(default_factory=list)
