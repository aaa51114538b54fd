"""No image set repeats within a spec: repeats of earlier sets are redrawn in query order, any
split into ranges, chunks or shards gives the same queries, and a pool out of distinct sets
stops with one line. Image sets are re-read from the queries and records with plain Python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicgen.build.eval_set import BuildOptions, build_eval_set, merge_shards
from mimicgen.build.images import ImageMode
from mimicgen.errors import SamplingError
from mimicgen.index.table import build_index
from mimicgen.sources.coco import read_coco
from mimicgen.sources.spec import SourceSpec
from mimicgen.tasks import sample
from mimicgen.tasks.counting import CountingSpec
from mimicgen.tasks.odd_one import OddOneSpec

from .rawcheck import check_query, raw_from_coco_json


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from mimicgen.sources.synthetic import render_dataset

    ann = render_dataset(tmp_path_factory.mktemp("synth") / "ds", 200, 7, image_size=64)
    return build_index(read_coco(ann)), json.loads(ann.read_text())


def _sets(queries) -> list[tuple]:
    return [tuple(sorted(i.source_id for i in q.images)) for q in queries]


#: First draws of these specs repeat image sets (odd-one: a few dozen distinct sets on the
#: synthetic scenes; counting with 2 images: a birthday collision).
ODD = OddOneSpec(name="oo", num_queries=30, n_images=(3, 5))
PAIRS = CountingSpec(name="cu", num_queries=60, n_images=2, spread=1, balanced=False)


@pytest.mark.parametrize("spec", [ODD, PAIRS], ids=lambda s: s.name)
def test_no_image_set_repeats_within_a_spec(synthetic, spec) -> None:
    index, data = synthetic
    raw, members = raw_from_coco_json(data)
    queries = sample(spec, index)
    sets = _sets(queries)
    assert len(queries) == spec.num_queries and len(set(sets)) == len(sets)
    for q in queries:
        assert check_query(q, raw, 0.05, members) == []


@pytest.mark.parametrize("spec", [ODD, PAIRS], ids=lambda s: s.name)
def test_any_split_into_ranges_gives_the_full_run(synthetic, spec) -> None:
    index, _ = synthetic
    full = [q.model_dump() for q in sample(spec, index)]
    n = spec.num_queries
    in_order = sample(spec, index, range(n // 3)) + sample(spec, index, range(n // 3, n))
    assert [q.model_dump() for q in in_order] == full
    # A later range alone (a shard, a resumed build) replays the queries before it.
    tail = sample(spec, index, range(2 * n // 3, n))
    assert [q.model_dump() for q in tail] == full[2 * n // 3 :]
    head = sample(spec, index, range(n // 2))  # going back restarts from query 0
    assert [q.model_dump() for q in head] == full[: n // 2]


def test_a_pool_out_of_distinct_sets_stops_in_one_line(synthetic) -> None:
    index, _ = synthetic
    with pytest.raises(SamplingError) as err:
        sample(ODD.model_copy(update={"num_queries": 200}), index)
    msg = str(err.value)
    assert "\n" not in msg and "num_queries 200" in msg
    assert "odd_one spec 'oo': query " in msg and " in 100 redraws (" in msg
    distinct = int(msg.split(" redraws (")[1].split()[0])
    assert 30 <= distinct < 200


def test_sharded_chunked_build_concatenates_to_the_full_build(coco_tiny: Path, tmp_path) -> None:
    """coco_tiny train holds a handful of 3-image odd-one sets: first draws repeat often. Shards
    of 2-query chunks merge into the unsharded build byte for byte, with no set repeated."""
    ann = coco_tiny / "annotations" / "instances_train2017.json"
    spec = OddOneSpec(
        name="oo",
        num_queries=8,
        n_images=3,
        max_attempts=1000,
        source=SourceSpec(kind="coco", annotations=str(ann)),
    )
    none = ImageMode(kind="none")
    build_eval_set([spec], BuildOptions(out=tmp_path / "full", image_mode=none))
    for i in range(3):
        opts = BuildOptions(out=tmp_path / f"s{i}", image_mode=none, shard=(i, 3), chunk_size=2)
        build_eval_set([spec], opts)
    merge_shards(tmp_path / "merged", [tmp_path / f"s{i}" for i in range(3)])
    full = (tmp_path / "full" / "benchmark.jsonl").read_bytes()
    assert (tmp_path / "merged" / "benchmark.jsonl").read_bytes() == full
    recs = [json.loads(x) for x in full.decode().splitlines()]
    sets = [tuple(sorted(i["source_id"] for i in r["images"])) for r in recs]
    assert len(recs) == 8 and len(set(sets)) == 8
