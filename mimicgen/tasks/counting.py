"""Counting: total recognisable instances of k target classes over n images.

Construction per query (all draws from the query's own generator):

1. n from ``n_images``, k from ``k``; balanced: the per-class total T from ``totals``
   (block-balanced by query number).
2. spread s (query images), split into k positive parts, one per target class; each class is
   drawn uniformly from the pool classes that can fill its part (balanced: some partition of T
   into that many parts exists among the class's countable images).
3. Each query image is countable for its class (every instance recognisable, no group box) and
   holds no annotation of the other targets, so its counts are exact; balanced images realise a
   random feasible partition of T.
4. n - s distractors hold no annotation of any target class.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from mimicgen.registry import register_task
from mimicgen.specs.models import CountingSpec, bounds
from mimicgen.tasks.balance import block_balanced_index
from mimicgen.tasks.derive import AnswerError, ImageFacts, Tally, count_answer
from mimicgen.tasks.multiturn import Ask, Candidate, TurnContext
from mimicgen.tasks.prepared import PreparedIndex
from mimicgen.tasks.query import Query
from mimicgen.tasks.shared import (
    DistractorSampler,
    Draft,
    TaskSampler,
    draw_int,
    draw_n_images,
    random_composition,
)

__all__ = ["CountingSampler", "partitions"]


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
            s_lo, s_hi = bounds(spec.spread) if spec.spread is not None else (1, 10**9)
            s_hi = min(s_hi, bounds(spec.n_images)[1])
            for total in spec.totals:
                spreads = range(s_lo, min(s_hi, total) + 1)
                if not any(self.feasible(total, m)[0].size for m in spreads):
                    raise self.fail(
                        f"no pool class can reach a total of {total} over {s_lo}-"
                        f"{min(s_hi, total)} query images (no such set of countable images); "
                        f"{usable} pool classes have countable images"
                    )

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
        targets: list[int] = []
        groups: list[np.ndarray] = []
        for m in shares:
            if total is not None:
                classes, parts_of = self.feasible(total, m)
                if classes.size == 0:
                    return f"no pool class can split total {total} over {m} images"
                if targets:
                    avail = np.flatnonzero(~np.isin(classes, targets))
                    if avail.size == 0:
                        return f"no pool class can split total {total} over {m} images"
                    j = int(avail[rng.integers(avail.size)])
                else:
                    j = int(rng.integers(classes.size))
                c = int(classes[j])
                parts = parts_of[j][rng.integers(len(parts_of[j]))]
                buckets = self.buckets(c)
                chosen = [
                    buckets[v][rng.choice(buckets[v].size, parts.count(v), replace=False)]
                    for v in sorted(set(parts))
                ]
                imgs = chosen[0] if len(chosen) == 1 else np.concatenate(chosen)
            else:
                avail = self._countable_in(m)
                if targets:
                    avail = avail[~np.isin(self.pool[avail], targets)]
                if avail.size == 0:
                    return f"no pool class has {m} countable images"
                c = int(self.pool[avail[rng.integers(avail.size)]])
                cimgs = prep.countable_images(c, self.group_blocks)[0]
                imgs = cimgs[rng.choice(cimgs.size, m, replace=False)]
            targets.append(c)
            groups.append(imgs)
        for c, imgs in zip(targets, groups, strict=True):
            others = [t for t in targets if t != c]
            if others and not prep.absent_mask(imgs, others).all():
                return "a query image holds another target class"
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
                "total": sum(counts.values()),
            },
            slot="",
            k=k,
            relevant=names,
            zeros=True,
            info={"targets": names},
        )

    def _counts(self, targets: list[int], groups: list[np.ndarray]) -> dict[str, int]:
        """Per target: the sum of its countable counts over its own query images."""
        out = {}
        for c, imgs in zip(targets, groups, strict=True):
            cimgs, ccounts = self.prep.countable_images(c, self.group_blocks)
            out[self.prep.class_names[c]] = int(ccounts[np.searchsorted(cimgs, imgs)].sum())
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
