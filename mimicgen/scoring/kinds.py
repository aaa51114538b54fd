"""Task -> answer kind: the one fact of the task registry that scoring's pure functions
(``extract``, ``check``) read. The scorer copy of ``mimicgen export lmms-eval`` gets this module
as a literal table (:func:`frozen_source`), so the copy runs without mimicgen installed."""

from __future__ import annotations

__all__ = ["TASKS", "TASK_KINDS", "frozen_source", "kind_of"]


def _registry_kinds() -> dict[str, str]:
    from mimicgen.registry import task_defs

    return {t.name: t.kind for t in task_defs()}


#: Task -> answer kind (``count``, ``set``, ``class``, ``yesno``), in report order.
TASK_KINDS: dict[str, str] = _registry_kinds()
#: Every registered task, in report order.
TASKS: tuple[str, ...] = tuple(TASK_KINDS)


def kind_of(task: str) -> str:
    """The answer kind of ``task``; KeyError names the known tasks."""
    try:
        return TASK_KINDS[task]
    except KeyError:
        raise KeyError(f"unknown task {task!r}; known: {', '.join(TASKS)}") from None


_FROZEN = '''\
"""Task -> answer kind, frozen from mimicgen's task registry by `mimicgen export lmms-eval`."""

__all__ = ["TASKS", "TASK_KINDS", "kind_of"]

TASK_KINDS = {table}
TASKS = tuple(TASK_KINDS)


def kind_of(task):
    try:
        return TASK_KINDS[task]
    except KeyError:
        raise KeyError(f"unknown task {{task!r}}; known: {{', '.join(TASKS)}}") from None
'''


def frozen_source() -> str:
    """This module's content with the table written out (for a copy of the scorer)."""
    return _FROZEN.format(table=repr(TASK_KINDS))
