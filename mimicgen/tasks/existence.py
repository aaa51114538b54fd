"""Existence: is there a <class> in any of these images? (yes / no)

Answer rule (:func:`existence_answer`): *yes* when the class is recognisable in some image;
*no* when no image holds any annotation of it (in OpenImages strict mode: verified absent in
every image); otherwise (present only as small or group instances) there is no unique answer
and the query is never written.

Construction per query, with the controls of counting:

1. n from ``n_images``; the answer, block-balanced yes / no over the query numbers (or a coin
   per query with ``balance_answers: false``).
2. *yes*: spread s (images holding the class, from ``spread``), the class uniform over the pool
   classes recognisable in at least s images, s such images; *no*: s = 0 and the class uniform
   over the pool.
3. n - s distractors hold no annotation of the class (the absence rules of counting's
   distractors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from mimicgen.registry import register_task
from mimicgen.specs.models import BaseTaskSpec, IntRange, bounds, check_fits, check_range
from mimicgen.tasks.balance import block_balanced_index
from mimicgen.tasks.derive import AnswerError, ImageFacts, Tally
from mimicgen.tasks.multiturn import Ask
from mimicgen.tasks.prepared import PreparedIndex
from mimicgen.tasks.query import Query
from mimicgen.tasks.shared import DistractorSampler, Draft, TaskSampler, draw_int, draw_n_images

__all__ = ["ExistenceSampler", "ExistenceSpec", "existence_answer"]

_SALT = 0xE515  # balancing stream of the yes/no answers


class ExistenceSpec(BaseTaskSpec):
    """Existence: whether a class appears in any of the images."""

    task: Literal["existence"] = "existence"

    spread: IntRange | None = None
    """*Yes* queries: images holding the class (the rest are distractors); ``None``: any value
    from 1 to ``n_images``. *No* queries have spread 0."""

    balance_answers: bool = True
    """Half the queries *yes*, half *no*, in seeded blocks of two query numbers; ``false``: a
    fair coin per query."""

    yes_fraction: float = Field(0.5, ge=0.0, le=1.0)
    """With ``balance_answers: false``: the probability of a *yes* query."""

    @model_validator(mode="after")
    def _consistent(self) -> ExistenceSpec:
        check_range("spread", self.spread)
        check_fits("spread", self.spread, self.n_images)
        return self


def existence_answer(images: Sequence[ImageFacts], cls: str) -> bool:
    """True when ``cls`` is recognisable in some image, False when no image holds it.

    Raises :class:`AnswerError` when it is present only as small or group instances (an
    image holds it, yet no instance is recognisable): yes or no would both be defensible.
    """
    tally = Tally(images)
    if tally.recognisable.get(cls, 0):
        return True
    if cls not in tally.present:
        return False
    raise AnswerError(f"'{cls}' is present only as small or group instances")


def _first_ask(query: Query, hierarchy: object) -> Ask:
    return Ask("existence", query.answer_text, classes=(query.answer["class"],))


def _asked(query: Query) -> set[tuple[str, str]]:
    return {("existence", query.answer["class"])}


@register_task(
    "existence",
    spec=ExistenceSpec,
    answer_key="exists",
    kind="yesno",
    roles=("query", "distractor"),
    slot="article",
    order=50,
    first_ask=_first_ask,
    asked=_asked,
)
class ExistenceSampler(TaskSampler):
    spec: ExistenceSpec

    def __init__(self, spec: ExistenceSpec, prep: PreparedIndex) -> None:
        super().__init__(spec, prep)
        self.distractors = DistractorSampler(prep)
        self.n_rec = np.array([prep.recognisable_images(int(c)).size for c in self.pool])
        s_lo = bounds(spec.spread)[0] if spec.spread is not None else 1
        if not (self.n_rec >= s_lo).any():
            raise self.fail(
                f"no pool class is recognisable in {s_lo} images (spread minimum); most "
                f"recognisable pool class has {int(self.n_rec.max(initial=0))} images"
            )

    def draw(self, q: int, rng: np.random.Generator, attempt: int) -> Draft | str:
        spec, prep = self.spec, self.prep
        n = draw_n_images(rng, spec)
        if spec.balance_answers:
            yes = block_balanced_index(spec.seed, q, 2, _SALT) == 0
        else:
            yes = bool(rng.random() < spec.yes_fraction)
        if yes:
            s = draw_int(rng, spec.spread if spec.spread is not None else (1, n), cap=n)
            if s is None:
                return f"no spread fits n_images={n}"
            feasible = np.flatnonzero(self.n_rec >= s)
            if feasible.size == 0:
                return f"no pool class is recognisable in {s} images"
            c = int(self.pool[feasible[rng.integers(feasible.size)]])
            cand = prep.recognisable_images(c)
            holders = cand[rng.choice(cand.size, s, replace=False)]
        else:
            s = 0
            c = int(self.pool[rng.integers(self.pool.size)])
            holders = np.zeros(0, dtype=np.int64)
        distract = self.distractors.sample(rng, [c], n - s)
        if isinstance(distract, str):
            return distract
        name = prep.class_names[c]
        return Draft(
            images=[int(i) for i in holders] + distract.tolist(),
            roles=["query"] * s + ["distractor"] * (n - s),
            answer={"exists": yes, "class": name},
            answer_text="yes" if yes else "no",
            controls={"n_images": n, "spread": s, "distractors": n - s},
            slot="",
            relevant=[name],
            zeros=True,
            info={"targets": [name]},
        )

    def verify(self, draft: Draft, facts: Sequence[ImageFacts]) -> None:
        name = draft.answer["class"]
        got = existence_answer(facts, name)
        if got != draft.answer["exists"]:
            raise AnswerError(f"re-derived {got} != sampled {draft.answer['exists']}")
        for role, f in zip(draft.roles, facts, strict=True):
            if role == "distractor" and name in f:
                raise AnswerError(f"distractor holds '{name}'")
            if role == "query" and not (name in f and f[name].recognisable):
                raise AnswerError(f"query image holds no recognisable '{name}'")

    def candidate_summary(self) -> str:
        s_lo = bounds(self.spec.spread)[0] if self.spec.spread is not None else 1
        return (
            f"{int((self.n_rec >= s_lo).sum())} of {self.pool.size} pool classes are "
            f"recognisable in >= {s_lo} images"
        )
