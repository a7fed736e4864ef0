"""Apache Airflow provider for Huawei Cloud LakeFormation jobs."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
