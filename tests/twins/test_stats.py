"""Manifest statistics of twin builds: Table 1 rows count base queries only (they equal the rows
of the same specs built without ``variants``), and a ``twins`` block counts the twins, recounted
here from the records and from the image files on disk."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.validate import validate_benchmark
from tests.twins.conftest import read_jsonl, twin_specs


@pytest.fixture(scope="module")
def plain_build(synth_source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "bench"
    specs = [s.model_copy(update={"variants": None}) for s in twin_specs(synth_source)]
    build_eval_set(specs, BuildOptions(out=out))
    return out


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_table1_rows_are_the_base_queries_rows(twin_build: Path, plain_build: Path) -> None:
    twins, plain = _manifest(twin_build), _manifest(plain_build)
    for key in ("stats", "stats_by_spec", "stats_overall"):
        assert twins[key] == plain[key], key
    assert "twins" not in plain
    # num_queries stays the number of lines (every record, twins included)
    assert twins["num_queries"] == len(read_jsonl(twin_build / "benchmark.jsonl"))
    assert twins["stats_overall"]["queries"] == 4 * 12 < twins["num_queries"]


def test_twins_block_recounted_from_records_and_files(twin_build: Path, plain_build: Path) -> None:
    recs = read_jsonl(twin_build / "benchmark.jsonl")
    block = _manifest(twin_build)["twins"]
    twins = [r for r in recs if r["variant"] != "base"]
    assert block["families"] == 4 * 12
    assert block["twins"] == len(twins) == len(recs) - 48
    assert block["by_control"] == dict(Counter(r["variant"].split("-")[0] for r in twins))
    # generated files on disk, by kind (stitch grids are JPEG or PNG, blank/noise PNG)
    files = [p for p in (twin_build / "images" / "twins").rglob("*") if p.is_file()]
    kinds = Counter(
        "stitch" if p.stem == "stitch" else p.stem.split("-")[0] for p in files
    )  # <variant>-<position>.png, variant blank-all / noise-all / blank-distractors
    assert block["generated_images"] == {"total": len(files), **kinds}

    # source images only twins show: the twin build's source files minus the plain build's
    def source_files(folder: Path) -> set[Path]:
        return {
            p.relative_to(folder)
            for p in (folder / "images").rglob("*")
            if p.is_file() and "twins" not in p.relative_to(folder / "images").parts
        }

    extra = source_files(twin_build) - source_files(plain_build)
    assert block["added_source_images"] == len(extra) > 0
    assert set(block["by_spec"]) == {"tc", "tu", "tl", "tm"}
    assert sum(b["twins"] for b in block["by_spec"].values()) == block["twins"]
    assert block["by_spec"]["tm"]["by_control"].keys() == {"permute", "noise"}


def test_validate_recounts_the_twins_block(twin_build: Path, tmp_path: Path) -> None:
    assert validate_benchmark(twin_build).violations == []
    copy = tmp_path / "b"
    shutil.copytree(twin_build, copy, symlinks=True)
    m = _manifest(copy)
    m["twins"]["twins"] += 1
    (copy / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    assert "manifest twins differ from a recount of benchmark.jsonl" in (
        validate_benchmark(copy).violations
    )


def test_build_summary_line_names_the_twins(twin_build: Path) -> None:
    from mimicgen.build.stats import twins_line

    block = _manifest(twin_build)["twins"]
    line = twins_line(block)
    assert f"{block['twins']} in 48 families" in line and "permute" in line
