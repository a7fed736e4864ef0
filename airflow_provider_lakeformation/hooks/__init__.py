"""LakeFormation hooks: :mod:`.base` (transport, auth, retries, reply parsing) and
:mod:`.lakeformation` (``LakeFormationHook``'s endpoint methods). Kept light: nothing heavy loads
until a hook module is imported."""

from __future__ import annotations

#: The connection id every hook, operator, sensor and trigger uses by default.
DEFAULT_CONN_ID = "lakeformation_default"
