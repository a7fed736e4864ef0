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


class LakeFormationJobLink(BaseOperatorLink):
    """The "LakeFormation Job" button: the console URL the task pushed to XCom (empty until it did)."""

    name = "LakeFormation Job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.providers.common.compat.sdk import XCom

        url = XCom.get_value(ti_key=ti_key, key=CONSOLE_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
