"""What the tests need that differs between the Airflow lines they run on (2.11, 3.1, 3.3).

One home for those imports and version checks, so a test module never guesses the line itself.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from packaging.version import Version

AIRFLOW_VERSION = Version(Version(version("apache-airflow")).base_version)
AIRFLOW_V_3 = Version("3.0") <= AIRFLOW_VERSION
AIRFLOW_V_3_3 = Version("3.3") <= AIRFLOW_VERSION

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowRescheduleException
except ImportError:  # Airflow 3.1, 2.11
    from airflow.exceptions import AirflowRescheduleException  # type: ignore[no-redef,attr-defined]
if AIRFLOW_V_3:
    from airflow.sdk.module_loading import import_string
else:  # Airflow 2.11
    from airflow.utils.module_loading import import_string  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3",
    "AIRFLOW_V_3_3",
    "HAS_AGET_CONNECTION",
    "AirflowRescheduleException",
    "TaskDeferred",
    "encrypt_decrypt_trigger_kwargs",
    "event_payload_roundtrip",
    "executable_in_this_thread",
    "import_string",
    "rebuild_trigger",
    "requires_task_state_store",
    "requires_trigger_on_kill",
    "serialize_rendered_fields",
    "trigger_kwargs_roundtrip",
    "without_task_state_store",
]

#: ``BaseHook.aget_connection`` (Airflow 3.1+); below, the hook looks the connection up with
#: ``sync_to_async(get_connection)``.
HAS_AGET_CONNECTION = Version("3.1") <= AIRFLOW_VERSION

#: Tests of a feature that Airflow has from 3.3 on: skipped below with the reason.
requires_task_state_store = pytest.mark.skipif(
    not AIRFLOW_V_3_3,
    reason=f"the task state store (ResumableJobMixin) needs Airflow 3.3+, this is {AIRFLOW_VERSION}; "
    "the fallback (attach to a SUBMITTED/RUNNING run) is tested instead",
)
#: Tests of the documented fallback below 3.3 (the companions of ``requires_task_state_store``).
without_task_state_store = pytest.mark.skipif(
    AIRFLOW_V_3_3,
    reason=f"Airflow {AIRFLOW_VERSION} has the task state store; the fallback of < 3.3 is not used",
)
requires_trigger_on_kill = pytest.mark.skipif(
    not AIRFLOW_V_3_3,
    reason=f"the triggerer calls a trigger's on_kill() from Airflow 3.3 on, this is {AIRFLOW_VERSION}",
)


def trigger_kwargs_roundtrip(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Trigger kwargs as the triggerer rebuilds them from the metadata DB on this Airflow line:
    ``airflow.sdk.serde`` + ``smart_decode_trigger_kwargs`` from 3.2 on, ``BaseSerialization`` (what
    ``Trigger.encrypt_kwargs`` stores) on 3.1 and 2.11."""
    try:
        from airflow.sdk.serde import deserialize, serialize
        from airflow.serialization.decoders import smart_decode_trigger_kwargs
    except ImportError:
        from airflow.serialization.serialized_objects import BaseSerialization

        wire = json.loads(json.dumps(BaseSerialization.serialize(kwargs)))
        back: dict[str, Any] = BaseSerialization.deserialize(wire)
        return back
    wire = json.loads(json.dumps(serialize(kwargs)))
    return {k: smart_decode_trigger_kwargs(v) for k, v in deserialize(wire).items()}


def event_payload_roundtrip(payload: Any) -> Any:
    """A trigger event's payload after its trip through serde (``airflow.sdk.serde`` from 3.2 on)."""
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:
        from airflow.serialization.serde import deserialize, serialize  # type: ignore[no-redef]
    return deserialize(json.loads(json.dumps(serialize(payload))))


def encrypt_decrypt_trigger_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Trigger kwargs through ``Trigger``'s encryption for the metadata DB and back."""
    from airflow.models.trigger import Trigger

    encrypt = getattr(Trigger, "encrypt_kwargs", None) or Trigger._encrypt_kwargs  # 2.11: private
    decrypted: dict[str, Any] = Trigger._decrypt_kwargs(encrypt(kwargs))
    return decrypted


def rebuild_trigger(trigger: Any) -> Any:
    """The trigger rebuilt from its ``serialize()`` output, as the triggerer does."""
    classpath, kwargs = trigger.serialize()
    return import_string(classpath)(**trigger_kwargs_roundtrip(kwargs))


def serialize_rendered_fields(op: Any) -> Any:
    """An operator's rendered template fields, redacted as Airflow stores/sends them."""
    if AIRFLOW_V_3:
        from airflow.sdk.execution_time.task_runner import _serialize_rendered_fields

        return _serialize_rendered_fields(op)
    from airflow.serialization.helpers import serialize_template_field
    from airflow.utils.log.secrets_masker import redact

    # RenderedTaskInstanceFields: serialize each field, then redact it
    fields = op.template_fields
    return {field: redact(serialize_template_field(getattr(op, field), field), field) for field in fields}


def executable_in_this_thread() -> None:
    """Let ``op.execute()`` run in the calling (non-main) thread, as a task runner would.

    Airflow 2.11 wraps ``execute`` in ``ExecutorSafeguard``, whose caller registry is thread-local
    and set up only in the thread that imported it: any other thread fails with ``AttributeError``
    before the operator runs. Airflow 3 has no such registry.
    """
    if AIRFLOW_V_3:
        return
    from airflow.models.baseoperator import ExecutorSafeguard

    if not hasattr(ExecutorSafeguard._sentinel, "callers"):
        ExecutorSafeguard._sentinel.callers = {}
