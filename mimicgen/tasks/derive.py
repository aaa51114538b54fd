"""Answers as pure functions of per-image facts (docs/tasks.md, "How answers are derived").

An image's facts map each class *present* in it to a :class:`ClassFact`; a class missing from
the mapping is absent. The samplers call these functions on every query before emitting it (a
query whose facts do not give one unique answer is never written), training writers call them
for multi-turn questions, and users can call them to audit a benchmark.

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


def count_answer(
    images: Sequence[ImageFacts], classes: Sequence[str], group_blocks_counting: bool = True
) -> dict[str, int]:
    """Total recognisable instances of each class over all images.

    Raises :class:`AnswerError` if an image holds a class it cannot count (a small or group
    instance, or a label without boxes): that count would be ambiguous.
    """
    counts = {c: 0 for c in classes}
    for pos, facts in enumerate(images):
        for c in classes:
            fact = facts.get(c)
            if fact is None:
                continue
            if not fact.countable(group_blocks_counting):
                raise AnswerError(f"image {pos} holds '{c}' instances that cannot be counted")
            counts[c] += fact.n_recognisable
    return counts


def common_answer(images: Sequence[ImageFacts]) -> str:
    """The one class recognisable in every image, with no other class present in every image."""
    if len(images) < 2:
        raise AnswerError("common needs at least 2 images")
    present = set(images[0])
    for facts in images[1:]:
        present &= set(facts)
    recognisable = {c for c in present if all(f[c].recognisable for f in images)}
    if len(recognisable) != 1 or present != recognisable:
        raise AnswerError(
            f"classes present in all images {sorted(present)}, recognisable in all "
            f"{sorted(recognisable)}: need exactly one, the same under both readings"
        )
    return next(iter(recognisable))


def odd_one_answer(images: Sequence[ImageFacts], minority: int = 1) -> str:
    """The class present in exactly ``minority`` images (recognisable in each, absent in the
    rest) while every other class present anywhere is present in a strict majority and is
    recognisable either in a strict majority or nowhere."""
    n = len(images)
    if minority < 1 or 2 * minority >= n:
        raise AnswerError(f"minority {minority} is not a strict minority of {n} images")
    present: dict[str, int] = {}
    recognisable: dict[str, int] = {}
    for facts in images:
        for c, fact in facts.items():
            present[c] = present.get(c, 0) + 1
            recognisable[c] = recognisable.get(c, 0) + int(fact.recognisable)
    odd = [c for c in present if present[c] == minority and recognisable[c] == minority]
    others_ok = all(
        2 * present[c] > n and (recognisable[c] == 0 or 2 * recognisable[c] > n)
        for c in present
        if c not in odd
    )
    if len(odd) != 1 or not others_ok:
        raise AnswerError(
            f"odd candidates {sorted(odd)}; per-class presence {dict(sorted(present.items()))}: "
            "need one odd class and every other class in a strict majority"
        )
    return odd[0]


def listing_answer(images: Sequence[ImageFacts], members: Collection[str]) -> list[str]:
    """Member classes recognisable in any image (sorted).

    Raises :class:`AnswerError` when a member is present somewhere but recognisable nowhere
    (its inclusion would be ambiguous) or when no member is recognisable at all.
    """
    members = set(members)
    present: set[str] = set()
    seen: set[str] = set()
    for facts in images:
        for c, fact in facts.items():
            if c in members:
                present.add(c)
                if fact.recognisable:
                    seen.add(c)
    if present != seen:
        raise AnswerError(f"members {sorted(present - seen)} are present only ambiguously")
    if not seen:
        raise AnswerError("no member class is recognisable in any image")
    return sorted(seen)
