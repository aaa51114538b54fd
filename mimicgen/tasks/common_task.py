"""Common: the one class recognisable in all N images; no other class is present in all N.

Construction per query: the answer class c (block-balanced over the pool, or uniform), then N
distinct images where c is recognisable; rejected unless no other class is present in all N
(and, in OpenImages strict mode, every other class seen is verified absent in some image).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import model_validator

from mimicgen.registry import register_task
from mimicgen.specs.models import BaseTaskSpec, IntRange, bounds
from mimicgen.tasks.balance import block_balanced_index
from mimicgen.tasks.derive import AnswerError, ImageFacts, Tally, common_answer
from mimicgen.tasks.multiturn import Candidate, TurnContext
from mimicgen.tasks.prepared import PreparedIndex, in_sorted, rows_of_images
from mimicgen.tasks.shared import Draft, TaskSampler, draw_n_images

__all__ = ["CommonSampler", "CommonSpec", "pick_answer_class"]


class CommonSpec(BaseTaskSpec):
    """Common: the one class recognisable in every image (no other class present in all)."""

    task: Literal["common"] = "common"

    n_images: IntRange = (3, 8)
    """Images per query (at least 2)."""

    balance_answers: bool = True
    """Cycle answer classes over the pool in seeded blocks so each class is the answer equally
    often (falls back to a random class for a query whose class cannot be satisfied)."""

    @model_validator(mode="after")
    def _consistent(self) -> CommonSpec:
        if bounds(self.n_images)[0] < 2:
            raise ValueError("common needs n_images >= 2")
        return self


def pick_answer_class(
    sampler: TaskSampler,
    q: int,
    rng: np.random.Generator,
    attempt: int,
    n_rec: np.ndarray,
    need: int,
    balance: bool,
) -> int | None:
    """Answer class for one attempt: the block-balanced class for ``q`` during the first third
    of the attempts (if it has ``need`` candidate images), else uniform over feasible classes."""
    if balance and attempt < max(1, sampler.spec.max_attempts // 3):
        j = block_balanced_index(sampler.spec.seed, q, sampler.pool.size)
        if n_rec[j] >= need:
            return int(sampler.pool[j])
    feasible = np.flatnonzero(n_rec >= need)
    if feasible.size == 0:
        return None
    return int(sampler.pool[feasible[rng.integers(feasible.size)]])


def _extra(tally: Tally, ctx: TurnContext) -> list[Candidate]:
    if ("common", "") in ctx.exclude:
        return []
    ans = tally.common()
    return [] if ans is None else [("common", ans, (), None, ())]


@register_task(
    "common",
    spec=CommonSpec,
    answer_key="class",
    kind="class",
    roles=("context", "query"),
    slot="none",
    order=30,
    turn_rank=20,
    extra=_extra,
)
class CommonSampler(TaskSampler):
    spec: CommonSpec

    def __init__(self, spec: CommonSpec, prep: PreparedIndex) -> None:
        super().__init__(spec, prep)
        self.n_rec = np.array([prep.recognisable_images(int(c)).size for c in self.pool])
        n_lo = bounds(spec.n_images)[0]
        if not (self.n_rec >= n_lo).any():
            raise self.fail(
                f"no pool class is recognisable in {n_lo} images (n_images minimum); most "
                f"recognisable pool class has {int(self.n_rec.max(initial=0))} images"
            )

    def draw(self, q: int, rng: np.random.Generator, attempt: int) -> Draft | str:
        prep = self.prep
        n = draw_n_images(rng, self.spec)
        c = pick_answer_class(self, q, rng, attempt, self.n_rec, n, self.spec.balance_answers)
        if c is None:
            return f"no pool class is recognisable in {n} images"
        cand = prep.recognisable_images(c)
        imgs = cand[rng.choice(cand.size, n, replace=False)]
        rows, _ = rows_of_images(prep.img_offsets, imgs)
        cls = prep.pair_cls[rows]
        in_all = np.bincount(cls, minlength=len(prep.class_names)) == n
        in_all[c] = False
        if in_all.any():
            return "another class is present in every image"
        if prep.verified_absent is not None:
            for b in np.unique(cls).tolist():
                if b != c and not in_sorted(prep.verified_absent.get(b, cand[:0]), imgs).any():
                    return "another class is not verified absent in any image"
        name = prep.class_names[c]
        return Draft(
            images=[int(i) for i in imgs],
            roles=["query"] * n,
            answer={"class": name},
            answer_text=name,
            controls={"n_images": n},
            slot="",
        )

    def verify(self, draft: Draft, facts: Sequence[ImageFacts]) -> None:
        got = common_answer(facts)
        if got != draft.answer["class"]:
            raise AnswerError(f"re-derived answer {got!r} != sampled {draft.answer['class']!r}")

    def candidate_summary(self) -> str:
        return (
            f"{int((self.n_rec >= bounds(self.spec.n_images)[0]).sum())} of {self.pool.size} "
            f"pool classes are recognisable in >= {bounds(self.spec.n_images)[0]} images"
        )
