"""``mimicgen probe --shard i/n`` keeps twin families whole (paired scores need every member of a
family in one run), with balanced shards, and the merge equals the unsharded run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.probes.benchmark import load_benchmark
from mimicgen.probes.runner import RunOptions, select_items
from tests.probes.conftest import write_benchmark


def _families_of(bench: Path) -> dict[str, str]:
    """id -> family, read from the raw records (a record outside families is its own)."""
    rows = [json.loads(line) for line in (bench / "benchmark.jsonl").read_text().splitlines()]
    return {r["id"]: r.get("family", r["id"]) for r in rows}


def _check_split(bench: Path, n: int) -> list[list[str]]:
    fam = _families_of(bench)
    items = load_benchmark(bench)
    shards = [[it.id for it in select_items(items, RunOptions(shard=(i, n)))] for i in range(n)]
    # every record exactly once, each shard in benchmark order
    assert sorted(q for s in shards for q in s) == sorted(fam)
    order = list(fam)
    assert all(s == sorted(s, key=order.index) for s in shards)
    # every family in one shard
    home: dict[str, set[int]] = {}
    for i, s in enumerate(shards):
        for q in s:
            home.setdefault(fam[q], set()).add(i)
    assert all(len(v) == 1 for v in home.values())
    # balanced: sizes differ by at most the largest family
    largest = max(Counter(fam.values()).values())
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= largest
    # deterministic
    again = [[it.id for it in select_items(items, RunOptions(shard=(i, n)))] for i in range(n)]
    assert again == shards
    return shards


@pytest.mark.parametrize("n", [2, 3, 5])
def test_twin_build_shards_keep_families_whole_and_balanced(twin_build: Path, n: int) -> None:
    _check_split(twin_build, n)
    fam = _families_of(twin_build)
    assert len(set(fam.values())) < len(fam)  # the build has twins (the test can fail)


def test_records_without_families_stay_round_robin(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "b")
    items = load_benchmark(bench)
    for n in (1, 2, 3):
        for i in range(n):
            got = [it.id for it in select_items(items, RunOptions(shard=(i, n)))]
            assert got == [it.id for it in items][i::n]


def _family_benchmark(folder: Path) -> Path:
    """write_benchmark's 3 queries as families: q-0 with two order twins, q-1 alone (no
    family keys), q-2 with one twin. Round-robin over 2 shards would split q-0's family."""
    write_benchmark(folder)
    rows = [json.loads(line) for line in (folder / "benchmark.jsonl").read_text().splitlines()]
    out = []
    for r in rows:
        if r["id"] == "q-1":
            out.append(r)
            continue
        twins = ["permute-r1", "permute-r2"] if r["id"] == "q-0" else ["permute-r1"]
        out.append({**r, "family": r["id"], "variant": "base", "twin": {"control": "base"}})
        for k, v in enumerate(twins, 1):
            imgs = r["images"][k:] + r["images"][:k]
            imgs = [{**im, "position": p} for p, im in enumerate(imgs)]
            out.append(
                {
                    **r,
                    "id": f"{r['id']}~{v}",
                    "images": imgs,
                    "family": r["id"],
                    "variant": v,
                    "twin": {"control": "permute"},
                }
            )
    (folder / "benchmark.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    return folder


def test_family_benchmark_splits_whole(tmp_path: Path) -> None:
    shards = _check_split(_family_benchmark(tmp_path / "b"), 2)
    assert shards[0] == ["q-0", "q-0~permute-r1", "q-0~permute-r2"]


def test_probe_cli_shards_merge_to_the_unsharded_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from mimicgen.probes.tiny import build_tiny_model

    model = build_tiny_model("qwen2_vl", tmp_path / "model")
    bench = _family_benchmark(tmp_path / "b")
    common = ["--model", str(model), "--benchmark", str(bench)]
    common += ["--dtype", "float32", "--probe", "none", "--max-new-tokens", "3"]
    run = CliRunner()
    assert run.invoke(app, ["probe", *common, "--out", str(tmp_path / "full")]).exit_code == 0
    fam = _families_of(bench)
    for i in range(2):
        res = run.invoke(
            app, ["probe", *common, "--out", str(tmp_path / "sh"), "--shard", f"{i}/2"]
        )
        assert res.exit_code == 0, res.output
        part = (tmp_path / f"sh/none/shards/{i}-of-2/predictions.jsonl").read_text().splitlines()
        ids = [json.loads(line)["id"] for line in part]
        # a family in this shard has all its members here
        assert sorted(ids) == sorted(q for q in fam if fam[q] in {fam[x] for x in ids})
    assert run.invoke(app, ["probe-merge", str(tmp_path / "sh")]).exit_code == 0
    merged = (tmp_path / "sh/none/predictions.jsonl").read_bytes()
    assert merged == (tmp_path / "full/none/predictions.jsonl").read_bytes()
