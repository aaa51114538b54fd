"""OpenImages strict mode: a class is absent only where an image-level label verifies it."""

from __future__ import annotations

import polars as pl
import pytest

from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import build_index
from mimicgen.sources.base import BOX_SCHEMA, CLASS_SCHEMA, LABEL_SCHEMA, Hierarchy, SourceData
from mimicgen.tasks import sample
from mimicgen.tasks.counting import CountingSpec


def _source() -> SourceData:
    n = 20
    images = pl.DataFrame(
        {
            "image_idx": list(range(n)),
            "source_id": [f"oi{i:03d}" for i in range(n)],
            "file_name": [f"oi{i:03d}.jpg" for i in range(n)],
            "width": [None] * n,
            "height": [None] * n,
        },
        schema={
            "image_idx": pl.UInt32,
            "source_id": pl.String,
            "file_name": pl.String,
            "width": pl.Int32,
            "height": pl.Int32,
        },
    )
    classes = pl.DataFrame(
        {
            "class_idx": [0, 1],
            "source_class_id": ["/m/a", "/m/b"],
            "name": ["Apple", "Bee"],
            "parent": [None, None],
        },
        schema={**CLASS_SCHEMA, "source_class_id": pl.String},
    )
    # Apple (one big box) in images 0-4, Bee in 5-9, nothing annotated in 10-19.
    boxes = pl.DataFrame(
        [
            {
                "image_idx": i,
                "class_idx": 0 if i < 5 else 1,
                "x0": 0.0,
                "y0": 0.0,
                "x1": 0.5,
                "y1": 0.5,
                "area_frac": 0.25,
                "is_group": False,
                "is_occluded": False,
                "is_truncated": False,
                "is_depiction": False,
            }
            for i in range(10)
        ],
        schema=BOX_SCHEMA,
    )
    # Apple verified absent only in images 10-14.
    labels = pl.DataFrame(
        {"image_idx": list(range(10, 15)), "class_idx": [0] * 5, "confidence": [0.0] * 5},
        schema=LABEL_SCHEMA,
    )
    return SourceData(
        kind="openimages",
        images=images,
        classes=classes,
        boxes=boxes,
        hierarchy=Hierarchy(),
        files=(),
        image_root=None,
        labels=labels,
    )


def _apple_spec(rules: PresenceRules, num_queries: int) -> CountingSpec:
    """Unbalanced counting of Apple: one evidence image, two distractors per query."""
    return CountingSpec(
        name="oi",
        num_queries=num_queries,
        n_images=3,
        spread=1,
        balanced=False,
        class_pool=("Apple",),
        presence=rules,
    )


@pytest.mark.parametrize("strict", [True, False])
def test_distractors_need_verified_absence(strict: bool) -> None:
    rules = PresenceRules(openimages_strict=strict)
    index = build_index(_source(), rules)
    spec = _apple_spec(rules, num_queries=40)
    distractors = {
        int(i.source_id[2:])
        for q in sample(spec, index)
        for i in q.images
        if i.role == "distractor"
    }
    if strict:
        assert distractors <= set(range(10, 15))
    else:
        assert distractors <= set(range(5, 20)) and distractors - set(range(10, 15))


def test_strict_without_labels_is_an_error_not_a_silent_relaxation() -> None:
    import dataclasses

    from mimicgen.errors import SpecError

    rules = PresenceRules(openimages_strict=True)
    index = build_index(dataclasses.replace(_source(), labels=None), rules)
    spec = _apple_spec(rules, num_queries=2)
    with pytest.raises(SpecError, match="labels-csv"):
        sample(spec, index)
