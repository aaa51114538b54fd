"""No image set twice within a spec (docs/tasks.md, "Distinct image sets").

Query q's first draw comes from its own generator, independent of every other query. Its
final image set is the first of that draw and its redraws (generators
``SeedSequence([seed, q, REDRAW_STREAM, r])``, r = 1..:data:`REDRAWS`) that no earlier query
0..q-1 of the spec holds. So query q depends on the queries before it only through the sets
they took: any split into chunks or ``--shard i/n`` that processes each query after the ones
before it (a shard first replays queries 0..start-1) gives the same queries, and the shards
still concatenate to the unsharded build. Redraws are rare until the pool runs out of distinct
sets; a query whose :data:`REDRAWS` redraws all repeat earlier sets stops the run with a
one-line :class:`~mimicgen.errors.SamplingError` naming the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from mimicgen.errors import SamplingError

__all__ = ["REDRAWS", "REDRAW_STREAM", "DistinctSets", "image_set", "redraw_rng"]

#: Redraws a query gets before the pool counts as out of distinct image sets: when a share p
#: of the sets is taken, all of them repeat with probability p**100 (3e-5 at p = 0.9).
REDRAWS = 100
#: Stream tag of the redraw generators (apart from the first draw's ``[seed, q]``).
REDRAW_STREAM = 0xD15C

T = TypeVar("T")


def image_set(images: Any) -> tuple[Hashable, ...]:
    """The key of a query's images: its source ids, sorted (positions and roles ignored)."""
    return tuple(sorted(i.source_id for i in images))


def redraw_rng(seed: int, q: int, r: int) -> np.random.Generator:
    """Generator of redraw ``r`` (>= 1) of query ``q``."""
    return np.random.default_rng(np.random.SeedSequence([seed, q, REDRAW_STREAM, r]))


@dataclass
class DistinctSets:
    """The image sets taken by queries ``0..next - 1`` of one spec."""

    task: str
    spec_name: str
    num_queries: int
    taken: set[tuple[Hashable, ...]] = field(default_factory=set)
    next: int = 0

    def reset(self) -> None:
        self.taken.clear()
        self.next = 0

    def accept(self, q: int, first: T, key_of: Callable[[T], Any], redraw: Callable[[int], T]) -> T:
        """Query ``q``'s final draw: ``first`` or the first redraw (``redraw(r)``) whose key is
        not taken yet; records it as taken. ``q`` must be ``next``."""
        assert q == self.next, (q, self.next)
        draw, key = first, key_of(first)
        r = 0
        while key in self.taken:
            r += 1
            if r > REDRAWS:
                raise SamplingError(
                    f"{self.task} spec '{self.spec_name}': query {q} found no image set unused "
                    f"by queries 0..{q - 1} in {REDRAWS} redraws ({len(self.taken)} distinct "
                    "image sets so far); no image set repeats within a spec, so the pool gives "
                    f"too few distinct sets for num_queries {self.num_queries}: lower "
                    "num_queries, or widen the class pool, n_images or spread"
                )
            draw = redraw(r)
            key = key_of(draw)
        self.taken.add(key)
        self.next = q + 1
        return draw
