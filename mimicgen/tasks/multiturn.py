"""Further questions over a query's image set, for multi-turn training conversations.

Each candidate is asked only when the answer rules of :mod:`mimicgen.tasks.derive` give one
unambiguous answer for the images as presented, so every extra turn is as provably correct as
the first one. The rules are evaluated here from one per-class tally of the images (the same
results as the derive functions, without a pass per class and an exception per rejection);
``tests/tasks`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mimicgen.sources.base import Hierarchy
from mimicgen.tasks.derive import ImageFacts

__all__ = ["Ask", "category_members", "default_min_members", "extra_asks", "node_index"]


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


_Tables = tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], dict[str, frozenset[str]]]
_TABLES: dict[int, tuple[Hierarchy, _Tables]] = {}


def _tables(hierarchy: Hierarchy) -> _Tables:
    """(class -> nodes above it, node -> names below it, the same as sets), memoised per
    hierarchy object: the tree walk is done once, not once per conversation."""
    hit = _TABLES.get(id(hierarchy))
    if hit is not None and hit[0] is hierarchy:
        return hit[1]
    up: dict[str, list[str]] = {}
    down: dict[str, tuple[str, ...]] = {}
    for node in hierarchy.nodes():
        down[node] = tuple(hierarchy.descendants(node))
        for name in down[node]:
            up.setdefault(name, []).append(node)
    tables = (
        {k: tuple(sorted(v)) for k, v in up.items()},
        down,
        {k: frozenset(v) for k, v in down.items()},
    )
    _TABLES[id(hierarchy)] = (hierarchy, tables)
    return tables


def node_index(hierarchy: Hierarchy) -> dict[str, tuple[str, ...]]:
    """Class name -> the category nodes above it (memoised per hierarchy object)."""
    return _tables(hierarchy)[0]


def category_members(hierarchy: Hierarchy) -> dict[str, tuple[str, ...]]:
    """Category node -> the class names below it (memoised per hierarchy object)."""
    return _tables(hierarchy)[1]


def default_min_members(spec: object) -> int:
    """The spec's ``min_members`` (listing specs), else the listing default: the smallest
    category a listing turn may ask about, in every conversation of the spec."""
    from mimicgen.specs.models import ListingSpec

    value = getattr(spec, "min_members", None)
    return int(value if value is not None else ListingSpec.model_fields["min_members"].default)


class _Tally:
    """Per class over a query's images: presence, recognisability and countability, gathered
    in one pass so every candidate question reads its answer from here."""

    __slots__ = ("n", "present", "recognisable", "totals")

    def __init__(self, facts: Sequence[ImageFacts], group_blocks_counting: bool) -> None:
        self.n = len(facts)
        # Per class (first-seen order, as in the derive functions): images where it is
        # present, images where it is recognisable, and its recognisable instances (None when
        # some image cannot count it).
        present: dict[str, int] = {}
        recognisable: dict[str, int] = {}
        totals: dict[str, int | None] = {}
        for f in facts:
            for c, fact in f.items():
                rec = fact.n_recognisable
                if c in present:
                    present[c] += 1
                    recognisable[c] += rec > 0
                else:
                    present[c] = 1
                    recognisable[c] = int(rec > 0)
                    totals[c] = 0
                # ClassFact.countable, inlined: every instance recognisable, no group box.
                total = totals[c]
                if total is not None:
                    ok = rec > 0 and not fact.n_small
                    ok = ok and not (group_blocks_counting and fact.n_group)
                    totals[c] = total + rec if ok else None
        self.present, self.recognisable, self.totals = present, recognisable, totals

    def common(self) -> str | None:
        """:func:`~mimicgen.tasks.derive.common_answer`, or None where it raises."""
        n = self.n
        in_all = [c for c, p in self.present.items() if p == n]
        if n < 2 or len(in_all) != 1 or self.recognisable[in_all[0]] != n:
            return None
        return in_all[0]

    def odd_one(self) -> str | None:
        """:func:`~mimicgen.tasks.derive.odd_one_answer` (minority 1), or None where it
        raises."""
        n = self.n
        if n < 3:
            return None
        odd = None
        rec = self.recognisable
        for c, p in self.present.items():
            r = rec[c]
            if p == 1 and r == 1:
                if odd is not None:
                    return None
                odd = c
            elif not (2 * p > n and (r == 0 or 2 * r > n)):
                return None
        return odd

    def listing(self, members: frozenset[str]) -> tuple[str, ...] | None:
        """:func:`~mimicgen.tasks.derive.listing_answer`, or None where it raises."""
        seen = []
        for c, r in self.recognisable.items():
            if c in members:
                if r == 0:
                    return None  # present only ambiguously
                seen.append(c)
        return tuple(sorted(seen)) if seen else None


def extra_asks(
    facts: Sequence[ImageFacts],
    hierarchy: Hierarchy,
    exclude: set[tuple[str, str]],
    rng: np.random.Generator,
    n: int,
    group_blocks_counting: bool = True,
    min_members: int = 2,
) -> list[Ask]:
    """Up to ``n`` distinct further questions answerable from ``facts``.

    ``exclude`` holds ``(task, key)`` pairs already asked (key: class or category), so a
    conversation never repeats a question. Candidates are shuffled by ``rng``. Listing asks
    only about nodes with at least ``min_members`` member classes (as the listing sampler
    does): COCO ``person`` is its own only member, so its "sub-categories" give the answer
    away.
    """
    if n <= 0:
        return []
    tally = _Tally(facts, group_blocks_counting)
    present = sorted(tally.present)
    # Candidates as argument tuples of Ask; only the (at most n) drawn ones become objects.
    cands: list[
        tuple[str, int | str | tuple[str, ...], tuple[str, ...], str | None, tuple[str, ...]]
    ]
    cands = [
        ("counting", total, (c,), None, ())
        for c in present
        if (total := tally.totals[c]) is not None and ("counting", c) not in exclude
    ]
    if ("common", "") not in exclude:
        ans = tally.common()
        if ans is not None:
            cands.append(("common", ans, (), None, ()))
    if ("odd_one", "") not in exclude:
        ans = tally.odd_one()
        if ans is not None:
            cands.append(("odd_one", ans, (), None, ()))
    ups, downs, sets = _tables(hierarchy)
    nodes = sorted({p for c in present for p in ups.get(c, ()) if len(downs[p]) >= min_members})
    if nodes:
        node = nodes[int(rng.integers(len(nodes)))]
        if ("listing", node) not in exclude:
            listed = tally.listing(sets[node])
            if listed is not None:
                cands.append(("listing", listed, (), node, downs[node]))
    order = rng.permutation(len(cands))
    return [Ask(*cands[i]) for i in order[:n].tolist()]
