"""Progress bars (rich) for anything that can take more than a second."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["counter", "progress_enabled", "status", "track"]

T = TypeVar("T")


def progress_enabled() -> bool:
    """Bars go to stderr only on a terminal; MIMICGEN_PROGRESS=0/1 forces them off/on."""
    forced = os.environ.get("MIMICGEN_PROGRESS")
    if forced is not None:
        return forced not in ("0", "false", "")
    return sys.stderr.isatty()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar showing count, elapsed time and ETA."""
    if not progress_enabled():
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def status(description: str) -> Iterator[None]:
    """Spinner with elapsed time for one long step that has no item count (e.g. a polars query)."""
    if not progress_enabled():
        yield
        return
    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        bar.add_task(description, total=None)
        yield


class _RateColumn(ProgressColumn):
    """Items per second (rich's speed estimate over its recent window)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-" if speed is None else f"{speed:.2f} {self.unit}/s")


@contextmanager
def counter(description: str, total: int, unit: str = "q") -> Iterator[Callable[[int], None]]:
    """A bar for work that finishes out of order or in batches: yields ``advance(n)``; shows
    count, rate (``unit``/s), elapsed time and ETA."""
    if not progress_enabled():
        yield lambda n: None
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
