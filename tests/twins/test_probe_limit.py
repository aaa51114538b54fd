"""``--limit N`` (probe and predict) keeps twin families whole: the first N records plus the
later members of every family they begin; without twins exactly the first N."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicgen.predict.common import load_queries
from mimicgen.probes.benchmark import load_benchmark
from mimicgen.probes.runner import RunOptions, select_items
from tests.probes.conftest import write_benchmark
from tests.twins.test_probe_shards import _family_benchmark


def _raw(bench: Path) -> list[dict]:
    return [json.loads(line) for line in (bench / "benchmark.jsonl").read_text().splitlines()]


def _expected(bench: Path, limit: int) -> list[str]:
    """Ids, in file order, of every raw record whose family one of the first ``limit`` has."""
    rows = _raw(bench)
    begun = {r.get("family", r["id"]) for r in rows[:limit]}
    return [r["id"] for r in rows if r.get("family", r["id"]) in begun]


def _limited(bench: Path, limit: int) -> list[str]:
    return [it.id for it in select_items(load_benchmark(bench), RunOptions(limit=limit))]


def test_limit_extends_to_the_end_of_the_family(tmp_path: Path) -> None:
    bench = _family_benchmark(tmp_path / "b")
    assert _limited(bench, 1) == ["q-0", "q-0~permute-r1", "q-0~permute-r2"]
    assert _limited(bench, 2) == ["q-0", "q-0~permute-r1", "q-0~permute-r2"]
    assert _limited(bench, 4) == ["q-0", "q-0~permute-r1", "q-0~permute-r2", "q-1"]
    assert _limited(bench, 5) == _expected(bench, 5) == [r["id"] for r in _raw(bench)]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 13])
def test_twin_build_limit_keeps_families_whole(twin_build: Path, limit: int) -> None:
    got = _limited(twin_build, limit)
    assert got == _expected(twin_build, limit)
    assert got[:limit] == [r["id"] for r in _raw(twin_build)[:limit]]
    # predict --limit selects the same queries through the same rule
    assert [q.id for q in load_queries(twin_build, "interleaved", limit)] == got


def test_twin_build_limit_then_shard_keeps_families_whole(twin_build: Path) -> None:
    fam = {r["id"]: r.get("family", r["id"]) for r in _raw(twin_build)}
    want = _expected(twin_build, 7)
    items = load_benchmark(twin_build)
    shards = [
        [it.id for it in select_items(items, RunOptions(limit=7, shard=(i, 2)))] for i in range(2)
    ]
    assert sorted(shards[0] + shards[1]) == sorted(want)
    assert not {fam[q] for q in shards[0]} & {fam[q] for q in shards[1]}


def test_limit_without_twins_is_the_first_n(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "b")
    ids = [r["id"] for r in _raw(bench)]
    for n in (1, 2, 3, 4):
        assert _limited(bench, n) == ids[:n]
        assert [q.id for q in load_queries(bench, "interleaved", n)] == ids[:n]
