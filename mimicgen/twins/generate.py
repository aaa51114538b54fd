"""Expand each sampled base query into its family of twins (``variants:``, docs/tasks.md "Twins").

A twin shares its base query's evidence and differs in one declared control. Twins are made
after the base query is sampled, each control from its own generator
``SeedSequence([seed, q, TWIN_STREAM, control])``, so the base queries are exactly the plain
spec's, and enabling one control never changes another control's twins. Twins that need new
images (added distractors, redistributed spread) draw them from the same index facts as the
samplers and are re-checked with :mod:`mimicgen.tasks.derive` before they are emitted.

Content-free and stitched twins point at *generated* images: :class:`Twin.generated` maps an
image position to a recipe that :mod:`mimicgen.twins.render` turns into a file at build time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimicgen.errors import SamplingError
from mimicgen.probes.stitch import auto_grid
from mimicgen.registry import get_task
from mimicgen.specs.models import AnyTaskSpec
from mimicgen.specs.variants import VariantsSpec
from mimicgen.tasks.counting import partitions
from mimicgen.tasks.derive import AnswerError, count_answer, listing_answer
from mimicgen.tasks.existence import existence_answer
from mimicgen.tasks.prepared import PreparedIndex
from mimicgen.tasks.query import Query, QueryImage
from mimicgen.tasks.shared import DistractorSampler

__all__ = [
    "BASE",
    "CONTROL_CODES",
    "TWIN_STREAM",
    "Twin",
    "content_free_answer",
    "expand_family",
    "family_of",
]

#: Random stream of twin draws (after seed and query number).
TWIN_STREAM = 0x7714
#: Per-control stream numbers: one control's draws never depend on another's.
CONTROL_CODES = {"permute": 1, "distractors": 2, "spread": 3, "blank": 4, "noise": 5, "stitch": 6}
#: The ``variant`` (and ``twin.control``) of a family's base record.
BASE = "base"
#: Separator between a base id and its variant in twin ids (not allowed in spec names).
ID_SEP = "~"


@dataclass(frozen=True)
class Twin:
    """One member of a family: the query plus what the record says about its variant."""

    query: Query
    family: str
    """The base query's id."""
    variant: str
    """``base`` or ``<control>-<detail>`` (``permute-p2``, ``distractors-4``, ``blank-all``)."""
    detail: dict[str, Any]
    """The record's ``twin`` object: ``control`` plus what the control changed."""
    generated: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Position -> recipe of a generated image (``kind``: blank | noise | stitch)."""


def family_of(query: Query) -> Twin:
    """A base query as its family's ``base`` member."""
    return Twin(query, query.id, BASE, {"control": BASE})


