"""Determinism, shard equivalence, class-pool uniformity, balancing and named errors."""

from __future__ import annotations

import numpy as np
import pytest

from mimicgen.errors import SamplingError, SpecError
from mimicgen.tasks import sample
from mimicgen.tasks.common_task import CommonSpec
from mimicgen.tasks.counting import CountingSpec
from mimicgen.tasks.listing import ListingSpec
from mimicgen.tasks.odd_one import OddOneSpec

from .random_index import random_index
from .rawcheck import check_query


@pytest.fixture(scope="module")
def rich():
    """A source where every class is common, recognisable and countable in many images."""
    return random_index(
        3,
        n_images=400,
        n_classes=6,
        n_parents=2,
        max_classes_per_image=2,
        p_small=0.0,
        p_group=0.0,
    )


ALL = [
    CountingSpec(name="cb", num_queries=100, n_images=5, spread=(1, 3)),
    CountingSpec(name="cu", num_queries=100, n_images=(2, 9), balanced=False),
    CommonSpec(name="co", num_queries=100, n_images=(2, 4)),
    OddOneSpec(name="oo", num_queries=100, n_images=(3, 5)),
    ListingSpec(name="li", num_queries=100, n_images=(2, 6)),
]


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_deterministic_and_shard_equivalent(rich, spec) -> None:
    index, raw, members = rich
    full = [q.model_dump() for q in sample(spec, index)]
    again = [q.model_dump() for q in sample(spec, index)]
    assert full == again
    parts = sample(spec, index, range(50)) + sample(spec, index, range(50, 100))
    assert [q.model_dump() for q in parts] == full
    assert [q["id"] for q in full] == [f"{spec.name}-{i:06d}" for i in range(100)]
    for q in full:
        assert check_query(q, raw, 0.05, members) == []
    # Another seed gives other queries.
    other = sample(spec.model_copy(update={"seed": spec.seed + 1}), index, range(20))
    assert [q.model_dump() for q in other] != full[:20]


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_index_with_gaps_keeps_each_image_its_own_id_and_file(rich, spec) -> None:
    """Dropping images (as a training set's --exclude does) leaves gaps in image_idx: queries
    still name each image's own source id and file, and never a dropped image."""
    import dataclasses

    index, raw, members = rich
    dropped = set(range(1000, 1400, 3))
    keep = ~index.images.get_column("source_id").is_in(sorted(dropped))
    images = index.images.filter(keep)
    table = index.table.join(images.select("image_idx"), on="image_idx", how="semi")
    gappy = dataclasses.replace(index, images=images, table=table)
    for q in sample(spec.model_copy(update={"num_queries": 30}), gappy):
        assert check_query(q, raw, 0.05, members) == []
        for img in q.images:
            assert img.source_id not in dropped
            assert img.file_name == f"{img.source_id}.jpg"


def _chi_square_ok(counts: np.ndarray) -> bool:
    """Pearson chi-square against uniform, at the 0.1% level (critical values by df)."""
    crit = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52}
    expected = counts.sum() / counts.size
    stat = float(((counts - expected) ** 2 / expected).sum())
    return stat < crit[counts.size - 1]


def test_unbalanced_counting_classes_are_uniform_over_the_pool(rich) -> None:
    index, _, _ = rich
    pool = ("class0", "class2", "class3", "class5")
    spec = CountingSpec(
        name="u", num_queries=600, n_images=3, balanced=False, class_pool=pool, spread=1
    )
    classes = [next(iter(q.answer["counts"])) for q in sample(spec, index)]
    assert set(classes) == set(pool)
    counts = np.array([classes.count(c) for c in pool])
    assert _chi_square_ok(counts), counts
    # Skewed draws would fail the same check.
    assert not _chi_square_ok(np.array([300, 100, 100, 100]))


def test_balancing_is_exact_per_block(rich) -> None:
    index, _, _ = rich
    totals = [q.controls["total"] for q in sample(ALL[0], index, range(99))]
    assert [totals.count(t) for t in (2, 3, 4)] == [33, 33, 33]
    answers = [q.answer["class"] for q in sample(ALL[2], index, range(60))]
    assert sorted({answers.count(c) for c in set(answers)}) == [10]


def test_impossible_specs_name_constraint_and_counts(rich) -> None:
    index, _, _ = rich
    with pytest.raises(SamplingError, match=r"k=3 target classes needed but only 2 of 2"):
        sample(CountingSpec(name="x", n_images=4, k=3, class_pool=("class0", "class1")), index)
    with pytest.raises(SamplingError, match=r"no pool class can reach a total of 40"):
        sample(CountingSpec(name="x", n_images=4, totals=(40,), spread=1), index)
    with pytest.raises(SamplingError, match=r"only \d+ distractor images"):
        sample(
            CountingSpec(
                name="x", num_queries=3, n_images=399, balanced=False, spread=1, max_attempts=5
            ),
            index,
        )
    with pytest.raises(SpecError, match=r"class_pool names 1 class.*'clas0' \(did you mean"):
        sample(CommonSpec(name="x", class_pool=("clas0",)), index)
    with pytest.raises(SpecError, match=r"unknown category node"):
        sample(ListingSpec(name="x", category="nope"), index)
    with pytest.raises(SpecError, match=r"outside the spec's 100 queries"):
        sample(ALL[0], index, range(90, 110))


def test_spec_level_constraints() -> None:
    with pytest.raises(ValueError, match="spread minimum 5 exceeds n_images minimum 4"):
        CountingSpec(n_images=4, spread=5)
    with pytest.raises(ValueError, match="not a strict minority"):
        OddOneSpec(n_images=4, minority=2)
    with pytest.raises(ValueError, match="extra"):
        CountingSpec(sprad=2)  # type: ignore[call-arg]


def test_n_images_median_sets_the_median_and_keeps_the_range(rich) -> None:
    """Table 1's unbalanced counting shape: 2-35 images, median 15 (uniform would give ~19)."""
    index, raw, members = rich
    spec = CountingSpec(
        name="m", num_queries=400, n_images=(2, 35), n_images_median=15, balanced=False, spread=1
    )
    queries = sample(spec, index)
    n = np.array([q.controls["n_images"] for q in queries])
    assert np.array_equal(n, [len(q.images) for q in queries])
    assert np.median(n) == 15
    assert n.min() <= 4 and n.max() >= 32  # both halves of the range are used
    # Halves are equally likely: P(n < 15) = 1/2 * 13/14, P(n > 15) = 1/2 * 20/21.
    assert abs((n < 15).mean() - 13 / 28) < 0.08 and abs((n > 15).mean() - 10 / 21) < 0.08
    for q in queries[:50]:
        assert check_query(q, raw, 0.05, members) == []
    uniform = CountingSpec(name="m", num_queries=400, n_images=(2, 35), balanced=False, spread=1)
    assert np.median([q.controls["n_images"] for q in sample(uniform, index)]) > 16


def test_n_images_median_outside_the_range_is_a_spec_error() -> None:
    with pytest.raises(ValueError, match=r"n_images_median 40 lies outside n_images \[2, 35\]"):
        CountingSpec(n_images=(2, 35), n_images_median=40)
    with pytest.raises(ValueError, match=r"n_images_median 5 lies outside n_images \[4, 4\]"):
        CommonSpec(n_images=4, n_images_median=5)
