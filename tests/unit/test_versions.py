"""What the README's "Airflow versions" table says about each line, checked on the line the lane
installed: where the connection form comes from, trigger ``on_kill``, the task state store."""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys
import warnings

import pytest
from airflow.triggers.base import BaseTrigger

from airflow_provider_lakeformation.operators.lakeformation import LakeFormationStartJobOperator
from tests.compat import AIRFLOW_V_3_3, AIRFLOW_VERSION

#: A fresh interpreter (ProvidersManager is a process-wide singleton): which LakeFormation form
#: fields Airflow serves and whether it built them from the hook's widgets.
_FORM_PROBE = r"""
import json, logging
logging.disable(logging.CRITICAL)
from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook
calls = []
original = LakeFormationHook.__dict__["get_connection_form_widgets"].__func__
def spy(cls):
    calls.append(1)
    return original(cls)
LakeFormationHook.get_connection_form_widgets = classmethod(spy)
from airflow.providers_manager import ProvidersManager
pm = ProvidersManager()
fields = sorted(k for k in pm.connection_form_widgets if k.startswith("extra__lakeformation__"))
print("FORM " + json.dumps({"fields": fields, "hook_widgets": bool(calls),
                            "behaviour": "lakeformation" in pm.field_behaviours}))
"""


def _form() -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _FORM_PROBE], capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("FORM "))
    result: dict[str, object] = json.loads(line[len("FORM ") :])
    return result


def test_connection_form_source_per_line() -> None:
    """3.3 builds the form from ``conn-fields`` in the provider info; 2.11 (and 3.1) from the hook's
    widgets, which need flask_appbuilder: 3.1 without the FAB provider shows no custom fields."""
    form = _form()
    has_fab = importlib.util.find_spec("flask_appbuilder") is not None
    if AIRFLOW_V_3_3:
        assert form["hook_widgets"] is False, form
        expected_form = True
    else:
        expected_form = has_fab
    fields = form["fields"]
    assert isinstance(fields, list)
    assert ("extra__lakeformation__region" in fields) is expected_form, (AIRFLOW_VERSION, has_fab, form)
    assert form["behaviour"] is expected_form, form
    print(f"Airflow {AIRFLOW_VERSION}: {len(fields)} form fields, hook widgets used: {form['hook_widgets']}")


def test_trigger_on_kill_exists_from_3_3() -> None:
    """The triggerer calls ``BaseTrigger.on_kill`` on a user action from 3.3 on; below, the method
    does not exist in Airflow and the provider's ``on_kill`` is never called."""
    assert hasattr(BaseTrigger, "on_kill") is AIRFLOW_V_3_3


def test_task_state_store_mixin_from_3_3() -> None:
    """The start operator resumes through Airflow's own ``ResumableJobMixin`` on 3.3+, and through
    a stand-in that never persists anything below."""
    mixins = [cls for cls in LakeFormationStartJobOperator.__mro__ if cls.__name__ == "ResumableJobMixin"]
    assert len(mixins) == 1
    assert mixins[0].__module__.startswith("airflow.sdk") is AIRFLOW_V_3_3, mixins[0].__module__


def test_durable_is_a_keyword_of_the_start_operator() -> None:
    """``durable`` is in the signature (typed, default ``True``) rather than passed through ``**kwargs``."""
    param = inspect.signature(LakeFormationStartJobOperator.__init__).parameters["durable"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY
    assert param.default is True
    assert param.annotation in (bool, "bool")


@pytest.mark.parametrize("durable", [True, False])
def test_durable_takes_effect_from_3_3(durable: bool) -> None:
    """3.3+ keeps what was asked; below 3.3 there is no store, so the operator is never durable, and
    the default does not warn (the compat provider's stand-in warns about any explicit value, which
    would fire on every DAG parse)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        op = LakeFormationStartJobOperator(task_id="start", job_id="job-1", durable=durable)
    assert op.durable is (durable and AIRFLOW_V_3_3)
    if durable:
        assert not [w for w in caught if "durable" in str(w.message)], [str(w.message) for w in caught]
