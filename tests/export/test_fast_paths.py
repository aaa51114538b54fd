"""The speed shortcuts of the training writer give exactly what the plain code paths give:
same values and the same generator state afterwards (so later draws do not shift)."""

from __future__ import annotations

import numpy as np
import pytest

from mimicgen.export.options import class_distractors
from mimicgen.tasks.derive import (
    AnswerError,
    ClassFact,
    common_answer,
    count_answer,
    listing_answer,
    odd_one_answer,
)
from mimicgen.tasks.multiturn import _Tally
from mimicgen.tasks.query import Query, QueryImage
from mimicgen.tasks.sampling import _construct

VOCAB = [f"class{i:02d}" for i in range(40)]


@pytest.mark.parametrize("seed", range(300))
def test_class_distractors_positions_shortcut(seed: int) -> None:
    draw = np.random.default_rng(seed)
    vocab = VOCAB[: int(draw.integers(0, len(VOCAB) + 1))]
    pool = [*VOCAB, "not-in-vocabulary"]
    in_images = [pool[i] for i in draw.integers(0, len(pool), size=int(draw.integers(0, 9)))]
    answer = pool[int(draw.integers(len(pool)))]
    n = int(draw.integers(0, 7))
    plain_rng, fast_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    plain = class_distractors(answer, in_images, vocab, n, plain_rng)
    fast = class_distractors(
        answer, in_images, vocab, n, fast_rng, {c: i for i, c in enumerate(vocab)}
    )
    assert fast == plain
    assert answer not in fast and len(set(fast)) == len(fast)
    assert fast_rng.integers(1 << 40) == plain_rng.integers(1 << 40)


def _or_none(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except AnswerError:
        return None


@pytest.mark.parametrize("group_blocks", [True, False])
def test_tally_matches_derive_functions(group_blocks: bool) -> None:
    """The one-pass tally of the extra turns gives what the derive functions give."""
    draw = np.random.default_rng(3)
    names = ("a", "b", "c", "d")
    seen = {"common": 0, "odd_one": 0, "listing": 0, "count": 0}
    for _ in range(3000):
        facts = [
            {
                c: ClassFact(*(int(v) for v in draw.integers(0, 3, size=4)))
                for c in names
                if draw.random() < 0.6
            }
            for _ in range(int(draw.integers(1, 6)))
        ]
        tally = _Tally(facts, group_blocks)
        for c in names:
            if any(c in f for f in facts):  # extra turns only count classes present
                want = _or_none(count_answer, facts, [c], group_blocks)
                want = want[c] if want is not None else None
                assert tally.totals[c] == want
                seen["count"] += want is not None
        want_common = _or_none(common_answer, facts)
        assert tally.common() == want_common
        want_odd = _or_none(odd_one_answer, facts, 1)
        assert tally.odd_one() == want_odd
        members = [c for c in names if draw.random() < 0.5] + ["a"]  # may repeat a member
        want_list = _or_none(listing_answer, facts, members)
        assert tally.listing(frozenset(members)) == (
            tuple(want_list) if want_list is not None else None
        )
        seen["common"] += want_common is not None
        seen["odd_one"] += want_odd is not None
        seen["listing"] += want_list is not None
    assert min(seen.values()) > 20, seen  # every rule accepted some cases, not only rejections


def test_construct_equals_model_construct() -> None:
    image = {
        "image_idx": 3,
        "source_id": "x1",
        "file_name": "a/b.jpg",
        "position": 0,
        "role": "query",
        "class_counts": {"dog": 2},
    }
    fast_img = _construct(QueryImage, dict(image))
    plain_img = QueryImage.model_construct(**image)
    assert fast_img == plain_img and fast_img.model_dump() == plain_img.model_dump()
    assert fast_img.model_fields_set == plain_img.model_fields_set
    query = {
        "id": "s-000001",
        "task": "counting",
        "question": "How many dogs?",
        "answer": {"counts": {"dog": 2}},
        "answer_text": "2",
        "images": [fast_img],
        "controls": {"n_images": 1},
        "template": {"task": "t1", "connector": "c1"},
    }
    fast, plain = _construct(Query, dict(query)), Query.model_construct(**query)
    assert fast == plain
    assert fast.model_dump_json() == plain.model_dump_json()
    assert list(fast.__dict__) == list(Query.model_fields)


@pytest.mark.parametrize(
    "name", ["a.jpg", "0001eeaf4aed83f9.jpg", "x y.png", "dir/a.jpg", "./a.jpg", "a//b.jpg"]
)
@pytest.mark.parametrize("prefix", ["openimages", "coco", ""])
def test_relpath_shortcut(name: str, prefix: str) -> None:
    from mimicgen.export.images import _checked_relpath, image_relpath

    assert image_relpath(prefix, name) == _checked_relpath(prefix, name)


@pytest.mark.parametrize("name", ["", ".", "..", "../a.jpg", "/abs.jpg", "c:/a.jpg", "a\\..\\b"])
def test_relpath_shortcut_rejects_like_image_relpath(name: str) -> None:
    from mimicgen.errors import InputError
    from mimicgen.export.images import _checked_relpath, image_relpath

    with pytest.raises(InputError):
        image_relpath("coco", name)
    with pytest.raises(InputError):
        _checked_relpath("coco", name)
