"""Further questions over a query's image set, for multi-turn training conversations.

Each candidate is asked only when the answer rules of :mod:`mimicgen.tasks.derive` give one
unambiguous answer for the images as presented, so every extra turn is as provably correct as
the first one. The rules are read from one per-class :class:`~mimicgen.tasks.derive.Tally` of the
images (the oracle the samplers' re-check uses, without a pass per class and an exception per
rejection); each task contributes its candidates through its registry entry
(:attr:`~mimicgen.registry.TaskDef.extra`), in its ``turn_rank`` order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mimicgen.registry import get_task, task_defs
from mimicgen.sources.base import Hierarchy
from mimicgen.tasks.derive import ImageFacts, Tally

__all__ = [
    "Ask",
    "Candidate",
    "TurnContext",
    "category_members",
    "category_tables",
    "default_min_members",
    "extra_asks",
    "node_index",
]


@dataclass(frozen=True)
class Ask:
    """One question to put to the model, before wording: what is asked and its answer."""

    task: str
    """A registered task name."""
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


def category_tables(hierarchy: Hierarchy) -> _Tables:
    """(class -> nodes above it, node -> names below it, the same as sets), memoised."""
    return _tables(hierarchy)


def node_index(hierarchy: Hierarchy) -> dict[str, tuple[str, ...]]:
    """Class name -> the category nodes above it (memoised per hierarchy object)."""
    return _tables(hierarchy)[0]


def category_members(hierarchy: Hierarchy) -> dict[str, tuple[str, ...]]:
    """Category node -> the class names below it (memoised per hierarchy object)."""
    return _tables(hierarchy)[1]


def default_min_members(spec: object) -> int:
    """The spec's ``min_members`` (listing specs), else the listing default: the smallest
    category a listing turn may ask about, in every conversation of the spec."""
    value = getattr(spec, "min_members", None)
    if value is None:
        value = get_task("listing").spec.model_fields["min_members"].default
    return int(value)


@dataclass(frozen=True)
class TurnContext:
    """What a task's further-turn candidates may read besides the tally (see
    :attr:`~mimicgen.registry.TaskDef.extra`)."""

    present: list[str]
    """Classes present in any image (sorted)."""
    exclude: set[tuple[str, str]]
    """``(task, key)`` pairs already asked."""
    rng: np.random.Generator
    hierarchy: Hierarchy
    min_members: int


#: An ``Ask``'s arguments: (task, answer, classes, category, members).
Candidate = tuple[str, int | str | tuple[str, ...], tuple[str, ...], str | None, tuple[str, ...]]


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
    tally = Tally(facts, group_blocks_counting)
    ctx = TurnContext(sorted(tally.present), exclude, rng, hierarchy, min_members)
    # Tasks in their turn order; a task's candidates may draw from ``rng`` (listing: its node).
    cands: list[Candidate] = []
    for task in sorted(
        (t for t in task_defs() if t.turn_rank is not None and t.extra is not None),
        key=lambda t: t.turn_rank,  # type: ignore[arg-type,return-value]
    ):
        cands.extend(task.extra(tally, ctx))  # type: ignore[misc]
    order = rng.permutation(len(cands))
    return [Ask(*cands[i]) for i in order[:n].tolist()]
