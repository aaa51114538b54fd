"""End to end on the built-in synthetic source with the real samplers: build, shard, validate."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.errors import InputError

runner = CliRunner()

SPECS = {
    "count.yaml": "task: counting\nnum_queries: 12\nn_images: [3, 5]\nk: [1, 2]\n",
    "common.yaml": "task: common\nnum_queries: 6\nn_images: [2, 4]\n",
    "odd.yaml": "task: odd_one\nnum_queries: 6\nn_images: [3, 5]\n",
    "listing.yaml": "task: listing\nnum_queries: 6\nn_images: [2, 4]\n",
}
SOURCE = "source: {kind: synthetic, n_images: 120, seed: 3}\nseed: 11\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    (root / "specs").mkdir()
    for name, text in SPECS.items():
        (root / "specs" / name).write_text(text + SOURCE)
    old = os.environ.get("MIMICGEN_CACHE_DIR")
    os.environ["MIMICGEN_CACHE_DIR"] = str(root / "cache")
    yield root
    if old is None:
        os.environ.pop("MIMICGEN_CACHE_DIR")
    else:
        os.environ["MIMICGEN_CACHE_DIR"] = old


def cli(*args: str):
    res = runner.invoke(app, list(args))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def full(env):
    res = cli("build", str(env / "specs"), "--out", str(env / "full"))
    assert res.exit_code == 0, res.output
    assert "wrote 30 queries to" in res.stdout
    return env / "full"


def test_rebuild_is_byte_identical_and_valid(env, full):
    cli("build", str(env / "specs"), "--out", str(env / "again"))
    assert tree(env / "again") == tree(full)
    res = cli("validate", str(full))
    assert res.exit_code == 0 and res.stdout.strip() == "30 queries valid", res.output
    recs = [json.loads(x) for x in (full / "benchmark.jsonl").read_text().splitlines()]
    assert {r["task"] for r in recs} == {"counting", "common", "odd_one", "listing"}
    manifest = json.loads((full / "manifest.json").read_text())
    assert manifest["sources"][0]["kind"] == "synthetic" and manifest["seed"] == 11
    assert list(manifest["stats"]) == ["common", "counting", "listing", "odd_one"]  # spec order


def test_shards_concatenate_and_merge_to_the_full_build(env, full):
    parts = []
    for i in range(3):
        out = env / f"shard{i}"
        assert (
            cli("build", str(env / "specs"), "--out", str(out), "--shard", f"{i}/3").exit_code == 0
        )
        parts.append(out)
    joined = b"".join((p / "benchmark.jsonl").read_bytes() for p in parts)
    assert joined == (full / "benchmark.jsonl").read_bytes()
    assert cli("merge", str(env / "merged"), *map(str, parts)).exit_code == 0
    assert tree(env / "merged") == tree(full)


def test_validate_catches_a_tampered_real_answer(env, full, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(full, copy)
    lines = (copy / "benchmark.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    assert rec["task"] == "common"  # specs build in file-name order: common.yaml first
    rec["answer"]["class"] = "no-such-class"
    lines[0] = json.dumps(rec, ensure_ascii=False)
    (copy / "benchmark.jsonl").write_text("\n".join(lines) + "\n")
    res = cli("validate", str(copy))
    assert res.exit_code == 2 and rec["id"] in res.stderr


def test_seed_and_smoke_overrides(env):
    out = env / "smoke"
    res = cli(
        "build",
        str(env / "specs" / "count.yaml"),
        "--out",
        str(out),
        "--smoke",
        "--seed",
        "5",
        "--no-images",
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_queries"] == 5 and manifest["seed"] == 5
    assert manifest["spec"]["count"]["seed"] == 5 and manifest["images"] == {"mode": "none"}
    assert not (out / "images").exists()
    with pytest.raises(InputError, match="--overwrite"):
        cli("build", str(env / "specs" / "count.yaml"), "--out", str(out), "--smoke")


def test_manifest_names_the_render_cache_by_placeholder(env, full, tmp_path, monkeypatch):
    """The same spec gives the same manifest whatever the cache folder (another machine)."""
    entry = json.loads((full / "manifest.json").read_text())["sources"][0]
    assert entry["annotations"] == "<cache>/synthetic/n120-s3-v1/annotations.json"
    assert entry["image_root"] == "<cache>/synthetic/n120-s3-v1/images"
    assert [f["path"] for f in entry["files"]] == [entry["annotations"]]
    raw = env / "cache" / "synthetic" / "n120-s3-v1" / "annotations.json"
    assert entry["sha256"] == hashlib.sha256(raw.read_bytes()).hexdigest()
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path / "other-cache"))
    assert cli("build", str(env / "specs"), "--out", str(tmp_path / "elsewhere")).exit_code == 0
    assert tree(tmp_path / "elsewhere") == tree(full)


def test_validate_elsewhere_re_renders_the_synthetic_source(env, full, tmp_path, monkeypatch):
    # Another machine: the build's render cache is not there, a fresh cache is used instead.
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path / "fresh-cache"))
    manifest = json.loads((full / "manifest.json").read_text())
    annotations = manifest["sources"][0]["annotations"]
    built_at = Path(annotations.replace("<cache>", str(env / "cache"), 1))
    hidden = built_at.with_name("hidden.json")
    built_at.rename(hidden)
    try:
        res = cli("validate", str(full))
    finally:
        hidden.rename(built_at)
    assert res.exit_code == 0 and res.stdout.strip() == "30 queries valid", res.output
    assert (tmp_path / "fresh-cache").exists()


def test_interrupted_real_build_resumes_to_the_same_bytes(env, full, monkeypatch):
    from mimicgen.build import eval_set as bm
    from mimicgen.specs import load_suite

    specs = load_suite([env / "specs"])
    real_write = bm._ChunkWriter.write
    calls = {"n": 0}

    def killed_on_third(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_write(self, *args, **kwargs)

    out = env / "resumed"
    monkeypatch.setattr(bm._ChunkWriter, "write", killed_on_third)
    with pytest.raises(KeyboardInterrupt):
        bm.build_eval_set(specs, bm.BuildOptions(out=out, chunk_size=4))
    monkeypatch.setattr(bm._ChunkWriter, "write", real_write)
    result = bm.build_eval_set(specs, bm.BuildOptions(out=out, chunk_size=4))
    assert result.resumed_chunks == 2
    assert tree(out) == tree(full)
