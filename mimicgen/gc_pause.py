"""Pausing Python's cyclic garbage collector around bulk work on millions of small objects.

Queries, records and per-sample results hold no reference cycles (reference counting frees
them), but every full collection rescans every live container, which made sampling ~40% slower
and loading/scoring superlinear in the number of records.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused(freeze: bool = False) -> Iterator[None]:
    """Disable the cyclic collector inside the block (restored on exit if it was enabled).

    ``freeze``: on exit move the survivors to the permanent generation (``gc.freeze``), so later
    collections skip the objects the block built and keeps (a loaded benchmark, say).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
