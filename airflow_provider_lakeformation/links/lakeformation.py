"""Extra link from a LakeFormation task to its job's page in the Huawei Cloud console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_lakeformation._compat import BaseOperatorLink

__all__ = [
    "LakeFormationJobLink",
]

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: XCom key the operators and the sensor push the console URL under.
CONSOLE_URL_XCOM_KEY = "console_url"
#: Attribute of a LakeFormation operator holding the console URL it pushed (or would have).
SHOWN_URL_ATTRIBUTE = "shown_console_url"


class LakeFormationJobLink(BaseOperatorLink):
    """The "LakeFormation Job" button: the console URL of the job the task worked on.

    On Airflow 3 the task itself records the link when it ends: the URL is read from the operator
    (``shown_console_url``, kept even under ``do_xcom_push=False``), so a task that failed before
    it had one asks XCom for nothing. Elsewhere (Airflow 2's webserver) it is the ``console_url``
    XCom: empty until the task pushed it, and always under ``do_xcom_push=False``.
    """

    name = "LakeFormation Job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.providers.common.compat.sdk import XCom

        if hasattr(operator, SHOWN_URL_ATTRIBUTE):  # the running task's own operator
            shown = getattr(operator, SHOWN_URL_ATTRIBUTE)
            return shown if isinstance(shown, str) else ""
        url = XCom.get_value(ti_key=ti_key, key=CONSOLE_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