def content_free_answer(task: str, answer: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The answer of ``task``'s query when no image holds anything (every image blank or
    noise), or None when there is none. Read from the task's answer kind: ``count`` 0 per
    class; ``yesno`` (existence) *no*, the class is in no image. ``set`` (listing) would be an
    empty set, which its questions never ask for, and ``class`` tasks (common, odd-one) have
    no class left to name: their content-free twins measure guessing."""
    kind = get_task(task).kind
    if kind == "count":
        zeros = {c: 0 for c in answer["counts"]}
        return {"counts": zeros}, ("0" if len(zeros) == 1 else ", ".join(f"{c}: 0" for c in zeros))
    if kind == "yesno":
        return {**answer, "exists": False}, "no"
    return None


def _asked_classes(answer: Mapping[str, Any]) -> list[str]:
    """The classes a content-free answer is about (their counts are 0 in every image)."""
    return list(answer["counts"]) if "counts" in answer else [answer["class"]]


def _rng(seed: int, q: int, control: str) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence([seed, q, TWIN_STREAM, CONTROL_CODES[control]])
    )


def _reorder(images: Sequence[QueryImage], order: Sequence[int]) -> list[QueryImage]:
    """``order[p]`` = the base position of the image shown at position ``p``. The entries are
    already validated: ``model_construct`` only moves them (several times cheaper than a copy)."""
    return [
        QueryImage.model_construct(**{**images[j].__dict__, "position": p})
        for p, j in enumerate(order)
    ]


def _twin(base: Query, variant: str, **update: Any) -> Query:
    return base.model_copy(update={"id": f"{base.id}{ID_SEP}{variant}", **update})


def _targets(base: Query, prep: PreparedIndex) -> list[str]:
    """Classes an added distractor must not hold (by answer kind): the counting targets, the
    existence class, or every member of the listing node."""
    kind = get_task(base.task).kind
    if kind in ("count", "yesno"):
        return _asked_classes(base.answer)
    node = base.controls["category"]
    return [d for d in prep.hierarchy.descendants(node) if d in prep.name_to_idx]


def _distractor_image(prep: PreparedIndex, base: Query, img: int, pos: int) -> QueryImage:
    """A distractor entry for image ``img`` with the class counts the samplers write for one
    (counting: each target with 0; existence: the class with 0; listing: no member)."""
    kind = get_task(base.task).kind
    counts = {c: 0 for c in _asked_classes(base.answer)} if kind in ("count", "yesno") else {}
    return QueryImage(
        image_idx=img,
        source_id=prep.source_ids[img],
        file_name=prep.file_names[img],
        position=pos,
        role="distractor",
        class_counts=counts,
    )


class FamilyBuilder:
    """Twins of one spec's queries over one prepared index (holds the distractor sampler)."""

    def __init__(self, spec: AnyTaskSpec, prep: PreparedIndex) -> None:
        assert spec.variants is not None
        self.spec = spec
        self.variants: VariantsSpec = spec.variants
        self.prep = prep
        self.distractors = DistractorSampler(prep)
        self.group_blocks = spec.presence.group_blocks_counting

    def fail(self, base: Query, message: str) -> SamplingError:
        return SamplingError(
            f"{self.spec.task} spec '{self.spec.name}' twins of {base.id}: {message}"
        )

    # --- controls ---------------------------------------------------------------------------
    def permute(self, base: Query, q: int) -> list[Twin]:
        assert self.variants.permute is not None
        images = sorted(base.images, key=lambda i: i.position)
        n = len(images)
        # (variant, order, extra detail); order[p] = the base position shown at p
        orders: list[tuple[str, list[int], dict[str, Any]]] = []
        wanted = self.variants.permute.n
        evidence = [i.position for i in images if i.role == "query"]
        others = [i.position for i in images if i.role != "query"]
        if wanted is not None:
            rng = _rng(self.spec.seed, q, "permute")
            seen = {tuple(range(n))}
            for _ in range(20 * wanted):  # n! - 1 orders may be fewer than asked
                if len(orders) == wanted:
                    break
                order = rng.permutation(n).tolist()
                if tuple(order) not in seen:
                    seen.add(tuple(order))
                    orders.append((f"permute-s{len(orders) + 1}", order, {}))
        elif 0 < len(evidence) < n:
            for start in range(n - len(evidence) + 1):
                order = others[:start] + evidence + others[start:]
                if order != list(range(n)):  # the base's own order: the base is that member
                    orders.append((f"permute-p{start}", order, {"evidence_start": start}))
        else:  # every image is evidence: rotate through every offset
            for r in range(1, n):
                orders.append((f"permute-r{r}", [(p + r) % n for p in range(n)], {"rotation": r}))
        return [
            Twin(
                _twin(base, variant, images=_reorder(images, order)),
                base.id,
                variant,
                {"control": "permute", "order": order, **extra},
            )
            for variant, order, extra in orders
        ]

    def add_distractors(self, base: Query, q: int) -> list[Twin]:
        added = sorted(d for d in self.variants.distractors if d > 0)
        if not added:
            return []
        prep = self.prep
        targets = [prep.name_to_idx[c] for c in _targets(base, prep)]
        used = {i.image_idx for i in base.images}
        rng = _rng(self.spec.seed, q, "distractors")
        want = added[-1]
        drawn = self.distractors.sample(rng, targets, want + len(used))
        if isinstance(drawn, str):
            raise self.fail(base, f"cannot add {want} distractors: {drawn}")
        fresh = [int(i) for i in drawn.tolist() if int(i) not in used][:want]
        if len(fresh) < want:
            raise self.fail(base, f"only {len(fresh)} unused distractor images, {want} needed")
        images = sorted(base.images, key=lambda i: i.position)
        n = len(images)
        out = []
        for d in added:
            extra = [_distractor_image(prep, base, img, n + j) for j, img in enumerate(fresh[:d])]
            controls = dict(base.controls)
            controls["n_images"] = n + d
            if "distractors" in controls:
                controls["distractors"] = controls["distractors"] + d
            variant = f"distractors-{d}"
            query = _twin(base, variant, images=images + extra, controls=controls)
            self._recheck(base, query)
            out.append(Twin(query, base.id, variant, {"control": "distractors", "added": d}))
        return out

    def spread(self, base: Query, q: int, skipped: dict[str, str]) -> list[Twin]:
        """Spread twins; a spread the total or the source cannot realise goes into
        ``skipped`` (variant -> reason), which the base record lists."""
        prep = self.prep
        ((cls, total),) = base.answer["counts"].items()
        c = prep.name_to_idx[cls]
        images = sorted(base.images, key=lambda i: i.position)
        n = len(images)
        base_s = sum(i.role == "query" for i in images)
        base_d = [i.image_idx for i in images if i.role == "distractor"]
        imgs, counts = prep.countable_images(c, self.group_blocks)
        sizes = {v: int((counts == v).sum()) for v in range(1, total + 1)}
        rng = _rng(self.spec.seed, q, "spread")
        out = []
        for s in sorted(self.variants.spread):
            if s == base_s:
                continue
            if s > min(total, n):
                skipped[f"spread-{s}"] = (
                    f"{s} query images cannot hold a total of {total} in {n} images"
                )
                continue
            feasible = [
                p
                for p in partitions(total, s)
                if all(sizes.get(v, 0) >= p.count(v) for v in set(p))
            ]
            if not feasible:
                skipped[f"spread-{s}"] = f"no {s} countable images of '{cls}' hold {total} in all"
                continue
            parts = feasible[int(rng.integers(len(feasible)))]
            chosen: list[int] = []
            for v in sorted(set(parts)):
                bucket = imgs[counts == v]
                chosen += bucket[rng.choice(bucket.size, parts.count(v), replace=False)].tolist()
            distract = base_d[: n - s]
            if len(distract) < n - s:
                more = self.distractors.sample(rng, [c], n - s + n)
                if isinstance(more, str):
                    raise self.fail(base, f"cannot fill spread {s} with distractors: {more}")
                taken = set(base_d) | set(chosen)
                distract += [int(i) for i in more.tolist() if int(i) not in taken][
                    : n - s - len(distract)
                ]
                if len(distract) < n - s:
                    raise self.fail(base, f"too few distractor images for spread {s}")
            roles = ["query"] * s + ["distractor"] * (n - s)
            order = rng.permutation(n).tolist()
            picked = [int(i) for i in chosen] + distract
            new_images = []
            for p, j in enumerate(order):
                img = picked[j]
                cnt = int(counts[np.searchsorted(imgs, img)]) if roles[j] == "query" else 0
                new_images.append(
                    QueryImage(
                        image_idx=img,
                        source_id=prep.source_ids[img],
                        file_name=prep.file_names[img],
                        position=p,
                        role=roles[j],  # type: ignore[arg-type]
                        class_counts={cls: cnt},
                    )
                )
            controls = dict(base.controls)
            controls.update(spread=s, distractors=n - s)
            variant = f"spread-{s}"
            query = _twin(base, variant, images=new_images, controls=controls)
            self._recheck(base, query)
            out.append(Twin(query, base.id, variant, {"control": "spread", "spread": s}))
        return out

    def content_free(self, base: Query, q: int, kind: str) -> list[Twin]:
        images = sorted(base.images, key=lambda i: i.position)
        out = []
        for scope in getattr(self.variants, kind):
            hit = [i.position for i in images if scope == "all" or i.role == "distractor"]
            if not hit:
                continue  # no distractor to replace: the twin would be the base
            variant = f"{kind}-{scope}"
            update: dict[str, Any] = {}
            detail: dict[str, Any] = {"control": kind, "scope": scope, "answer": "unchanged"}
            empty = content_free_answer(base.task, base.answer)
            zeros = {} if empty is None else {c: 0 for c in _asked_classes(empty[0])}
            new_images = [
                i.model_copy(update={"class_counts": dict(zeros)}) if i.position in hit else i
                for i in images
            ]
            if scope == "all":
                if empty is not None:
                    # Nothing is left to count or find: the answer is definite (0 / no).
                    update["answer"], update["answer_text"] = empty
                    detail["answer"] = "content_free"
                else:
                    # No answer exists without content: the base's answer is kept, and a
                    # reply matching it measures guessing (the blind prior).
                    detail["answer"] = "guess"
            generated = {
                p: {"kind": kind, "seed": [self.spec.seed, q, CONTROL_CODES[kind], p]}
                if kind == "noise"
                else {"kind": kind}
                for p in hit
            }
            query = _twin(base, variant, images=new_images, **update)
            out.append(Twin(query, base.id, variant, detail, generated))
        return out

    def stitch(self, base: Query, q: int) -> list[Twin]:
        rows, cols = auto_grid(len(base.images))
        variant = "stitch"
        detail = {"control": "stitch", "grid": [rows, cols]}
        query = _twin(base, variant)
        # A grid of photographs as PNG is several MB (COCO: ~4.5 MB for 7 images): photos stay
        # JPEG, like their sources.
        photos = all(i.file_name.lower().endswith((".jpg", ".jpeg")) for i in base.images)
        recipe = {"kind": "stitch", "grid": [rows, cols], "format": "jpeg" if photos else "png"}
        return [Twin(query, base.id, variant, detail, {0: recipe})]

    # --- checks -----------------------------------------------------------------------------
    def _recheck(self, base: Query, twin: Query) -> None:
        """Re-derive a twin's answer from its images' facts (as the samplers do)."""
        facts = self.prep.facts([i.image_idx for i in twin.images])
        try:
            if twin.task == "counting":
                got: Any = count_answer(facts, list(twin.answer["counts"]), self.group_blocks)
                want: Any = twin.answer["counts"]
            elif twin.task == "existence":
                got = existence_answer(facts, twin.answer["class"])
                want = twin.answer["exists"]
            else:
                got = listing_answer(facts, _targets(base, self.prep))
                want = twin.answer["classes"]
        except AnswerError as exc:
            raise self.fail(base, f"{twin.id}: {exc}") from None
        if got != want:
            raise self.fail(base, f"{twin.id}: re-derived answer {got} != {want}")

    def family(self, base: Query, q: int) -> list[Twin]:
        """The base and all its twins, in family order."""
        skipped: dict[str, str] = {}
        out = [family_of(base)]
        for control in self.variants.controls():
            if control == "permute":
                out += self.permute(base, q)
            elif control == "distractors":
                out += self.add_distractors(base, q)
            elif control == "spread":
                out += self.spread(base, q, skipped)
            elif control in ("blank", "noise"):
                out += self.content_free(base, q, control)
            else:
                out += self.stitch(base, q)
        if skipped:
            out[0].detail["skipped"] = skipped
        return out


def expand_family(
    spec: AnyTaskSpec, prep: PreparedIndex, queries: Sequence[Query], numbers: Sequence[int]
) -> list[Twin]:
    """Every query's family (base first), families in query order; ``numbers`` are the queries'
    numbers in the spec (their twins' random streams)."""
    builder = FamilyBuilder(spec, prep)
    out: list[Twin] = []
    for query, q in zip(queries, numbers, strict=True):
        out += builder.family(query, int(q))
    return out
