"""The speed shortcuts of the training writer give exactly what the plain code paths give:
same values and the same generator state afterwards (so later draws do not shift)."""

from __future__ import annotations

import numpy as np
import pytest

from mimicgen.build.options import class_distractors
from mimicgen.index.rules import PresenceRules
from mimicgen.tasks.derive import (
    AnswerError,
    ClassFact,
    Tally,
    common_answer,
    count_answer,
    listing_answer,
    odd_one_answer,
)
from mimicgen.tasks.query import Query, QueryImage
from mimicgen.tasks.sampling import _construct
from mimicgen.validate.checks import derive_turn
from mimicgen.validate.facts import ImageFacts as VImageFacts
from mimicgen.validate.facts import SourceFacts

VOCAB = [f"class{i:02d}" for i in range(40)]


def _distractors_agree(
    seed: int, vocab: list[str], in_images: list[str], answer: str, n: int
) -> None:
    plain_rng, fast_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    plain = class_distractors(answer, in_images, vocab, n, plain_rng)
    fast = class_distractors(
        answer, in_images, vocab, n, fast_rng, {c: i for i, c in enumerate(vocab)}
    )
    assert fast == plain, seed
    assert answer not in fast and len(set(fast)) == len(fast)
    assert fast_rng.integers(1 << 40) == plain_rng.integers(1 << 40)


def test_class_distractors_positions_shortcut() -> None:
    """The edge cases by name (empty vocabulary, answer outside it, more wanted than exist,
    none wanted), then random mixes: one case, not one test per seed."""
    _distractors_agree(0, [], ["class01"], "class01", 3)
    _distractors_agree(1, VOCAB[:3], [], "not-in-vocabulary", 5)
    _distractors_agree(2, VOCAB[:3], VOCAB[:3], "class00", 6)
    _distractors_agree(3, VOCAB, VOCAB[5:9], "class07", 0)
    pool = [*VOCAB, "not-in-vocabulary"]
    for seed in range(150):
        draw = np.random.default_rng(seed)
        vocab = VOCAB[: int(draw.integers(0, len(VOCAB) + 1))]
        in_images = [pool[i] for i in draw.integers(0, len(pool), size=int(draw.integers(0, 9)))]
        answer = pool[int(draw.integers(len(pool)))]
        _distractors_agree(seed, vocab, in_images, answer, int(draw.integers(0, 7)))


def _or_none(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except AnswerError:
        return None


def _validator_facts(facts, group_blocks):  # type: ignore[no-untyped-def]
    """The same images as the independent validator sees them (boxes only, COCO-like)."""
    rules = PresenceRules(group_blocks_counting=group_blocks)
    images = {
        str(i): VImageFacts(
            f"{i}.png",
            boxes={c: f.n_instances for c, f in img.items()},
            recognisable={c: f.n_recognisable for c, f in img.items()},
            small={c: f.n_small for c, f in img.items()},
            group={c: f.n_group for c, f in img.items()},
        )
        for i, img in enumerate(facts)
    }
    names = {c for img in facts for c in img}
    return SourceFacts("coco", rules, images, names, {}, False), list(images.values())


@pytest.mark.parametrize("group_blocks", [True, False])
def test_oracle_agrees_with_the_independent_validator(group_blocks: bool) -> None:
    """The answer oracle (``mimicgen.tasks.derive``, as samplers and training turns use it)
    and ``mimicgen validate``'s own rules give the same answer, or both none, on random
    image sets."""
    draw = np.random.default_rng(3)
    names = ("a", "b", "c", "d")
    seen = {"common": 0, "odd_one": 0, "listing": 0, "count": 0}
    for _ in range(600):
        facts = []
        for _ in range(int(draw.integers(2, 6))):
            img = {}
            for c in names:
                if draw.random() < 0.6:
                    rec, small, group = (int(v) for v in draw.integers(0, 3, size=3))
                    if rec + small + group:
                        img[c] = ClassFact(rec + small + group, rec, small, group)
            facts.append(img)
        source, imgs = _validator_facts(facts, group_blocks)
        tally = Tally(facts, group_blocks)
        for c in names:
            want = _or_none(count_answer, facts, [c], group_blocks)
            got = derive_turn({"task": "counting", "classes": [c]}, source, imgs)
            assert got == (None if want is None else str(want[c]))
            assert tally.count(c) == (None if want is None else want[c])
            seen["count"] += want is not None and want[c] > 0
        want_common = _or_none(common_answer, facts)
        assert derive_turn({"task": "common"}, source, imgs) == want_common == tally.common()
        want_odd = _or_none(odd_one_answer, facts, 1)
        assert derive_turn({"task": "odd_one"}, source, imgs) == want_odd == tally.odd_one()
        members = sorted({c for c in names if draw.random() < 0.5} | {"a"})
        source.hierarchy_children["node"] = tuple(members)
        want_list = _or_none(listing_answer, facts, members)
        got_list = derive_turn({"task": "listing", "category": "node"}, source, imgs)
        assert got_list == (None if want_list is None else ", ".join(want_list))
        seen["common"] += want_common is not None
        seen["odd_one"] += want_odd is not None
        seen["listing"] += want_list is not None
    assert min(seen.values()) > 10, seen  # every rule accepted some cases, not only rejections


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
    from mimicgen.build.images import _checked_relpath, image_relpath

    assert image_relpath(prefix, name) == _checked_relpath(prefix, name)


@pytest.mark.parametrize("name", ["", ".", "..", "../a.jpg", "/abs.jpg", "c:/a.jpg", "a\\..\\b"])
def test_relpath_shortcut_rejects_like_image_relpath(name: str) -> None:
    from mimicgen.build.images import _checked_relpath, image_relpath
    from mimicgen.errors import InputError

    with pytest.raises(InputError):
        image_relpath("coco", name)
    with pytest.raises(InputError):
        _checked_relpath("coco", name)
