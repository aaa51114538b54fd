"""Odd-one: the class present in a minority of the images.

Answer rule (see :func:`mimicgen.tasks.derive.odd_one_answer`): the odd class is present in
exactly m images, recognisable in each and absent (no annotation) in the others; every other
class present anywhere is present in a strict majority and recognisable in a strict majority or
nowhere, so the answer is unique under both presence readings.

Construction per query, after drawing N and the answer class a (block-balanced or uniform):

* *signature* proposal: each image's set of present classes is hashed (XOR of per-class random
  64-bit keys). An odd image I recognisably holding a gives the context set S = classes(I) - {a};
  the majority images are drawn from images whose class set is exactly S, so every context class
  is in all N images. Candidate rows are precomputed once, so a query costs a few lookups.
* *anchor* proposal (used when no signature group is large enough, e.g. tiny sources): the
  majority images are drawn from images holding a random context class of I.

Both are re-checked with the full rule before a query is emitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from mimicgen.registry import register_task
from mimicgen.specs.models import BaseTaskSpec, IntRange, bounds
from mimicgen.tasks.common_task import pick_answer_class
from mimicgen.tasks.derive import AnswerError, ImageFacts, Tally, odd_one_answer
from mimicgen.tasks.multiturn import Candidate, TurnContext
from mimicgen.tasks.prepared import PreparedIndex, narrow, rows_of_images
from mimicgen.tasks.shared import Draft, TaskSampler, draw_n_images

__all__ = ["OddOneSampler", "OddOneSpec"]

_ANCHOR_CANDIDATES = 256  # majority candidates examined per anchor proposal
_KEY_SEED = 0x0DD0E  # fixed: signature keys are an implementation detail, not a random choice


class OddOneSpec(BaseTaskSpec):
    """Odd-one: the class present in a minority of images while every other class is in a
    strict majority."""

    task: Literal["odd_one"] = "odd_one"

    n_images: IntRange = (4, 6)
    """Images per query (more than twice ``minority``)."""

    minority: int = Field(1, ge=1)
    """Number of images holding the odd class (must be a strict minority)."""

    balance_answers: bool = True
    """As for common: block-balanced answer classes over the pool."""

    @model_validator(mode="after")
    def _consistent(self) -> OddOneSpec:
        if 2 * self.minority >= bounds(self.n_images)[0]:
            raise ValueError(
                f"minority {self.minority} is not a strict minority of n_images "
                f"minimum {bounds(self.n_images)[0]}; need n_images > 2 * minority"
            )
        return self


class _SignatureTable:
    """Images grouped by a hash of their class set, and the candidate odd rows.

    ``key_rec``/``key_other`` are the per-class keys used for a class that is recognisable /
    only present in an image. With the same key for both, the hash is the plain set of present
    classes; with different keys it also fixes which classes are recognisable, so a majority
    drawn from one group agrees on recognisability and always passes the strict re-check.
    """

    def __init__(
        self,
        prep: PreparedIndex,
        pool: np.ndarray,
        m: int,
        key_rec: np.ndarray,
        key_other: np.ndarray,
    ) -> None:
        lens = np.diff(prep.img_offsets)
        pair_key = np.where(prep.pair_rec > 0, key_rec[prep.pair_cls], key_other[prep.pair_cls])
        sig = np.zeros(lens.size, dtype=np.int64)
        nonempty = np.flatnonzero(lens > 0)
        if nonempty.size:
            sig[nonempty] = np.bitwise_xor.reduceat(pair_key, prep.img_offsets[nonempty])
        known = np.zeros(lens.size, dtype=bool)
        known[prep.image_ids] = True
        sig[~known] = 0
        self.sig = sig
        self.order = np.argsort(sig, kind="stable")
        self.sorted = sig[self.order]
        # Distinct signatures and their group sizes: one lookup per value instead of two
        # searchsorted calls over every image.
        self._uniq, inverse, self._counts = np.unique(
            self.sorted, return_inverse=True, return_counts=True
        )
        img_size = np.empty(sig.size, dtype=np.int64)
        img_size[self.order] = self._counts[inverse]
        # Candidate odd rows: (image, answer class) pairs recognisable, class in the pool, with
        # at least m images sharing the odd image's signature, and some context.
        in_pool = np.zeros(len(prep.class_names), dtype=bool)
        in_pool[pool] = True
        rows = np.flatnonzero((prep.pair_rec > 0) & in_pool[prep.pair_cls])
        rows = rows[lens[prep.pair_img[rows]] >= 2]
        if m > 1:  # every image shares its signature with itself: a no-op for m = 1
            rows = rows[img_size[prep.pair_img[rows]] >= m]
        ctx = sig[prep.pair_img[rows]] ^ pair_key[rows]
        n_ctx = self.group_size(ctx)
        # Per class, rows sorted by context group size (descending): the rows usable for a
        # query of N images are then a prefix, found with one searchsorted.
        order = np.lexsort((-n_ctx, narrow(prep.pair_cls[rows])))
        self.rows, self.ctx, self.neg_n_ctx = rows[order], ctx[order], -n_ctx[order]
        cls_sorted = prep.pair_cls[self.rows]
        # First row of each class (the rows are sorted by class).
        starts = np.flatnonzero(np.diff(cls_sorted, prepend=-1))
        uniq = cls_sorted[starts]
        ends = np.append(starts[1:], cls_sorted.size)[: uniq.size]
        self.span = {int(c): (int(a), int(b)) for c, a, b in zip(uniq, starts, ends, strict=True)}
        self.prep = prep
        # Non-empty class sets shared by several images (majority groups for odd images that
        # hold nothing but the odd class).
        keep = (self._uniq != 0) & (self._counts >= 2)
        self.groups, self.group_sizes = self._uniq[keep], self._counts[keep]

    def group_size(self, values: np.ndarray) -> np.ndarray:
        """How many images have each signature in ``values``."""
        if self._uniq.size == 0:
            return np.zeros(np.shape(values), dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._uniq, values), self._uniq.size - 1)
        return np.where(self._uniq[pos] == values, self._counts[pos], 0)

    def group(self, value: int) -> np.ndarray:
        lo = np.searchsorted(self.sorted, value, side="left")
        hi = np.searchsorted(self.sorted, value, side="right")
        return self.order[lo:hi]

    def usable(self, a: int, need: int) -> tuple[int, int]:
        """Row range of class ``a`` whose context group has at least ``need`` images."""
        lo, hi = self.span.get(a, (0, 0))
        return lo, lo + int(np.searchsorted(self.neg_n_ctx[lo:hi], -need, side="right"))

    def propose(
        self, rng: np.random.Generator, lo: int, hi: int, n: int, m: int
    ) -> tuple[np.ndarray, np.ndarray]:
        j = lo + int(rng.integers(hi - lo))
        odd_img = int(self.prep.pair_img[self.rows[j]])
        same = self.group(int(self.sig[odd_img]))
        others = same[same != odd_img]
        odd = np.concatenate(([odd_img], others[rng.choice(others.size, m - 1, replace=False)]))
        ctx = self.group(int(self.ctx[j]))
        return odd, ctx[rng.choice(ctx.size, n - m, replace=False)]


def _extra(tally: Tally, ctx: TurnContext) -> list[Candidate]:
    if ("odd_one", "") in ctx.exclude:
        return []
    ans = tally.odd_one()
    return [] if ans is None else [("odd_one", ans, (), None, ())]


@register_task(
    "odd_one",
    spec=OddOneSpec,
    answer_key="class",
    kind="class",
    roles=("context", "query"),
    slot="none",
    order=40,
    label="odd-one",
    turn_rank=30,
    extra=_extra,
)
class OddOneSampler(TaskSampler):
    spec: OddOneSpec

    def __init__(self, spec: OddOneSpec, prep: PreparedIndex) -> None:
        super().__init__(spec, prep)
        m = spec.minority
        n_lo = bounds(spec.n_images)[0]
        key_rng = np.random.default_rng(_KEY_SEED)
        top = np.iinfo(np.int64).max
        key_rec = key_rng.integers(1, top, size=len(prep.class_names), dtype=np.int64)
        key_other = key_rng.integers(1, top, size=len(prep.class_names), dtype=np.int64)
        # Flagged table first (always valid under both readings), plain table second. The
        # flagged one serves the first attempt of every query, so it is built now (before a
        # training build forks its workers); the plain one on first use (often never).
        self._keys = ((key_rec, key_other), (key_rec, key_rec))
        self._tables: dict[int, _SignatureTable] = {}
        self.n_rec = np.array([prep.recognisable_images(int(c)).size for c in self.pool])
        if not (self.n_rec >= m).any():
            raise self.fail(
                f"no pool class is recognisable in {m} image(s) (minority); pool has "
                f"{self.pool.size} classes"
            )
        if prep.n_images < n_lo:
            raise self.fail(f"n_images minimum {n_lo} exceeds the {prep.n_images} source images")
        self.table(0)

    def table(self, i: int) -> _SignatureTable:
        """Signature table ``i`` (0: flagged, 1: plain), built on first use."""
        if i not in self._tables:
            key_rec, key_other = self._keys[i]
            self._tables[i] = _SignatureTable(
                self.prep, self.pool, self.spec.minority, key_rec, key_other
            )
        return self._tables[i]

    def draw(self, q: int, rng: np.random.Generator, attempt: int) -> Draft | str:
        prep, m = self.prep, self.spec.minority
        n = draw_n_images(rng, self.spec)
        a = pick_answer_class(self, q, rng, attempt, self.n_rec, m, self.spec.balance_answers)
        if a is None:
            return "no pool class is recognisable in enough images"
        picked: tuple[np.ndarray, np.ndarray] | str | None = None
        # Every fourth attempt skips the signature tables so odd cases they cannot express
        # still get proposals from the anchor construction.
        if attempt % 4 != 3:
            for i in (0, 1):
                table = self.table(i)
                lo, hi = table.usable(a, n - m)
                if hi > lo:
                    picked = table.propose(rng, lo, hi, n, m)
                    break
        if picked is None:
            picked = self._anchor(rng, a, n, m)
        if isinstance(picked, str):
            return picked
        odd, majority = picked
        if not prep.absent_mask(majority, [a]).all():
            return "the odd class is not absent in a majority image"
        name = prep.class_names[a]
        return Draft(
            images=[int(i) for i in odd] + [int(i) for i in majority],
            roles=["query"] * m + ["context"] * (n - m),
            answer={"class": name},
            answer_text=name,
            controls={"n_images": n, "minority": m},
            slot="",
            info={"minority": m},
        )

    def _anchor(
        self, rng: np.random.Generator, a: int, n: int, m: int
    ) -> tuple[np.ndarray, np.ndarray] | str:
        """Odd images recognisably holding ``a``; majority images holding an anchor class and
        nothing outside the odd images' context (or the anchor alone when there is none)."""
        prep = self.prep
        rec = prep.recognisable_images(a)
        if rec.size < m:
            return "too few images for the minority"
        odd = rec[rng.choice(rec.size, m, replace=False)]
        rows, _ = rows_of_images(prep.img_offsets, odd)
        context = np.unique(prep.pair_cls[rows])
        context = context[context != a]
        if context.size == 0:
            # The odd images hold only the odd class: any group of identical class sets works.
            plain = self.table(1)
            sizes = plain.group_sizes
            fit = np.flatnonzero(sizes >= n - m)
            if fit.size == 0:
                return f"no {n - m} images share one class set"
            group = plain.group(int(plain.groups[fit[rng.integers(fit.size)]]))
            return odd, group[rng.choice(group.size, n - m, replace=False)]
        anchor = int(context[rng.integers(context.size)])
        pool = prep.present_images(anchor)
        if pool.size > _ANCHOR_CANDIDATES:
            pool = np.sort(pool[rng.choice(pool.size, _ANCHOR_CANDIDATES, replace=False)])
        pool = pool[prep.absent_mask(pool, [a])]
        allowed = np.zeros(len(prep.class_names), dtype=bool)
        allowed[context] = True
        rows, owner = rows_of_images(prep.img_offsets, pool)
        extra = np.bincount(owner[~allowed[prep.pair_cls[rows]]], minlength=pool.size)
        pool = pool[extra == 0]
        if pool.size < n - m:
            return f"only {pool.size} images hold the anchor class and only context classes"
        return odd, pool[rng.choice(pool.size, n - m, replace=False)]

    def verify(self, draft: Draft, facts: Sequence[ImageFacts]) -> None:
        got = odd_one_answer(facts, draft.info["minority"])
        if got != draft.answer["class"]:
            raise AnswerError(f"re-derived answer {got!r} != sampled {draft.answer['class']!r}")

    def candidate_summary(self) -> str:
        n_lo = bounds(self.spec.n_images)[0]
        m = self.spec.minority
        table = self.table(1)
        ok = int(np.unique(self.prep.pair_cls[table.rows[-table.neg_n_ctx >= n_lo - m]]).size)
        return (
            f"{ok} of {self.pool.size} pool classes have an odd image whose context class set "
            f"is shared by >= {n_lo - m} images"
        )
