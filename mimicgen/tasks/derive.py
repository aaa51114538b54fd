"""Answers as pure functions of per-image facts (docs/tasks.md, "How answers are derived").

An image's facts map each class *present* in it to a :class:`ClassFact`; a class missing from
the mapping is absent. This is the package's one answer oracle: every rule reads a
:class:`Tally` of the images. The samplers call the ``*_answer`` functions on every query
before emitting it (a query whose facts do not give one unique answer is never written),
training writers read the tally for multi-turn questions, and users can call them to audit a
benchmark. (``mimicgen validate`` re-derives answers with its own, independent rules.)

Presence readings used for uniqueness:

* *lenient*: a class is seen in an image if it is present (any annotation);
* *strict*: a class is seen only if it has a recognisable instance there.

Common, odd-one and listing answers are returned only when both readings give the same unique
answer, so a model is right whichever way it treats tiny or crowd instances.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

__all__ = [
    "AnswerError",
    "ClassFact",
    "ImageFacts",
    "Tally",
    "common_answer",
    "count_answer",
    "listing_answer",
    "odd_one_answer",
]


class ClassFact(NamedTuple):
    """Annotation facts of one class in one image (a named tuple: cheap to build per query)."""

    n_instances: int
    """All annotations of the class (boxes of any size, group boxes included)."""
    n_recognisable: int
    """Boxes at least ``min_box_area_frac`` of the image and not group boxes."""
    n_small: int = 0
    """Non-group boxes below the size threshold."""
    n_group: int = 0
    """Group / crowd boxes."""

    @property
    def recognisable(self) -> bool:
        return self.n_recognisable > 0

    def countable(self, group_blocks_counting: bool = True) -> bool:
        """Every instance is recognisable (and no group box), so the count is unambiguous."""
        if self.n_small or self.n_recognisable == 0:
            return False
        return not (group_blocks_counting and self.n_group)


#: Per image: class name -> facts, for every class present in the image.
ImageFacts = Mapping[str, ClassFact]


class AnswerError(ValueError):
    """The facts do not determine one unambiguous answer; the message says why."""


class Tally:
    """Per class over a query's images: presence, recognisability and countability, gathered
    in one pass. Every answer rule reads its answer from here (the samplers' re-check through
    the ``*_answer`` functions, the further turns of training conversations directly)."""

    __slots__ = ("n", "present", "recognisable", "totals")

    def __init__(self, facts: Sequence[ImageFacts], group_blocks_counting: bool = True) -> None:
        self.n = len(facts)
        # Per class (first-seen order): images where it is present, images where it is
        # recognisable, and its recognisable instances (None when some image cannot count it).
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

    def count(self, cls: str) -> int | None:
        """Recognisable instances of ``cls`` (0 if absent), None when some image holding it
        cannot count it (a small or group instance, or a label without boxes)."""
        return self.totals.get(cls, 0)

    def common(self) -> str | None:
        """The one class recognisable in every image, with no other class present in every
        image; None when there is no such class."""
        n = self.n
        in_all = [c for c, p in self.present.items() if p == n]
        if n < 2 or len(in_all) != 1 or self.recognisable[in_all[0]] != n:
            return None
        return in_all[0]

    def odd_one(self, minority: int = 1) -> str | None:
        """The class present in exactly ``minority`` images (recognisable in each, absent in
        the rest) while every other class present anywhere is present in a strict majority and
        recognisable in a strict majority or nowhere; None when there is none or several."""
        n = self.n
        if minority < 1 or 2 * minority >= n:
            return None
        odd = None
        rec = self.recognisable
        for c, p in self.present.items():
            r = rec[c]
            if p == minority and r == minority:
                if odd is not None:
                    return None
                odd = c
            elif not (2 * p > n and (r == 0 or 2 * r > n)):
                return None
        return odd

    def listing(self, members: Collection[str]) -> tuple[str, ...] | None:
        """Member classes recognisable in any image (sorted); None when a member is present
        only ambiguously (recognisable nowhere) or no member is recognisable at all."""
        seen = []
        for c, r in self.recognisable.items():
            if c in members:
                if r == 0:
                    return None  # present only ambiguously
                seen.append(c)
        return tuple(sorted(seen)) if seen else None


def count_answer(
    images: Sequence[ImageFacts], classes: Sequence[str], group_blocks_counting: bool = True
) -> dict[str, int]:
    """Total recognisable instances of each class over all images.

    Raises :class:`AnswerError` if an image holds a class it cannot count (a small or group
    instance, or a label without boxes): that count would be ambiguous.
    """
    tally = Tally(images, group_blocks_counting)
    counts: dict[str, int] = {}
    for c in classes:
        total = tally.count(c)
        if total is None:
            raise AnswerError(f"an image holds '{c}' instances that cannot be counted")
        counts[c] = total
    return counts


def common_answer(images: Sequence[ImageFacts]) -> str:
    """The one class recognisable in every image, with no other class present in every image."""
    if len(images) < 2:
        raise AnswerError("common needs at least 2 images")
    tally = Tally(images)
    found = tally.common()
    if found is None:
        in_all = sorted(c for c, p in tally.present.items() if p == tally.n)
        raise AnswerError(
            f"classes present in all images {in_all}: need exactly one, recognisable in all"
        )
    return found


def odd_one_answer(images: Sequence[ImageFacts], minority: int = 1) -> str:
    """The class present in exactly ``minority`` images (recognisable in each, absent in the
    rest) while every other class present anywhere is present in a strict majority and is
    recognisable either in a strict majority or nowhere."""
    n = len(images)
    if minority < 1 or 2 * minority >= n:
        raise AnswerError(f"minority {minority} is not a strict minority of {n} images")
    tally = Tally(images)
    found = tally.odd_one(minority)
    if found is None:
        raise AnswerError(
            f"per-class presence {dict(sorted(tally.present.items()))}: need one odd class "
            "and every other class in a strict majority"
        )
    return found


def listing_answer(images: Sequence[ImageFacts], members: Collection[str]) -> list[str]:
    """Member classes recognisable in any image (sorted).

    Raises :class:`AnswerError` when a member is present somewhere but recognisable nowhere
    (its inclusion would be ambiguous) or when no member is recognisable at all.
    """
    tally = Tally(images)
    members = set(members)
    found = tally.listing(members)
    if found is None:
        vague = sorted(c for c in members if c in tally.present and not tally.recognisable[c])
        if vague:
            raise AnswerError(f"members {vague} are present only ambiguously")
        raise AnswerError("no member class is recognisable in any image")
    return list(found)
