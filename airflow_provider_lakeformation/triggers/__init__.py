"""Triggers of the LakeFormation provider."""

from __future__ import annotations
