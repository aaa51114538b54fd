"""The answer-derivation functions on hand-written facts."""

from __future__ import annotations

import pytest

from mimicgen.tasks.derive import (
    AnswerError,
    ClassFact,
    common_answer,
    count_answer,
    listing_answer,
    odd_one_answer,
)

BIG = ClassFact(1, 1)
SMALL = ClassFact(1, 0, n_small=1)
CROWD = ClassFact(1, 0, n_group=1)


def test_count_answer_sums_recognisable_and_rejects_ambiguous() -> None:
    images = [{"dog": ClassFact(2, 2), "cat": SMALL}, {"dog": ClassFact(3, 3)}, {}]
    assert count_answer(images, ["dog"]) == {"dog": 5}
    with pytest.raises(AnswerError, match="'cat' instances that cannot be counted"):
        count_answer(images, ["dog", "cat"])
    crowd = [{"dog": ClassFact(3, 2, n_group=1)}]
    with pytest.raises(AnswerError):
        count_answer(crowd, ["dog"])
    assert count_answer(crowd, ["dog"], group_blocks_counting=False) == {"dog": 2}


def test_common_answer_unique_under_both_readings() -> None:
    assert common_answer([{"dog": BIG, "cat": BIG}, {"dog": BIG}]) == "dog"
    with pytest.raises(AnswerError):  # cat present (small) in both: not unique when lenient
        common_answer([{"dog": BIG, "cat": SMALL}, {"dog": BIG, "cat": BIG}])
    with pytest.raises(AnswerError):  # dog not recognisable everywhere
        common_answer([{"dog": BIG}, {"dog": CROWD}])


def test_odd_one_answer_rules() -> None:
    ctx = {"person": BIG}
    images = [{**ctx, "dog": BIG}, ctx, ctx, ctx]
    assert odd_one_answer(images) == "dog"
    # A context class recognisable in only one of four images is a second odd candidate.
    skewed = [{**ctx, "dog": BIG}, ctx, {"person": SMALL}, {"person": SMALL}]
    with pytest.raises(AnswerError):
        odd_one_answer(skewed)
    # ...but one that is never recognisable is invisible under the strict reading: fine.
    faint = [{"person": SMALL, "dog": BIG}, {"person": SMALL}, {"person": SMALL}]
    assert odd_one_answer(faint) == "dog"
    with pytest.raises(AnswerError, match="not a strict minority"):
        odd_one_answer(images[:2])
    assert odd_one_answer([{"a": BIG, "p": BIG}, {"a": BIG, "p": BIG}, *[{"p": BIG}] * 3], 2) == "a"


def test_listing_answer_rejects_ambiguous_members() -> None:
    members = {"dog", "cat", "horse"}
    assert listing_answer([{"dog": BIG, "car": BIG}, {"cat": BIG}], members) == ["cat", "dog"]
    # Small in one image, recognisable in another: the member is still unambiguous.
    assert listing_answer([{"dog": SMALL}, {"dog": BIG}], members) == ["dog"]
    with pytest.raises(AnswerError, match=r"\['horse'\] are present only ambiguously"):
        listing_answer([{"dog": BIG, "horse": CROWD}], members)
