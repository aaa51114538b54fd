"""Golden: the public record and manifest keys (SPEC §4) pinned to ``SCHEMA_VERSION``.

Keys may be added freely; removing or renaming a contract key must bump ``SCHEMA_VERSION`` and
add its key set here. The build is a real one (real samplers, real COCO subset)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mimicgen.bench.reader import SCHEMA_VERSION
from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.registry import get_task

#: SCHEMA_VERSION -> the contract keys (SPEC §4) at that version.
CONTRACT = {
    1: {
        "record": {
            "id",
            "task",
            "question",
            "answer",
            "answer_text",
            "images",
            "controls",
            "template",
        },
        "image": {"path", "source_id", "position", "role", "class_counts"},
        "template": {"task", "connector"},
        "controls": {"n_images"},
        "manifest": {
            "schema_version",
            "generator_version",
            "seed",
            "spec",
            "spec_hash",
            "sources",
            "stats",
            "num_queries",
        },
        "source": {"kind", "annotations", "sha256", "image_root"},
    }
}


def test_records_and_manifest_hold_the_contract_keys(coco_tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keys = CONTRACT[SCHEMA_VERSION]  # a KeyError: the version was bumped without its key set
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "count.yaml").write_text(
        "task: counting\nnum_queries: 3\nn_images: [2, 3]\nbalanced: false\nseed: 1\n"
    )
    (tmp_path / "specs" / "exist.yaml").write_text("task: existence\nnum_queries: 2\nn_images: 2\n")
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        ["build", str(tmp_path / "specs"), "--source", f"coco:{ann}", "--images", "none"]
        + ["--out", str(out)],
        env={"MIMICGEN_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert keys["manifest"] <= set(manifest)
    assert all(keys["source"] <= set(s) for s in manifest["sources"])
    records = [json.loads(x) for x in (out / "benchmark.jsonl").read_text().splitlines()]
    assert {r["task"] for r in records} == {"counting", "existence"}
    for r in records:
        assert keys["record"] <= set(r), r["id"]
        assert keys["template"] <= set(r["template"]) and keys["controls"] <= set(r["controls"])
        assert all(keys["image"] <= set(im) for im in r["images"])
        assert get_task(r["task"]).answer_key in r["answer"]
