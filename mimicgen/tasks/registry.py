"""Task registry: ``@register_task("counting")`` maps a task name to its sampler class."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["get_sampler", "register_task", "registered_tasks"]

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_task(name: str) -> Callable[[T], T]:
    """Class decorator registering a :class:`~mimicgen.tasks.shared.TaskSampler` subclass."""

    def deco(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"task {name!r} is already registered to {_REGISTRY[name]!r}")
        _REGISTRY[name] = cls
        cls.task = name  # type: ignore[attr-defined]
        return cls

    return deco


def get_sampler(name: str) -> type:
    """The sampler class registered for ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"no sampler registered for task {name!r}; known: {sorted(_REGISTRY)}"
        ) from None


def registered_tasks() -> list[str]:
    return sorted(_REGISTRY)
