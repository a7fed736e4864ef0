"""What both LakeFormation triggers share (:class:`LakeFormationBaseTrigger`): the connection
arguments, checked when the trigger is built (when the DAG file is parsed, or when a task defers),
the hook, one class-wide logger and :meth:`~LakeFormationBaseTrigger.serialize` from a declared list
of kwargs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import BaseTrigger

from airflow_provider_lakeformation.hooks import DEFAULT_CONN_ID
from airflow_provider_lakeformation.models.arguments import path_segment_arg, text_arg

if TYPE_CHECKING:
    from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

__all__ = ["LakeFormationBaseTrigger"]


def optional_id(name: str, value: Any) -> str | None:
    """An id override: ``None`` or blank (use the connection's), else :func:`path_segment_arg`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return path_segment_arg(name, value)


class LakeFormationBaseTrigger(BaseTrigger):
    """The base of the package's triggers: connection arguments, hook, logger, ``serialize``.

    A subclass checks its own arguments in ``__init__`` through
    :mod:`~airflow_provider_lakeformation.models.arguments` (so a bad argument raises a
    ``LakeFormationSpecError`` naming it before the trigger ever runs), stores each under the name
    of its kwarg, and lists the kwargs in :attr:`serialized_fields`. The names never change:
    triggers already stored in the database are re-created from them after a triggerer restart.

    :param lakeformation_conn_id: Airflow connection of type ``lakeformation``.
    :param project_id: overrides the connection's project.
    :param instance_id: overrides the connection's instance.
    """

    #: The kwargs :meth:`serialize` writes, each read from the attribute of that name.
    serialized_fields: ClassVar[tuple[str, ...]] = ("lakeformation_conn_id", "project_id", "instance_id")

    def __init__(
        self,
        *,
        lakeformation_conn_id: str = DEFAULT_CONN_ID,
        project_id: str | None = None,
        instance_id: str | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.lakeformation_conn_id = text_arg("lakeformation_conn_id", lakeformation_conn_id)
        self.project_id = optional_id("project_id", project_id)
        self.instance_id = optional_id("instance_id", instance_id)

    @property
    def log(self) -> Any:
        """One logger shared by every instance of the class: a triggerer routes each line to its
        trigger's log by the context it runs in, not by the logger object, and thousands of waiting
        triggers need not hold a logger chain each."""
        return type(self).logger()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON kwargs (ids, names, numbers); no credentials (the triggerer reads the
        connection itself).

        :return: the class path and the kwargs of :attr:`serialized_fields`.
        """
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {name: getattr(self, name) for name in self.serialized_fields},
        )

    def _hook(self) -> LakeFormationHook:
        from airflow_provider_lakeformation.hooks.lakeformation import LakeFormationHook

        return LakeFormationHook(
            self.lakeformation_conn_id, project_id=self.project_id, instance_id=self.instance_id
        )
