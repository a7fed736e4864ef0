"""Valid job specs (one per job type) that the bad-input table and the property tests start from."""

from __future__ import annotations

import copy
from typing import Any

#: Distinctive secret values: the secrets tests assert none of them ever shows up anywhere.
DS_PASSWORD = "DsPassw0rdSECRET7731"
DS_ACCESS_KEY = "DsAccessKeySECRET5512"
DS_SECRET_KEY = "DsSecretKeySECRET9043"


def migration_spec(name: str = "rel_migration_job", *, secrets: bool = True) -> dict[str, Any]:
    ds: dict[str, Any] = {"jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive", "username": "hiveuser"}
    if secrets:
        ds.update(password=DS_PASSWORD, access_key=DS_ACCESS_KEY, secret_key=DS_SECRET_KEY)
    return {
        "name": name,
        "description": "reliability test migration",
        "type": "METADATA_MIGRATION",
        "parameter": {
            "metadata_migration_parameter": {
                "datasource_type": "MRS_RDS_FOR_MYSQL",
                "datasource_parameter": ds,
                "source_catalog": "hive",
                "target_catalog": "lf_catalog",
                "conflict_strategy": "UPSERT",
                "log_location": "obs://bucket/logs/",
                "sync_objects": ["DATABASE", "TABLE"],
                "locations": [{"key": "hdfs://old/", "value": "obs://new/"}],
            }
        },
    }


def permission_spec(name: str = "rel_permission_job") -> dict[str, Any]:
    return {
        "name": name,
        "type": "PERMISSION_MIGRATION",
        "parameter": {
            "permission_migration_parameter": {
                "location": "obs://bucket/perm/",
                "file_name": "policies.json",
                "log_location": "obs://bucket/logs/",
                "policy_type": "RANGER",
            }
        },
    }


def discovery_spec(name: str = "rel_discovery_job") -> dict[str, Any]:
    return {
        "name": name,
        "type": "METADATA_DISCOVERY",
        "parameter": {
            "metadata_discovery_parameter": {
                "data_location": "obs://bucket/data/",
                "target_catalog": "lf_catalog",
                "target_database": "discovered",
                "conflict_strategy": "UPSERT",
                "file_discovery_type": "PARQUET",
                "log_location": "obs://bucket/logs/",
                "file_sample_rate": 50,
                "principals": [
                    {"principal_type": "USER", "principal_source": "IAM", "principal_name": "alice.b-c_1"}
                ],
                "execute_strategy": "SCHEDULE",
                "execute_frequency": "WEEKLY",
                "execute_day": "3",
                "execute_hour": "4",
                "execute_minute": "5",
            }
        },
    }


SPEC_BUILDERS = {
    "METADATA_MIGRATION": migration_spec,
    "PERMISSION_MIGRATION": permission_spec,
    "METADATA_DISCOVERY": discovery_spec,
}


def with_outcome(spec: dict[str, Any], marker: str) -> dict[str, Any]:
    """``spec`` with an emulator marker (e.g. ``[lf-emulator:outcome=FAILED]``) in its description."""
    out = copy.deepcopy(spec)
    out["description"] = f"{out.get('description') or ''} {marker}".strip()
    return out
