"""Listing: which member classes of a category node are recognisable in the images.

Members of a node are the source classes strictly below it in the hierarchy (COCO: the classes
of a supercategory). Construction per query:

1. N, the node (uniform over the spec's nodes that can serve the query), spread s, the answer
   size and the answer classes A (uniform over the node's usable pool members).
2. s query images, each recognisably holding one class of A (every class of A gets at least
   one image when |A| <= s); every member present in a query image is in A and recognisable
   there, so no member is present only ambiguously.
3. N - s distractors hold no annotation of any member of the node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from mimicgen.errors import SpecError
from mimicgen.registry import register_task
from mimicgen.sources.base import Hierarchy
from mimicgen.specs.models import (
    BaseTaskSpec,
    IntRange,
    bounds,
    check_fits,
    check_range,
    check_within,
)
from mimicgen.tasks.derive import AnswerError, ImageFacts, Tally, listing_answer
from mimicgen.tasks.multiturn import Ask, Candidate, TurnContext, category_members, category_tables
from mimicgen.tasks.prepared import PreparedIndex, rows_of_images
from mimicgen.tasks.query import Query
from mimicgen.tasks.shared import DistractorSampler, Draft, TaskSampler, draw_int, draw_n_images

__all__ = ["ListingSampler", "ListingSpec"]

_BATCH = 8  # candidate images drawn at once per slot; cheap to check together


class ListingSpec(BaseTaskSpec):
    """Listing: which member classes of a category node appear in the images."""

    task: Literal["listing"] = "listing"

    category: str | tuple[str, ...] | None = None
    """Category node(s) (COCO supercategory, OpenImages hierarchy node); ``None``: any node that
    can satisfy the query, drawn uniformly."""

    n_answer: IntRange | None = None
    """Number of member classes in the answer; ``None``: 1 up to ``min(spread, members)``."""

    min_members: int = Field(2, ge=1)
    """Smallest category a listing question may ask about: with ``category: null`` smaller
    nodes are skipped, a named smaller node is refused, and training conversations' extra
    listing turns skip them too. A one-member node (COCO ``person``) would ask for the
    sub-categories of a class that is its own only member."""

    spread: IntRange | None = None
    """Images holding member classes (the rest are distractors with no member class at all);
    ``None``: any value from 1 to ``n_images``."""

    @model_validator(mode="after")
    def _consistent(self) -> ListingSpec:
        check_range("n_answer", self.n_answer)
        check_range("spread", self.spread)
        check_fits("spread", self.spread, self.n_images)
        check_within("spread", self.spread, 1, self.n_images, "1..n_images")
        if isinstance(self.category, tuple) and not self.category:
            raise ValueError("category list is empty; omit it to use every node")
        return self


class _Node:
    """Precomputed member data of one category node."""

    def __init__(self, prep: PreparedIndex, members: np.ndarray, pool: np.ndarray) -> None:
        self.members = members
        self.is_member = np.zeros(len(prep.class_names), dtype=bool)
        self.is_member[members] = True
        # An image is unclean for the node if a member is present there but not recognisable.
        unclean = np.zeros(prep.n_images, dtype=bool)
        for c in members.tolist():
            unclean[prep.ambiguous_images(c)] = True
        self.clean: dict[int, np.ndarray] = {}
        for c in members[np.isin(members, pool)].tolist():
            rec = prep.recognisable_images(c)
            rec = rec[~unclean[rec]]
            if rec.size:
                self.clean[c] = rec
        self.usable = np.array(sorted(self.clean), dtype=np.int64)


def _extra(tally: Tally, ctx: TurnContext) -> list[Candidate]:
    """Further turn: one node above a class present (drawn from ``ctx.rng``), with at least
    ``min_members`` members."""
    ups, downs, sets = category_tables(ctx.hierarchy)
    nodes = sorted(
        {p for c in ctx.present for p in ups.get(c, ()) if len(downs[p]) >= ctx.min_members}
    )
    if not nodes:
        return []
    node = nodes[int(ctx.rng.integers(len(nodes)))]
    if ("listing", node) in ctx.exclude:
        return []
    listed = tally.listing(sets[node])
    return [] if listed is None else [("listing", listed, (), node, downs[node])]


def _first_ask(query: Query, hierarchy: Hierarchy) -> Ask:
    category = query.controls.get("category")
    members = category_members(hierarchy).get(str(category), ())
    return Ask("listing", tuple(query.answer["classes"]), category=category, members=members)


def _asked(query: Query) -> set[tuple[str, str]]:
    return {("listing", str(query.controls.get("category")))}


@register_task(
    "listing",
    spec=ListingSpec,
    answer_key="classes",
    kind="set",
    roles=("query", "distractor"),
    slot="category",
    order=20,
    max_new_tokens=64,
    turn_rank=40,
    extra=_extra,
    first_ask=_first_ask,
    asked=_asked,
)
class ListingSampler(TaskSampler):
    spec: ListingSpec

    def __init__(self, spec: ListingSpec, prep: PreparedIndex) -> None:
        super().__init__(spec, prep)
        self.distractors = DistractorSampler(prep)
        hier = prep.hierarchy
        all_nodes = hier.nodes()
        if spec.category is None:
            names = all_nodes
        else:
            names = [spec.category] if isinstance(spec.category, str) else list(spec.category)
            unknown = [c for c in names if c not in hier.children or not hier.children[c]]
            if unknown:
                shown = ", ".join(all_nodes[:15]) + (" ..." if len(all_nodes) > 15 else "")
                raise SpecError(
                    f"listing spec '{spec.name}': unknown category node(s) {unknown}; "
                    f"the source's nodes are: {shown or '(none)'}"
                )
        self.nodes: dict[str, _Node] = {}
        for name in names:
            members = [prep.name_to_idx[d] for d in hier.descendants(name) if d in prep.name_to_idx]
            if len(members) < spec.min_members:
                if spec.category is None:
                    continue
                # A named node too small to ask about (COCO 'person' is its own only member).
                raise SpecError(
                    f"listing spec '{spec.name}': category '{name}' has {len(members)} member "
                    f"class(es) ({', '.join(prep.class_names[m] for m in members) or 'none'}), "
                    f"fewer than min_members {spec.min_members}; pick a category with more "
                    "members, or set min_members lower to ask about it anyway"
                )
            if members:
                node = _Node(prep, np.array(sorted(members), dtype=np.int64), self.pool)
                if node.usable.size:
                    self.nodes[name] = node
        self.node_names = sorted(self.nodes)
        a_lo = bounds(spec.n_answer)[0] if spec.n_answer is not None else 1
        sizes = {n: int(self.nodes[n].usable.size) for n in self.node_names}
        if not any(v >= a_lo for v in sizes.values()):
            raise self.fail(
                f"no category node has {a_lo} member classes that are recognisable (without "
                f"ambiguous members) in some image; usable members per node: {sizes or '{}'} "
                f"of {len(names)} node(s)"
            )

    def draw(self, q: int, rng: np.random.Generator, attempt: int) -> Draft | str:
        spec, prep = self.spec, self.prep
        n = draw_n_images(rng, spec)
        s = draw_int(rng, spec.spread if spec.spread is not None else (1, n), cap=n)
        if s is None:
            return "spread exceeds n_images"
        a_range = spec.n_answer if spec.n_answer is not None else (1, s)
        a_lo = bounds(a_range)[0]
        fit = [nm for nm in self.node_names if self.nodes[nm].usable.size >= a_lo]
        if not fit:
            return f"no node has {a_lo} usable member classes"
        name = fit[int(rng.integers(len(fit)))]
        node = self.nodes[name]
        a = draw_int(rng, a_range, cap=int(node.usable.size))
        if a is None:
            return "answer size does not fit"
        answer = np.sort(node.usable[rng.choice(node.usable.size, a, replace=False)])
        allowed = np.zeros(len(prep.class_names), dtype=bool)
        allowed[answer] = True
        primaries = list(rng.permutation(answer))
        if s > a:
            primaries += list(answer[rng.integers(a, size=s - a)])
        picked: list[int] = []
        for c in primaries[:s]:
            img = self._pick(rng, node, int(c), allowed, picked)
            if img is None:
                return "no clean image holds only answer members"
            picked.append(img)
        query = np.array(picked, dtype=np.int64)
        rows, _ = rows_of_images(prep.img_offsets, query)
        seen = np.unique(prep.pair_cls[rows][node.is_member[prep.pair_cls[rows]]])
        if seen.size != answer.size:
            return "the query images do not cover every answer class"
        if prep.verified_absent is not None:
            rest = np.setdiff1d(node.members, answer)
            if rest.size and not prep.absent_mask(query, rest).all():
                return "a non-answer member is not verified absent"
        distract = self.distractors.sample(rng, node.members.tolist(), n - s)
        if isinstance(distract, str):
            return distract
        names = sorted(prep.class_names[c] for c in answer.tolist())
        members = [prep.class_names[c] for c in node.members.tolist()]
        return Draft(
            images=picked + [int(i) for i in distract],
            roles=["query"] * s + ["distractor"] * (n - s),
            answer={"classes": names},
            answer_text=", ".join(names),
            controls={
                "n_images": n,
                "category": name,
                "n_answer": a,
                "spread": s,
                "distractors": n - s,
            },
            slot=name,
            relevant=members,
            info={"members": members},
        )

    def _pick(
        self, rng: np.random.Generator, node: _Node, c: int, allowed: np.ndarray, used: list[int]
    ) -> int | None:
        """A clean image recognisably holding ``c`` whose members are all allowed."""
        cand = node.clean[c]
        for _ in range(3):
            batch = cand[rng.choice(cand.size, min(_BATCH, cand.size), replace=False)]
            rows, owner = rows_of_images(self.prep.img_offsets, batch)
            cls = self.prep.pair_cls[rows]
            bad = node.is_member[cls] & ~allowed[cls]
            clean = np.bincount(owner[bad], minlength=batch.size) == 0
            # The first clean image not used yet (plain Python: a batch holds <= 8 images).
            for img, ok in zip(batch.tolist(), clean.tolist(), strict=True):
                if ok and img not in used:
                    return int(img)
            if cand.size <= _BATCH:
                break
        return None

    def verify(self, draft: Draft, facts: Sequence[ImageFacts]) -> None:
        members = draft.info["members"]
        got = listing_answer(facts, members)
        if got != draft.answer["classes"]:
            raise AnswerError(f"re-derived {got} != sampled {draft.answer['classes']}")
        for role, f in zip(draft.roles, facts, strict=True):
            held = [c for c in members if c in f]
            if role == "distractor" and held:
                raise AnswerError(f"distractor holds member {held}")
            if role == "query" and not any(f[c].recognisable for c in held):
                raise AnswerError("query image holds no recognisable member")

    def candidate_summary(self) -> str:
        sizes = {n: int(v.usable.size) for n, v in self.nodes.items()}
        return f"usable member classes per node: {sizes}"
