"""Build and validate on the real 160-image COCO subset (non-contiguous ids, crowd boxes)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mimicgen.cli import app  # importing mimicgen.cli registers the commands

runner = CliRunner()

SPECS = {
    "count.yaml": "task: counting\nnum_queries: 8\nn_images: [2, 4]\nbalanced: false\nseed: 1\n",
    "common.yaml": "task: common\nnum_queries: 4\nn_images: 2\nseed: 2\n",
    "listing.yaml": "task: listing\nnum_queries: 4\nn_images: [2, 3]\nseed: 3\n",
}


def test_coco_build_validates_and_catches_a_swapped_distractor(coco_tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "specs").mkdir()
    for name, text in SPECS.items():
        (tmp_path / "specs" / name).write_text(text)
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["build", str(tmp_path / "specs"), "--source", f"coco:{ann}", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["validate", str(out)])
    assert res.exit_code == 0 and res.stdout.strip() == "16 queries valid", res.output

    # Images are the real JPEGs, byte for byte.
    recs = [json.loads(x) for x in (out / "benchmark.jsonl").read_text().splitlines()]
    img = recs[0]["images"][0]
    assert (out / img["path"]).read_bytes() == (
        coco_tiny / "val2017" / Path(img["path"]).name
    ).read_bytes()

    # Independently of our readers: find, with plain json, a val image that holds the target
    # class of a counting query with a distractor, and put it in the distractor's place.
    raw = json.loads(ann.read_text())
    names = {c["id"]: c["name"] for c in raw["categories"]}
    holders: dict[str, set[int]] = {}
    for a in raw["annotations"]:
        holders.setdefault(names[a["category_id"]], set()).add(a["image_id"])
    files = {i["id"]: i["file_name"] for i in raw["images"]}
    rec = next(
        r
        for r in recs
        if r["task"] == "counting" and any(i["role"] == "distractor" for i in r["images"])
    )
    target = next(iter(rec["answer"]["counts"]))
    used = {i["source_id"] for i in rec["images"]}
    intruder = min(holders[target] - used)
    slot = next(i for i in rec["images"] if i["role"] == "distractor")
    slot.update(source_id=intruder, path=f"images/coco/{files[intruder]}")
    slot.pop("sha256")
    (out / "benchmark.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    )
    res = runner.invoke(app, ["validate", str(out)])
    assert res.exit_code == 2
    assert any(
        rec["id"] in line and "distractor" in line and target in line
        for line in res.stderr.splitlines()
    )


def test_k2_balanced_counting_spread_3_builds_and_validates(coco_tiny, tmp_path, monkeypatch):
    """k: 2, totals [2], spread 3, n_images 6 was refused as impossible; it builds, validates,
    and every answer re-counted from the raw JSON with plain json is 2 per target."""
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path / "cache"))
    spec = tmp_path / "k2.yaml"
    spec.write_text(
        "task: counting\nnum_queries: 12\nn_images: 6\nk: 2\ntotals: [2]\nspread: 3\nseed: 4\n"
    )
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        ["build", str(spec), "--source", f"coco:{ann}", "--out", str(out), "--images", "symlink"],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["validate", str(out)])
    assert res.exit_code == 0 and res.stdout.strip() == "12 queries valid", res.output
    raw = json.loads(ann.read_text())
    names = {c["id"]: c["name"] for c in raw["categories"]}
    boxes: dict[tuple[int, str], int] = {}
    for a in raw["annotations"]:
        key = (a["image_id"], names[a["category_id"]])
        boxes[key] = boxes.get(key, 0) + 1
    for rec in (json.loads(x) for x in (out / "benchmark.jsonl").read_text().splitlines()):
        targets = list(rec["answer"]["counts"])
        assert len(targets) == 2
        got = {c: sum(boxes.get((i["source_id"], c), 0) for i in rec["images"]) for c in targets}
        assert got == rec["answer"]["counts"] == {c: 2 for c in targets}
