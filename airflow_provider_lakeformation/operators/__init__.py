"""Operators of the LakeFormation provider (import them from ``operators.lakeformation``)."""

from __future__ import annotations
