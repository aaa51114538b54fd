"""Property tests: on random small indexes every spec either yields valid queries (checked by the
independent raw-box checker) or stops with a SamplingError naming the constraint and counts.

Each property must also sample successfully at least once, so it cannot pass on errors alone;
examples are derandomised so that count is the same on every run."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimicgen.errors import SamplingError
from mimicgen.tasks import sample
from mimicgen.tasks.common_task import CommonSpec
from mimicgen.tasks.counting import CountingSpec
from mimicgen.tasks.listing import ListingSpec
from mimicgen.tasks.odd_one import OddOneSpec

from .random_index import random_index
from .rawcheck import check_query

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: "sampled" / "error" per example of the property being run.
OUTCOMES: Counter[str] = Counter()
sources = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10**6),
        "n_images": st.integers(3, 60),
        "n_classes": st.integers(2, 8),
        "n_parents": st.integers(1, 3),
        "max_classes_per_image": st.integers(1, 4),
        "p_small": st.sampled_from([0.0, 0.3, 0.7]),
        "p_group": st.sampled_from([0.0, 0.15]),
    }
)


def _run(spec, src) -> None:
    index, raw, members = random_index(**src)
    try:
        queries = sample(spec, index)
    except SamplingError as exc:
        msg = str(exc)
        assert f"spec '{spec.name}'" in msg and re.search(r"\d", msg), msg
        OUTCOMES["error"] += 1
        return
    OUTCOMES["sampled"] += 1
    assert len(queries) == spec.num_queries
    for q in queries:
        assert check_query(q, raw, 0.05, members) == [], q


@SETTINGS
@given(
    src=sources,
    n=st.integers(1, 8),
    k=st.integers(1, 3),
    balanced=st.booleans(),
    totals=st.lists(st.integers(1, 5), min_size=1, max_size=3),
)
def _counting_property(src, n, k, balanced, totals) -> None:
    k = min(k, n)
    spec = CountingSpec(
        name="p",
        num_queries=6,
        n_images=n,
        k=k,
        balanced=balanced,
        totals=tuple(totals),
        max_attempts=30,
        seed=src["seed"],
    )
    _run(spec, src)


@SETTINGS
@given(src=sources, lo=st.integers(2, 4), extra=st.integers(0, 3))
def _common_property(src, lo, extra) -> None:
    spec = CommonSpec(name="p", num_queries=6, n_images=(lo, lo + extra), max_attempts=30)
    _run(spec, src)


@SETTINGS
@given(src=sources, lo=st.integers(3, 5), extra=st.integers(0, 2), m=st.integers(1, 2))
def _odd_one_property(src, lo, extra, m) -> None:
    if 2 * m >= lo:
        lo = 2 * m + 1
    spec = OddOneSpec(
        name="p", num_queries=6, n_images=(lo, lo + extra), minority=m, max_attempts=30
    )
    _run(spec, src)


@SETTINGS
@given(src=sources, lo=st.integers(1, 4), extra=st.integers(0, 3))
def _listing_property(src, lo, extra) -> None:
    spec = ListingSpec(name="p", num_queries=6, n_images=(lo, lo + extra), max_attempts=30)
    _run(spec, src)


PROPERTIES: dict[str, Callable[[], None]] = {
    "counting": _counting_property,
    "common": _common_property,
    "odd_one": _odd_one_property,
    "listing": _listing_property,
}


@pytest.mark.parametrize("task", PROPERTIES)
def test_valid_queries_or_named_error(task: str) -> None:
    OUTCOMES.clear()
    PROPERTIES[task]()
    assert OUTCOMES["sampled"] > 0, f"no {task} example sampled: only the errors were checked"
