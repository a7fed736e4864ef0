"""The job spec the DAGs of this folder create (a metadata migration; the emulator runs it)."""

from __future__ import annotations

from typing import Any


def migration_spec(name: str, description: str = "issue 26 e2e") -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "type": "METADATA_MIGRATION",
        "parameter": {
            "metadata_migration_parameter": {
                "datasource_type": "MRS_RDS_FOR_MYSQL",
                "datasource_parameter": {"jdbc_url": "jdbc:mysql://10.0.0.1:3306/hive", "username": "hive"},
                "source_catalog": "hive",
                "target_catalog": "lf_catalog",
                "conflict_strategy": "UPSERT",
                "log_location": "obs://bucket/logs/",
                "sync_objects": ["DATABASE", "TABLE"],
                "locations": [],
            }
        },
    }
