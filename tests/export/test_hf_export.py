"""Hugging Face export: read the Parquet back with polars and the dataset card with yaml."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from scoring.benchfiles import TINY_RECORDS, make_record, write_benchmark

from mimicgen.export import hf


def test_parquet_layout(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    out = hf.export_hf(bench, tmp_path / "hf")
    shards = sorted((out / "data").glob("*.parquet"))
    assert [s.name for s in shards] == ["test-00000-of-00001.parquet"]
    frame = pl.read_parquet(shards[0])
    assert frame["id"].to_list() == [r["id"] for r in TINY_RECORDS]
    assert frame["answer_text"].to_list() == [r["answer_text"] for r in TINY_RECORDS]
    first = frame.row(0, named=True)
    assert [im["bytes"] for im in first["images"]] == [
        (bench / im["path"]).read_bytes() for im in TINY_RECORDS[0]["images"]
    ]
    assert first["image_paths"] == [im["path"] for im in TINY_RECORDS[0]["images"]]
    assert json.loads(first["record"]) == TINY_RECORDS[0]
    features = json.loads(pl.read_parquet_metadata(shards[0])["huggingface"])["info"]["features"]
    assert features["images"] == {"feature": {"_type": "Image"}, "_type": "Sequence"}
    card = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert card["configs"][0]["data_files"][0] == {"split": "test", "path": "data/test-*.parquet"}
    assert card["dataset_info"]["splits"][0]["num_examples"] == len(TINY_RECORDS)
    sha = hashlib.sha256((bench / "manifest.json").read_bytes()).hexdigest()
    assert json.loads((out / "mimicgen_export.json").read_text())["manifest_sha256"] == sha


def test_sharding(tmp_path: Path, monkeypatch) -> None:
    records = [
        make_record(
            f"q{i}",
            "common",
            {"class": "dog"},
            "dog",
            [{"position": 0, "role": "context", "class_counts": {"dog": 1}}],
            {"n_images": 1},
        )
        for i in range(5)
    ]
    bench = write_benchmark(tmp_path / "bench", records)
    monkeypatch.setattr(hf, "SHARD_SIZE", 2)
    out = hf.export_hf(bench, tmp_path / "hf")
    shards = sorted((out / "data").glob("*.parquet"))
    assert [s.name for s in shards] == [f"test-0000{i}-of-00003.parquet" for i in range(3)]
    assert pl.concat([pl.read_parquet(s) for s in shards])["id"].to_list() == [
        f"q{i}" for i in range(5)
    ]


def _decoded_pixels(images: list) -> list[tuple[int, ...]]:
    """Top-left pixel of each decoded image: fails on the raw {bytes, path} dicts."""
    return [im.convert("RGB").getpixel((0, 0)) for im in images]


def test_datasets_loads_folder_and_bare_parquet_as_images(
    tmp_path: Path, monkeypatch, capfd
) -> None:
    """Hugging Face datasets itself: the card loads without the malformed-splits warning, and a
    plain Parquet load (no card) decodes images from the shards' own features metadata."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    out = hf.export_hf(bench, tmp_path / "hf")
    cache = str(tmp_path / "cache")
    capfd.readouterr()
    folder = datasets.load_dataset(str(out), cache_dir=cache)["test"]
    assert "malformed" not in capfd.readouterr().err
    shards = sorted(str(s) for s in (out / "data").glob("*.parquet"))
    bare = datasets.load_dataset("parquet", data_files=shards, cache_dir=cache)["train"]
    # benchfiles paints record i's image j with colour (37 i, 91 j, 7)
    expected = [(37 * 0, 91 * j % 256, 7) for j in range(3)]
    for ds in (folder, bare):
        assert ds[0]["id"] == "c1"
        assert _decoded_pixels(ds[0]["images"]) == expected
        assert _decoded_pixels(ds[7]["images"]) == [
            (37 * 7 % 256, 91 * j % 256, 7) for j in range(3)
        ]
    card = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    split = card["dataset_info"]["splits"][0]
    assert split["num_examples"] == len(TINY_RECORDS) and split["num_bytes"] > 0
    assert card["dataset_info"]["download_size"] == sum(Path(s).stat().st_size for s in shards)


def test_card_license_and_task(tmp_path: Path) -> None:
    sources = [{"kind": "coco", "files": [], "image_root": "x"}, {"kind": "synthetic"}]
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS, sources=sources)
    out = hf.export_hf(bench, tmp_path / "hf")
    card = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert card["task_categories"] == ["visual-question-answering"]
    assert card["size_categories"] == ["n<1K"]
    assert card["license"] == "other" and card["license_name"] == "source-datasets"
    details = card["license_details"]
    assert details.startswith("COCO: annotations CC BY 4.0") and "synthetic:" in details
    assert details in (out / "README.md").read_text().split("---", 2)[2]
