"""Further questions over a query's image set, for multi-turn training conversations.

Each candidate is asked only when the pure answer functions of :mod:`mimicgen.tasks.derive`
give one unambiguous answer for the images as presented, so every extra turn is as provably
correct as the first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mimicgen.sources.base import Hierarchy
from mimicgen.tasks.derive import (
    AnswerError,
    ImageFacts,
    common_answer,
    listing_answer,
    odd_one_answer,
)

__all__ = ["Ask", "extra_asks", "node_index"]


@dataclass(frozen=True)
class Ask:
    """One question to put to the model, before wording: what is asked and its answer."""

    task: str
    """``counting`` | ``common`` | ``odd_one`` | ``listing``."""
    answer: int | str | tuple[str, ...]
    """Count, class name, or sorted member classes."""
    classes: tuple[str, ...] = ()
    """Counting: the class counted."""
    category: str | None = None
    """Listing: the category node."""
    members: tuple[str, ...] = field(default=(), repr=False)
    """Listing: every member class of the category (for distractor options)."""


_TABLES: dict[int, tuple[Hierarchy, dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]] = {}


def _tables(hierarchy: Hierarchy) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(class -> nodes above it, node -> names below it), memoised per hierarchy object: the
    tree walk is done once, not once per conversation."""
    hit = _TABLES.get(id(hierarchy))
    if hit is not None and hit[0] is hierarchy:
        return hit[1], hit[2]
    up: dict[str, list[str]] = {}
    down: dict[str, tuple[str, ...]] = {}
    for node in hierarchy.nodes():
        down[node] = tuple(hierarchy.descendants(node))
        for name in down[node]:
            up.setdefault(name, []).append(node)
    table = {k: tuple(sorted(v)) for k, v in up.items()}
    _TABLES[id(hierarchy)] = (hierarchy, table, down)
    return table, down


def node_index(hierarchy: Hierarchy) -> dict[str, tuple[str, ...]]:
    """Class name -> the category nodes above it (memoised per hierarchy object)."""
    return _tables(hierarchy)[0]


def _count(facts: Sequence[ImageFacts], c: str, group_blocks_counting: bool) -> int | None:
    """``count_answer(facts, [c])[c]``, or None where that raises: the same rule
    (:meth:`ClassFact.countable`) without building an exception per uncountable class."""
    total = 0
    for f in facts:
        fact = f.get(c)
        if fact is None:
            continue
        if not fact.countable(group_blocks_counting):
            return None
        total += fact.n_recognisable
    return total


def extra_asks(
    facts: Sequence[ImageFacts],
    hierarchy: Hierarchy,
    exclude: set[tuple[str, str]],
    rng: np.random.Generator,
    n: int,
    group_blocks_counting: bool = True,
) -> list[Ask]:
    """Up to ``n`` distinct further questions answerable from ``facts``.

    ``exclude`` holds ``(task, key)`` pairs already asked (key: class or category), so a
    conversation never repeats a question. Candidates are shuffled by ``rng``.
    """
    if n <= 0:
        return []
    present = sorted({c for f in facts for c in f})
    cands: list[Ask] = []
    for c in present:
        if ("counting", c) in exclude:
            continue
        total = _count(facts, c, group_blocks_counting)
        if total is not None:
            cands.append(Ask("counting", total, classes=(c,)))
    if len(facts) >= 2 and ("common", "") not in exclude:
        try:
            cands.append(Ask("common", common_answer(facts)))
        except AnswerError:
            pass
    if len(facts) >= 3 and ("odd_one", "") not in exclude:
        try:
            cands.append(Ask("odd_one", odd_one_answer(facts)))
        except AnswerError:
            pass
    ups, downs = _tables(hierarchy)
    nodes = sorted({p for c in present for p in ups.get(c, ())})
    if nodes:
        node = nodes[int(rng.integers(len(nodes)))]
        if ("listing", node) not in exclude:
            members = downs[node]
            try:
                ans = tuple(listing_answer(facts, members))
                cands.append(Ask("listing", ans, category=node, members=members))
            except AnswerError:
                pass
    order = rng.permutation(len(cands))
    return [cands[i] for i in order[:n]]
