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

import numpy as np

from mimicgen.specs.models import OddOneSpec, bounds
from mimicgen.tasks.common_task import pick_answer_class
from mimicgen.tasks.derive import AnswerError, ImageFacts, odd_one_answer
from mimicgen.tasks.prepared import PreparedIndex, rows_of_images
from mimicgen.tasks.registry import register_task
from mimicgen.tasks.shared import Draft, TaskSampler, draw_int

__all__ = ["OddOneSampler"]

_ANCHOR_CANDIDATES = 256  # majority candidates examined per anchor proposal
_KEY_SEED = 0x0DD0E  # fixed: signature keys are an implementation detail, not a random choice


@register_task("odd_one")
class OddOneSampler(TaskSampler):
    spec: OddOneSpec

    def __init__(self, spec: OddOneSpec, prep: PreparedIndex) -> None:
        super().__init__(spec, prep)
        m = spec.minority
        n_lo = bounds(spec.n_images)[0]
        keys = np.random.default_rng(_KEY_SEED).integers(
            1, np.iinfo(np.int64).max, size=len(prep.class_names), dtype=np.int64
        )
        lens = np.diff(prep.img_offsets)
        sig = np.zeros(lens.size, dtype=np.int64)
        nonempty = np.flatnonzero(lens > 0)
        if nonempty.size:
            sig[nonempty] = np.bitwise_xor.reduceat(keys[prep.pair_cls], prep.img_offsets[nonempty])
        sig[~np.isin(np.arange(lens.size), prep.image_ids)] = 0
        self.sig = sig
        self.sig_order = np.argsort(sig, kind="stable")
        self.sig_sorted = sig[self.sig_order]
        # Candidate odd rows: (image, answer class) pairs recognisable, class in the pool.
        rows = np.flatnonzero((prep.pair_rec > 0) & np.isin(prep.pair_cls, self.pool))
        rows = rows[lens[prep.pair_img[rows]] >= 2]  # the odd image must have context
        ctx = sig[prep.pair_img[rows]] ^ keys[prep.pair_cls[rows]]
        n_ctx = self._group_size(ctx)
        n_same = self._group_size(sig[prep.pair_img[rows]])
        self.n_rec = np.array([prep.recognisable_images(int(c)).size for c in self.pool])
        self.rows, self.ctx, self.n_ctx, self.n_same = rows, ctx, n_ctx, n_same
        order = np.argsort(prep.pair_cls[rows], kind="stable")
        sorted_cls = prep.pair_cls[rows][order]
        uniq, starts = np.unique(sorted_cls, return_index=True)
        ends = np.append(starts[1:], sorted_cls.size)
        self.rows_by_class = {
            int(c): order[lo:hi] for c, lo, hi in zip(uniq, starts, ends, strict=True)
        }
        if not (self.n_rec >= m).any():
            raise self.fail(
                f"no pool class is recognisable in {m} image(s) (minority); pool has "
                f"{self.pool.size} classes"
            )
        if prep.n_images < n_lo:
            raise self.fail(f"n_images minimum {n_lo} exceeds the {prep.n_images} source images")

    def _group_size(self, values: np.ndarray) -> np.ndarray:
        """How many images have each signature in ``values``."""
        lo = np.searchsorted(self.sig_sorted, values, side="left")
        hi = np.searchsorted(self.sig_sorted, values, side="right")
        return hi - lo

    def _group(self, value: int) -> np.ndarray:
        lo = np.searchsorted(self.sig_sorted, value, side="left")
        hi = np.searchsorted(self.sig_sorted, value, side="right")
        return self.sig_order[lo:hi]

    def draw(self, q: int, rng: np.random.Generator, attempt: int) -> Draft | str:
        prep, m = self.prep, self.spec.minority
        n = draw_int(rng, self.spec.n_images)
        assert n is not None
        a = pick_answer_class(self, q, rng, attempt, self.n_rec, m, self.spec.balance_answers)
        if a is None:
            return "no pool class is recognisable in enough images"
        cand = self.rows_by_class.get(a, np.zeros(0, dtype=np.int64))
        good = cand[(self.n_ctx[cand] >= n - m) & (self.n_same[cand] >= m)]
        if good.size and attempt % 2 == 0:
            j = int(good[rng.integers(good.size)])
            odd_img = int(prep.pair_img[self.rows[j]])
            same = self._group(int(self.sig[odd_img]))
            others = same[same != odd_img]
            odd = np.concatenate(([odd_img], others[rng.choice(others.size, m - 1, replace=False)]))
            ctx = self._group(int(self.ctx[j]))
            majority = ctx[rng.choice(ctx.size, n - m, replace=False)]
        else:
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
        if context.size:
            anchor = int(context[rng.integers(context.size)])
        else:
            anchor = int(rng.integers(len(prep.class_names)))
            context = np.array([anchor], dtype=np.int64)
        if anchor == a:
            return "the anchor class is the odd class"
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
        ok = int(np.unique(self.prep.pair_cls[self.rows[self.n_ctx >= n_lo - m]]).size)
        return (
            f"{ok} of {self.pool.size} pool classes have an odd image whose context class set "
            f"is shared by >= {n_lo - m} images"
        )
