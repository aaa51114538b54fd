"""Eval-set writer: byte identity, shards, resume, overwrite refusal, image modes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mimicgen.build import eval_set as bm
from mimicgen.build.eval_set import BuildOptions, merge_shards, shard_range
from mimicgen.build.images import parse_image_mode
from mimicgen.errors import InputError
from mimicgen.io import sha256_file
from mimicgen.sources.spec import SourceSpec
from tests.build.fakes import FakeSpec, build_fake_set, make_loaders


@pytest.fixture()
def world(tmp_path: Path):
    index_loader, _ = make_loaders(tmp_path / "src")
    specs = [
        FakeSpec(name="cats_a", source=SourceSpec(kind="coco"), seed=1, num_queries=7),
        FakeSpec(name="cats_b", source=SourceSpec(kind="coco"), seed=2, num_queries=6),
    ]

    def build(out: Path, **kw):
        return build_fake_set(specs, BuildOptions(out=out, **kw), index_loader)

    return build, tmp_path


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (symlinks as their target path), keyed by relative path."""
    out = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(folder))
            out[rel] = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
    return out


def test_records_follow_the_contract(world):
    build, tmp = world
    res = build(tmp / "out")
    lines = (tmp / "out" / "benchmark.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 13 == res.num_queries
    rec = json.loads(lines[0])
    assert list(rec) == [
        "id",
        "task",
        "question",
        "answer",
        "answer_text",
        "images",
        "controls",
        "template",
        "spec",
    ]
    assert list(rec["images"][0]) == [
        "path",
        "source_id",
        "position",
        "role",
        "class_counts",
        "sha256",
    ]
    assert "кошки" in lines[0]  # ensure_ascii=False: UTF-8 text, not \u escapes
    # Paths are relative, under images/<kind>/, deduplicated, and hash to what is recorded.
    recs = [json.loads(x) for x in lines]
    for r in recs:
        for img in r["images"]:
            assert img["path"].startswith("images/coco/")
            assert sha256_file(tmp / "out" / img["path"]) == img["sha256"]
            src = tmp / "src" / "imgs" / Path(img["path"]).name
            assert (tmp / "out" / img["path"]).read_bytes() == src.read_bytes()
    used = {img["path"] for r in recs for img in r["images"]}
    on_disk = {str(p.relative_to(tmp / "out")) for p in (tmp / "out" / "images").rglob("*.png")}
    assert used == on_disk
    manifest = json.loads((tmp / "out" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["num_queries"] == 13
    assert list(manifest["spec"]) == ["cats_a", "cats_b"]
    assert manifest["seed"] == 1 and manifest["seeds"] == {"cats_a": 1, "cats_b": 2}
    src_entry = manifest["sources"][0]
    assert src_entry["kind"] == "coco"
    assert src_entry["sha256"] == sha256_file(tmp / "src" / "annotations.json")
    assert not list(tmp.glob(".out.*")), "no staging or resume folder may remain"


def test_rebuild_is_byte_identical(world):
    build, tmp = world
    build(tmp / "a")
    build(tmp / "b")
    assert tree_bytes(tmp / "a") == tree_bytes(tmp / "b")


def test_chunk_size_changes_nothing(world):
    build, tmp = world
    build(tmp / "a", chunk_size=500)
    build(tmp / "b", chunk_size=2)
    assert tree_bytes(tmp / "a") == tree_bytes(tmp / "b")


@pytest.mark.parametrize("n", [2, 3, 5])
def test_shards_concatenate_to_the_unsharded_build(world, n):
    build, tmp = world
    build(tmp / "full")
    full = (tmp / "full" / "benchmark.jsonl").read_bytes()
    parts = [tmp / f"s{i}" for i in range(n)]
    for i, part in enumerate(parts):
        build(part, shard=(i, n), chunk_size=3)
    assert b"".join((p / "benchmark.jsonl").read_bytes() for p in parts) == full
    merge_shards(tmp / "merged", list(reversed(parts)))  # order of arguments does not matter
    assert tree_bytes(tmp / "merged") == tree_bytes(tmp / "full")


def test_merge_refuses_an_incomplete_set(world):
    build, tmp = world
    build(tmp / "s0", shard=(0, 3))
    build(tmp / "s2", shard=(2, 3))
    with pytest.raises(InputError, match="shards 0..2"):
        merge_shards(tmp / "merged", [tmp / "s0", tmp / "s2"])
    assert not (tmp / "merged").exists()


def test_shard_range_blocks_cover_everything_once():
    blocks = [shard_range(13, i, 4) for i in range(4)]
    assert blocks == [(0, 3), (3, 6), (6, 9), (9, 13)]
    with pytest.raises(InputError):
        shard_range(13, 4, 4)


def test_resume_after_interrupt_gives_the_clean_bytes(world, monkeypatch):
    build, tmp = world
    build(tmp / "clean", chunk_size=2)
    calls = {"n": 0}
    real_write = bm._ChunkWriter.write

    def flaky_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # as if Ctrl-C arrived mid-build
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(bm._ChunkWriter, "write", flaky_write)
    with pytest.raises(KeyboardInterrupt):
        build(tmp / "out", chunk_size=2)
    assert not (tmp / "out").exists()
    resume = list(tmp.glob(".out.resume-*"))
    assert len(resume) == 1 and len(list((resume[0] / "chunks").glob("*.jsonl"))) == 3
    monkeypatch.setattr(bm._ChunkWriter, "write", real_write)
    res = build(tmp / "out", chunk_size=2)
    assert res.resumed_chunks == 3
    assert tree_bytes(tmp / "out") == tree_bytes(tmp / "clean")
    assert not list(tmp.glob(".out.resume-*"))


def test_refuses_to_overwrite_without_the_flag(world):
    build, tmp = world
    out = tmp / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="--overwrite"):
        build(out)
    assert (out / "keep.txt").read_text() == "mine"
    build(out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "benchmark.jsonl").exists()


@pytest.mark.parametrize("mode", ["hardlink", "symlink", "resize:16", "none"])
def test_image_modes(world, mode):
    build, tmp = world
    out = tmp / "out"
    build(out, image_mode=parse_image_mode(mode))
    recs = [json.loads(x) for x in (out / "benchmark.jsonl").read_text().splitlines()]
    img = recs[0]["images"][0]
    dest = out / img["path"]
    src = tmp / "src" / "imgs" / dest.name
    if mode == "none":
        assert not (out / "images").exists() and "sha256" not in img
        return
    assert sha256_file(dest) == img["sha256"]
    if mode == "hardlink":
        assert dest.stat().st_ino == src.stat().st_ino
    elif mode == "symlink":
        assert dest.is_symlink() and Path(os.readlink(dest)) == src.resolve()
    else:
        from PIL import Image

        with Image.open(dest) as im:
            assert max(im.size) == 16
        build(tmp / "again", image_mode=parse_image_mode(mode))
        assert (tmp / "again" / img["path"]).read_bytes() == dest.read_bytes()
    assert json.loads((out / "manifest.json").read_text())["images"] == {"mode": mode}


@pytest.mark.parametrize("text", ["resize", "resize:x", "resize:4", "copy:1", "zip"])
def test_bad_image_mode_is_a_one_line_error(text):
    with pytest.raises(InputError, match="--images"):
        parse_image_mode(text)
