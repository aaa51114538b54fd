"""The task registry: one :class:`TaskDef` per task, registered with its sampler class.

``@register_task("counting", spec=CountingSpec, ...)`` on a sampler class makes the task known
to every part of the package: spec files (the ``task:`` union), template sets, sampling,
training conversations, exports, scoring and plots read what they need from here rather than
from per-task lists. A new task is one module under ``mimicgen/tasks/`` (its spec model,
sampler, answer rule and this registration) plus its templates and docs (docs/tasks.md,
"Adding a task").

Reading the registry with :func:`task_defs` (or :func:`get_task`) imports the built-in task
modules first, so low-level modules (specs, templates) can call it lazily without importing
the samplers at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:  # type-only: the registry imports no package module at run time
    from mimicgen.specs.models import BaseTaskSpec

__all__ = [
    "ANSWER_KINDS",
    "TaskDef",
    "get_sampler",
    "get_task",
    "register_task",
    "registered_tasks",
    "task_defs",
    "task_names",
    "task_with_plot",
    "tasks_of_kind",
]

#: How a task's answers are shaped, read from replies, judged, baselined and offered as
#: options (one implementation per kind in scoring and in training options):
#: ``count`` ({"counts": {class: int}}), ``set`` ({"classes": [...]}, F1-scored), ``class``
#: ({"class": name}), ``yesno`` ({"exists": bool, ...}, answer text "yes" / "no").
AnswerKind = Literal["count", "set", "class", "yesno"]
ANSWER_KINDS: tuple[str, ...] = ("count", "set", "class", "yesno")

#: What fills a template's ``<class_id>``: ``classes`` the plural class names ("dogs and
#: cats"), ``article`` one class with its indefinite article ("an apple"), ``category`` the
#: listing node, ``none`` nothing (the templates have no placeholder).
SlotKind = Literal["classes", "article", "category", "none"]


@dataclass(frozen=True)
class TaskDef:
    """Everything the package knows about one task."""

    name: str
    """The ``task`` value of specs and records."""
    sampler: type
    """The :class:`~mimicgen.tasks.shared.TaskSampler` subclass."""
    spec: type[BaseTaskSpec]
    """The spec model (a :class:`~mimicgen.specs.models.BaseTaskSpec` subclass with a
    ``task: Literal[name]`` field)."""
    answer_key: str
    """The key of the structured answer that identifies the task's answer shape."""
    kind: AnswerKind
    """Answer kind (see ``ANSWER_KINDS``)."""
    roles: tuple[str, ...]
    """Image roles the task's records use."""
    slot: SlotKind
    """What fills ``<class_id>`` in its templates (``none``: templates have no placeholder)."""
    order: int
    """Position in reports, tables and listings (smaller first)."""
    label: str = ""
    """Human name for tables and plots (default: the name)."""
    max_new_tokens: int = 16
    """Default generation budget for predictions."""
    breakdowns: tuple[str, ...] = ()
    """Extra report breakdowns beyond every control: ``true_count`` (the summed gold count)."""
    plots: tuple[str, ...] = ()
    """Task-specific figures it feeds (``count_spread_heatmap``, ``accuracy_vs_k``); every task
    feeds the per-task figures (accuracy vs query and total images, the HTML report)."""
    turn_rank: int | None = None
    """Position among the further questions of multi-turn training conversations (None: the
    task is never asked as a further turn)."""
    extra: Callable[..., list[Any]] | None = None
    """Further-turn candidates over a query's images: ``extra(tally, ctx)`` -> ``Ask`` argument
    tuples (see :mod:`mimicgen.tasks.multiturn`)."""
    first_ask: Callable[..., Any] | None = None
    """``first_ask(query, hierarchy)``: the query's own question as an ``Ask`` (None: asked
    open-ended only)."""
    asked: Callable[..., set[tuple[str, str]]] | None = None
    """``asked(query)``: the ``(task, key)`` pairs its own question covers (default: the
    task with an empty key)."""

    @property
    def title(self) -> str:
        return self.label or self.name


_REGISTRY: dict[str, TaskDef] = {}
T = TypeVar("T", bound=type)


def register_task(name: str, **fields: Any) -> Callable[[T], T]:
    """Class decorator registering a sampler class and its task's :class:`TaskDef` fields."""

    def deco(cls: T) -> T:
        old = _REGISTRY.get(name)
        if old is not None and old.sampler.__qualname__ != cls.__qualname__:
            raise ValueError(f"task {name!r} is already registered to {old.sampler!r}")
        spec = fields.get("spec")
        task_field = getattr(spec, "model_fields", {}).get("task")
        if task_field is None or task_field.default != name:
            raise ValueError(f"task {name!r}: its spec model needs task: Literal[{name!r}]")
        _REGISTRY[name] = TaskDef(name=name, sampler=cls, **fields)
        _ORDERED.clear()
        cls.task = name  # type: ignore[attr-defined]
        return cls

    return deco


_ORDERED: list[TaskDef] = []
_LOADED = False


def _load_builtins() -> None:
    global _LOADED
    if not _LOADED:
        import mimicgen.tasks  # noqa: F401  (imports and so registers the built-in task modules)

        _LOADED = True


def task_defs() -> list[TaskDef]:
    """Every registered task, in report order."""
    _load_builtins()
    if len(_ORDERED) != len(_REGISTRY):  # a task registered since the last call
        _ORDERED[:] = sorted(_REGISTRY.values(), key=lambda t: (t.order, t.name))
    return list(_ORDERED)


def task_names() -> tuple[str, ...]:
    """Every registered task name, in report order."""
    return tuple(t.name for t in task_defs())


def task_with_plot(figure: str) -> TaskDef | None:
    """The first registered task (report order) that feeds ``figure``."""
    return next((t for t in task_defs() if figure in t.plots), None)


def tasks_of_kind(kind: str) -> tuple[str, ...]:
    """Registered task names whose answers are of ``kind``, in report order."""
    return tuple(t.name for t in task_defs() if t.kind == kind)


def get_task(name: str) -> TaskDef:
    """The registered task ``name``; KeyError names the known tasks."""
    hit = _REGISTRY.get(name)
    if hit is not None:
        return hit
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(task_names())}") from None


def get_sampler(name: str) -> type:
    """The sampler class registered for ``name``."""
    try:
        return get_task(name).sampler
    except KeyError:
        raise KeyError(
            f"no sampler registered for task {name!r}; known: {sorted(_REGISTRY)}"
        ) from None


def registered_tasks() -> list[str]:
    """Registered task names (sorted)."""
    _load_builtins()
    return sorted(_REGISTRY)
