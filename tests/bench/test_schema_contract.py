"""Golden: the key sets of a benchmark record, the manifest and the score report (SPEC §4, the
report schema) pinned to the one ``SCHEMA_VERSION``.

Any key added, removed or renamed fails here until ``SCHEMA_VERSION`` is bumped and its key sets
are added below. The build is a real one (real samplers, real COCO subset); the keys are read
with plain ``json``, not through our reader."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

import mimicgen
from mimicgen.bench.reader import SCHEMA_VERSION
from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.registry import get_task
from mimicgen.scoring import score_files

#: SCHEMA_VERSION -> the exact key sets at that version.
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
            "spec",
        },
        "twin_record": {"family", "variant", "twin"},  # added to a record by ``variants:``
        "image": {"path", "source_id", "position", "role", "class_counts", "sha256"},
        "template": {"task", "connector"},
        "manifest": {
            "schema_version",
            "generator_version",
            "seed",
            "seeds",
            "spec",
            "spec_hash",
            "spec_hashes",
            "sources",
            "stats",
            "stats_by_spec",
            "stats_overall",
            "num_queries",
            "images",
        },
        "manifest_optional": {"twins", "shard"},  # builds with ``variants:``; ``--shard``
        "source": {"kind", "annotations", "sha256", "image_root", "files", "prefix"},
        "report": {"schema_version", "benchmark", "seed", "pipelines", "models", "baselines"},
        "report_benchmark": {"path", "manifest_sha256", "num_queries"},
        "report_model": {"name", "predictions", "format", "coverage", "pipelines"},
        "coverage": {
            "n_queries",
            "n_predicted",
            "n_missing",
            "n_unknown_ids",
            "n_duplicates",
            "missing_examples",
            "unknown_id_examples",
            "duplicate_id_examples",
        },
    }
}


def test_one_schema_version_constant() -> None:
    """The benchmark files and the score report share one constant (no second definition)."""
    root = Path(mimicgen.__file__).parent
    defined = [
        str(p.relative_to(root))
        for p in sorted(root.rglob("*.py"))
        if re.search(r"^SCHEMA_VERSION\s*[:=]", p.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert defined == ["bench/reader.py"]


def test_records_manifest_and_report_hold_exactly_the_contract_keys(coco_tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keys = CONTRACT[SCHEMA_VERSION]  # a KeyError: the version was bumped without its key sets
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "count.yaml").write_text(
        "task: counting\nnum_queries: 3\nn_images: [2, 3]\nbalanced: false\nseed: 1\n"
    )
    (tmp_path / "specs" / "exist.yaml").write_text("task: existence\nnum_queries: 2\nn_images: 2\n")
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        ["build", str(tmp_path / "specs"), "--source", f"coco:{ann}", "--out", str(out)],
        env={"MIMICGEN_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert res.exit_code == 0, res.output

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert set(manifest) == keys["manifest"]
    assert all(set(s) == keys["source"] for s in manifest["sources"])
    records = [json.loads(x) for x in (out / "benchmark.jsonl").read_text().splitlines()]
    assert {r["task"] for r in records} == {"counting", "existence"}
    for r in records:
        assert set(r) == keys["record"], r["id"]
        assert set(r["template"]) == keys["template"]
        assert "n_images" in r["controls"]
        assert all(set(im) == keys["image"] for im in r["images"])
        assert get_task(r["task"]).answer_key in r["answer"]

    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": r["id"], "prediction": "2"}) + "\n" for r in records)
    )
    report = score_files(out, [preds])
    assert report["schema_version"] == SCHEMA_VERSION
    assert set(report) == keys["report"]
    assert set(report["benchmark"]) == keys["report_benchmark"]
    (model,) = report["models"]
    assert set(model) == keys["report_model"]
    assert set(model["coverage"]) == keys["coverage"]
