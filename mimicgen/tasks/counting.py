"""Counting: total recognisable instances of k target classes over n images.

Construction per query (all draws from the query's own generator):

1. n from ``n_images``, k from ``k``; balanced: the per-class total T from ``totals``
   (block-balanced by query number).
2. spread s (query images), split into k positive parts, one per target class; each class is
   drawn uniformly from the pool classes that can fill its part (balanced: some partition of T
   into that many parts exists among the class's countable images).
3. Each query image is countable for every target it holds (every instance recognisable, no
   group box), so its counts are exact. k = 1: the images realise a random feasible partition
   of T. k > 1: an image may hold several targets. Target j's part are images that hold it and
   none of targets 1..j-1 (absent, verified in OpenImages strict mode), and each later target
   either countably or not at all; the instances of target j already in the images of targets
   1..j-1 count towards its total, and its own images realise a random partition of the rest.
4. n - s distractors hold no annotation of any target class.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from mimicgen.registry import register_task
from mimicgen.specs.models import (
    BaseTaskSpec,
    IntRange,
    bounds,
    check_fits,
    check_range,
    check_within,
)
from mimicgen.tasks.balance import block_balanced_index
from mimicgen.tasks.derive import AnswerError, ImageFacts, Tally, count_answer
from mimicgen.tasks.multiturn import Ask, Candidate, TurnContext
from mimicgen.tasks.prepared import PreparedIndex, in_sorted
from mimicgen.tasks.query import Query
from mimicgen.tasks.shared import (
    DistractorSampler,
    Draft,
    TaskSampler,
    draw_int,
    draw_n_images,
    random_composition,
)

__all__ = ["CountingSampler", "CountingSpec", "partitions"]


class CountingSpec(BaseTaskSpec):
    """Counting: how many instances of k target classes are in the images."""

    task: Literal["counting"] = "counting"

    k: IntRange = 1
    """Number of target classes named in one question."""

    spread: IntRange | None = None
    """Query images holding the target instances (the rest are distractors); ``None``: any
    feasible value from ``k`` (balanced: up to the total) to ``n_images``."""

    balanced: bool = True
    """Balanced: each class's total is fixed per query (from ``totals``) and split over the
    query images; unbalanced: whatever the sampled query images hold."""

    totals: tuple[int, ...] = (2, 3, 4)
    """Balanced only: per-class totals; query q uses a seeded, block-balanced pick from this list,
    so every value is used equally often."""

    max_total: int | None = Field(None, ge=1)
    """Unbalanced only: reject samples whose per-class total exceeds this."""

    @model_validator(mode="after")
    def _consistent(self) -> CountingSpec:
        check_range("k", self.k)
        check_range("spread", self.spread)
        check_fits("spread", self.spread, self.n_images)
        check_fits("k", self.k, self.n_images)
        check_within("k", self.k, 1, self.n_images, "1..n_images")
        check_within("spread", self.spread, bounds(self.k)[0], self.n_images, "k..n_images")
        if self.balanced:
            if not self.totals or min(self.totals) < 1:
                raise ValueError("balanced counting needs totals, each >= 1")
            if self.max_total is not None:
                raise ValueError("max_total applies to unbalanced counting only")
        return self


def _split(
    rng: np.random.Generator, imgs: np.ndarray, counts: np.ndarray, need: int, m: int
) -> np.ndarray | str:
    """``m`` distinct images among ``imgs`` whose ``counts`` sum to ``need``: a random
    partition of ``need`` into ``m`` parts that the images can realise, then images per part."""
    if need < m:
        return f"earlier targets' images leave {need} instances of a target for {m} images"
    sizes = np.bincount(counts[counts <= need], minlength=need + 1)
    ok = [p for p in partitions(need, m) if all(sizes[v] >= p.count(v) for v in set(p))]
    if not ok:
        return f"no {m} images split a total of {need}"
    parts = ok[int(rng.integers(len(ok)))]
    chosen = []
    for v in sorted(set(parts)):
        bucket = imgs[counts == v]
        chosen.append(bucket[rng.choice(bucket.size, parts.count(v), replace=False)])
    return chosen[0] if len(chosen) == 1 else np.concatenate(chosen)


@cache
def partitions(total: int, parts: int, largest: int | None = None) -> tuple[tuple[int, ...], ...]:
    """All partitions of ``total`` into exactly ``parts`` positive parts, non-increasing."""
    largest = total if largest is None else largest
    if parts == 0:
        return ((),) if total == 0 else ()
    out: list[tuple[int, ...]] = []
    for first in range(min(largest, total - parts + 1), 0, -1):
        for rest in partitions(total - first, parts - 1, first):
            out.append((first, *rest))
    return tuple(out)


def _extra(tally: Tally, ctx: TurnContext) -> list[Candidate]:
    """Further turns: the count of every class present that every image can count."""
    return [
        ("counting", total, (c,), None, ())
        for c in ctx.present
        if (total := tally.totals[c]) is not None and ("counting", c) not in ctx.exclude
    ]


def _first_ask(query: Query, hierarchy: object) -> Ask | None:
    """One class: asked open-ended or with options; k > 1: open-ended only."""
    counts = query.answer["counts"]
    if len(counts) != 1:
        return None
    ((cls, n),) = counts.items()
    return Ask("counting", int(n), classes=(cls,))


def _asked(query: Query) -> set[tuple[str, str]]:
    return {("counting", c) for c in query.answer["counts"]}


@register_task(
    "counting",
    spec=CountingSpec,
    answer_key="counts",
    kind="count",
    roles=("query", "distractor"),
    slot="classes",
    order=10,
    breakdowns=("true_count",),
    plots=("count_spread_heatmap", "accuracy_vs_k"),
    turn_rank=10,
    extra=_extra,
    first_ask=_first_ask,
    asked=_asked,
)
class CountingSampler(TaskSampler):
    spec: CountingSpec

    def __init__(self, spec: CountingSpec, prep: PreparedIndex) -> None:
        super().__init__(spec, prep)
        self.distractors = DistractorSampler(prep)
        self.n_countable = np.array(
            [prep.countable_images(int(c), self.group_blocks)[0].size for c in self.pool]
        )
        usable = int((self.n_countable > 0).sum())
        k_lo = bounds(spec.k)[0]
        if usable < k_lo:
            raise self.fail(
                f"k={k_lo} target classes needed but only {usable} of {self.pool.size} pool "
                "classes have an image where they can be counted (all instances recognisable, "
                "no group box)"
            )
        self._buckets: dict[int, dict[int, np.ndarray]] = {}
        self._countable: dict[int, np.ndarray] = {}
        self._feasible: dict[tuple[int, int], tuple[np.ndarray, list[list[tuple[int, ...]]]]] = {}
        if spec.balanced:
            for total in spec.totals:
                self._check_total(total, usable)

    def _check_total(self, total: int, usable: int) -> None:
        """Refuse a balanced total no query can reach (necessary conditions only).

        k = 1: the spread's images each hold >= 1 instance, so some class must split the total
        over a spread in ``[spread_min, min(spread_max, total)]``. k > 1: every target reaches
        the total over 1..total of its own countable images (an image may hold several
        targets), so k pool classes must each split it over some number of images, and the
        spread can be at most k * total.
        """
        spec = self.spec
        n_hi = bounds(spec.n_images)[1]
        k_lo, k_hi = bounds(spec.k)
        s_lo, s_hi = bounds(spec.spread) if spec.spread is not None else (k_lo, n_hi)
        s_hi = min(s_hi, n_hi)
        why = ""
        for k in range(k_lo, min(k_hi, n_hi) + 1):
            lo, hi = max(s_lo, k), min(s_hi, k * total)
            if lo > s_hi:
                why = (
                    f"k={k} target classes need a spread of at least {k}, spread is at most {s_hi}"
                )
                continue
            if lo > hi:
                why = (
                    f"k={k} target class(es) with a total of {total} each fill at most "
                    f"{k * total} query images (each holds >= 1 target instance), but the "
                    f"spread is at least {lo}"
                )
                continue
            if k == 1:
                spreads = range(lo, hi + 1)
                if any(self.feasible(total, m)[0].size for m in spreads):
                    return
                span = f"{lo}" if lo == hi else f"{lo}-{hi}"
                why = (
                    f"no pool class can reach a total of {total} over {span} query images "
                    f"(no such set of countable images); {usable} pool classes have "
                    "countable images"
                )
                continue
            m_hi = min(total, hi - k + 1)
            able = np.unique(
                np.concatenate([self.feasible(total, m)[0] for m in range(1, m_hi + 1)])
            )
            if able.size >= k:
                return
            why = (
                f"k={k} target classes must each reach a total of {total} over 1-{m_hi} of "
                f"their countable images, but only {able.size} of {self.pool.size} pool "
                "classes can"
            )
        raise self.fail(why)

    # --- balanced helpers ------------------------------------------------------------------
    def buckets(self, c: int) -> dict[int, np.ndarray]:
        """Countable images of class ``c`` by exact count (counts up to the largest total)."""
        if c not in self._buckets:
            imgs, counts = self.prep.countable_images(c, self.group_blocks)
            top = max(self.spec.totals)
            self._buckets[c] = {v: imgs[counts == v] for v in range(1, top + 1)}
        return self._buckets[c]

    def feasible(self, total: int, m: int) -> tuple[np.ndarray, list[list[tuple[int, ...]]]]:
        """Pool classes that can split ``total`` over ``m`` images, and their partitions."""
        key = (total, m)
        if key not in self._feasible:
            classes, parts_of = [], []
            for c, n_cnt in zip(self.pool.tolist(), self.n_countable.tolist(), strict=True):
                if n_cnt < m:
                    continue
                sizes = {v: b.size for v, b in self.buckets(c).items()}
                ok = [
                    p
                    for p in partitions(total, m)
                    if all(sizes.get(v, 0) >= p.count(v) for v in set(p))
                ]
                if ok:
                    classes.append(c)
                    parts_of.append(ok)
            self._feasible[key] = (np.array(classes, dtype=np.int64), parts_of)
        return self._feasible[key]

    def _countable_in(self, m: int) -> np.ndarray:
        """Pool positions of the classes countable in at least ``m`` images (memoised)."""
        if m not in self._countable:
            self._countable[m] = np.flatnonzero(self.n_countable >= m)
        return self._countable[m]

    # --- sampling --------------------------------------------------------------------------
    def draw(self, q: int, rng: np.random.Generator, attempt: int) -> Draft | str:
        spec, prep = self.spec, self.prep
        n = draw_n_images(rng, spec)
        k = draw_int(rng, spec.k, cap=n)
        if k is None:
            return "k exceeds n_images"
        total = None
        if spec.balanced:
            total = spec.totals[block_balanced_index(spec.seed, q, len(spec.totals))]
        s_lo, s_hi = bounds(spec.spread) if spec.spread is not None else (k, n)
        s_hi = min(s_hi, n, k * total if total is not None else n)
        s_lo = max(s_lo, k)
        if s_lo > s_hi:
            return f"no spread fits k={k}, n_images={n}, total={total}"
        if total is not None and k == 1:
            # Draw only spreads some class can realise, so attempts are not wasted.
            spreads = [m for m in range(s_lo, s_hi + 1) if self.feasible(total, m)[0].size]
            if not spreads:
                return f"no pool class can split total {total} over {s_lo}-{s_hi} images"
            s = spreads[int(rng.integers(len(spreads)))]
        else:
            s = int(rng.integers(s_lo, s_hi + 1))
        shares = random_composition(rng, s, k) if k > 1 else [s]
        if k == 1:
            drawn = self._single(rng, shares[0], total)
        else:
            drawn = self._several(rng, shares, total)
        if isinstance(drawn, str):
            return drawn
        targets, groups = drawn
        query_list = [int(i) for g in groups for i in g.tolist()]
        if len(set(query_list)) != len(query_list):
            return "an image was drawn twice"
        distract = self.distractors.sample(rng, targets, n - s)
        if isinstance(distract, str):
            return distract
        names = [prep.class_names[c] for c in targets]
        counts = self._counts(targets, groups)
        if spec.max_total is not None and max(counts.values()) > spec.max_total:
            return f"a total exceeds max_total {spec.max_total}"
        answer_text = (
            str(counts[names[0]]) if k == 1 else ", ".join(f"{c}: {counts[c]}" for c in names)
        )
        return Draft(
            images=query_list + distract.tolist(),
            roles=["query"] * s + ["distractor"] * (n - s),
            answer={"counts": counts},
            answer_text=answer_text,
            controls={
                "n_images": n,
                "k": k,
                "spread": s,
                "distractors": n - s,
                "balanced": spec.balanced,
                # total: every target's instances together (k * T when balanced);
                # total_per_class: balanced only, each target's own total T.
                **({"total_per_class": total} if total is not None else {}),
                "total": sum(counts.values()),
            },
            slot="",
            k=k,
            relevant=names,
            zeros=True,
            info={"targets": names},
        )

    def _single(
        self, rng: np.random.Generator, m: int, total: int | None
    ) -> tuple[list[int], list[np.ndarray]] | str:
        """k = 1: one target class and its ``m`` query images."""
        if total is not None:
            classes, parts_of = self.feasible(total, m)
            if classes.size == 0:
                return f"no pool class can split total {total} over {m} images"
            j = int(rng.integers(classes.size))
            c = int(classes[j])
            parts = parts_of[j][rng.integers(len(parts_of[j]))]
            buckets = self.buckets(c)
            chosen = [
                buckets[v][rng.choice(buckets[v].size, parts.count(v), replace=False)]
                for v in sorted(set(parts))
            ]
            imgs = chosen[0] if len(chosen) == 1 else np.concatenate(chosen)
            return [c], [imgs]
        avail = self._countable_in(m)
        if avail.size == 0:
            return f"no pool class has {m} countable images"
        c = int(self.pool[avail[rng.integers(avail.size)]])
        cimgs = self.prep.countable_images(c, self.group_blocks)[0]
        return [c], [cimgs[rng.choice(cimgs.size, m, replace=False)]]

    def _several(
        self, rng: np.random.Generator, shares: list[int], total: int | None
    ) -> tuple[list[int], list[np.ndarray]] | str:
        """k > 1: the targets (share j's class drawn among those that can fill it alone), then
        each target's own images, which may hold later targets too (module docstring, 3)."""
        targets: list[int] = []
        for m in shares:
            if total is not None:
                classes = self.feasible(total, m)[0]
            else:
                classes = self.pool[self._countable_in(m)]
            if targets:
                classes = classes[~np.isin(classes, targets)]
            if classes.size == 0:
                if total is not None:
                    return f"no pool class can split total {total} over {m} images"
                return f"no pool class has {m} countable images"
            targets.append(int(classes[rng.integers(classes.size)]))
        carried = np.zeros(len(targets), dtype=np.int64)  # instances in earlier parts' images
        groups: list[np.ndarray] = []
        for j, (c, m) in enumerate(zip(targets, shares, strict=True)):
            imgs, counts = self._candidates(targets, j)
            if total is None:
                if imgs.size < m:
                    return f"only {imgs.size} images can hold the part of target {j + 1}"
                chosen = imgs[rng.choice(imgs.size, m, replace=False)]
            else:
                picked = _split(rng, imgs, counts, int(total - carried[j]), m)
                if isinstance(picked, str):
                    return picked
                chosen = picked
            for later in range(j + 1, len(targets)):
                limgs, lcounts = self.prep.countable_images(targets[later], self.group_blocks)
                held = in_sorted(limgs, chosen)
                carried[later] += int(lcounts[np.searchsorted(limgs, chosen[held])].sum())
            groups.append(chosen)
        return targets, groups

    def _candidates(self, targets: list[int], j: int) -> tuple[np.ndarray, np.ndarray]:
        """Images target ``j``'s own part may use, with their counts of it: countable for it,
        absent for the earlier targets, countable or absent for the later ones."""
        prep = self.prep
        imgs, counts = prep.countable_images(targets[j], self.group_blocks)
        ok = np.ones(imgs.size, dtype=bool)
        for t in targets[:j]:
            ok &= prep.absent_mask(imgs, [t])
        for t in targets[j + 1 :]:
            later = prep.countable_images(t, self.group_blocks)[0]
            ok &= in_sorted(later, imgs) | prep.absent_mask(imgs, [t])
        return imgs[ok], counts[ok]

    def _counts(self, targets: list[int], groups: list[np.ndarray]) -> dict[str, int]:
        """Per target: the sum of its countable counts over every query image (an image holds
        each target countably or not at all)."""
        out = {}
        every = np.concatenate(groups)
        for c in targets:
            cimgs, ccounts = self.prep.countable_images(c, self.group_blocks)
            held = in_sorted(cimgs, every)
            out[self.prep.class_names[c]] = int(ccounts[np.searchsorted(cimgs, every[held])].sum())
        return out

    def verify(self, draft: Draft, facts: Sequence[ImageFacts]) -> None:
        targets = draft.info["targets"]
        counts = count_answer(facts, targets, self.group_blocks)
        if counts != draft.answer["counts"]:
            raise AnswerError(f"recount {counts} != sampled {draft.answer['counts']}")
        for role, f in zip(draft.roles, facts, strict=True):
            held = [t for t in targets if t in f]
            if role == "distractor" and held:
                raise AnswerError(f"distractor holds target {held}")
            if role == "query" and not held:
                raise AnswerError("query image holds no target")

    def candidate_summary(self) -> str:
        usable = int((self.n_countable > 0).sum())
        return (
            f"{usable} of {self.pool.size} pool classes have countable images "
            f"(max {int(self.n_countable.max()) if self.n_countable.size else 0} per class)"
        )
