"""The speed shortcuts of the training writer give exactly what the plain code paths give:
same values and the same generator state afterwards (so later draws do not shift)."""

from __future__ import annotations

import numpy as np
import pytest

from mimicgen.export.options import class_distractors
from mimicgen.tasks.derive import AnswerError, ClassFact, count_answer
from mimicgen.tasks.multiturn import _count
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


@pytest.mark.parametrize("group_blocks", [True, False])
def test_count_matches_count_answer(group_blocks: bool) -> None:
    draw = np.random.default_rng(3)
    for _ in range(500):
        facts = [
            {
                c: ClassFact(*(int(v) for v in draw.integers(0, 3, size=4)))
                for c in ("a", "b", "c")
                if draw.random() < 0.6
            }
            for _ in range(int(draw.integers(1, 5)))
        ]
        for c in ("a", "b", "c"):
            try:
                want: int | None = count_answer(facts, [c], group_blocks)[c]
            except AnswerError:
                want = None
            assert _count(facts, c, group_blocks) == want


def test_construct_equals_model_construct() -> None:
    image = {"image_idx": 3, "source_id": "x1", "file_name": "a/b.jpg", "position": 0,
             "role": "query", "class_counts": {"dog": 2}}
    fast_img = _construct(QueryImage, dict(image))
    plain_img = QueryImage.model_construct(**image)
    assert fast_img == plain_img and fast_img.model_dump() == plain_img.model_dump()
    assert fast_img.model_fields_set == plain_img.model_fields_set
    query = {"id": "s-000001", "task": "counting", "question": "How many dogs?",
             "answer": {"counts": {"dog": 2}}, "answer_text": "2", "images": [fast_img],
             "controls": {"n_images": 1}, "template": {"task": "t1", "connector": "c1"}}
    fast, plain = _construct(Query, dict(query)), Query.model_construct(**query)
    assert fast == plain
    assert fast.model_dump_json() == plain.model_dump_json()
    assert list(fast.__dict__) == list(Query.model_fields)
