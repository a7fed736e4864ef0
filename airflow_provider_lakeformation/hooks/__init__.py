"""LakeFormation hooks: :mod:`.lakeformation` (``LakeFormationHook``'s endpoint methods and the one
declaration of each endpoint) over :mod:`.base` (the sync and async transport, which knows no
endpoint). Kept light: nothing heavy loads until a hook module is imported."""

from __future__ import annotations

#: The connection id every hook, operator, sensor and trigger uses by default.
DEFAULT_CONN_ID = "lakeformation_default"
