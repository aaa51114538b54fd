"""The index re-counted from the raw files with plain ``json``/``csv`` (never via our readers)."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mimicgen.index import PresenceRules, load_index
from mimicgen.index.presence import countable_pairs, present_pairs
from mimicgen.index.table import AnnotationIndex
from mimicgen.sources import SourceSpec
from tests.index.oi_data import CLASSES, real_labels, write_boxes_csv

THRESHOLD = 0.05


def _by_source_ids(index: AnnotationIndex) -> dict[tuple[object, object], dict[str, int]]:
    """Index rows keyed by the source's own (image id, class id)."""
    images = dict(zip(index.images["image_idx"], index.images["source_id"], strict=True))
    classes = dict(zip(index.classes["class_idx"], index.classes["source_class_id"], strict=True))
    return {
        (images[r["image_idx"]], classes[r["class_idx"]]): r
        for r in index.table.iter_rows(named=True)
    }


def _expected(boxes: list[tuple[object, object, float, bool]]) -> dict[tuple, dict[str, int]]:
    """(image, class) -> counts, from (image, class, area_frac, is_group) tuples."""
    out: dict[tuple, Counter] = defaultdict(Counter)
    for image, cls, area, group in boxes:
        c = out[(image, cls)]
        c["n_instances"] += 1
        if group:
            c["n_group"] += 1
        elif area < THRESHOLD:
            c["n_small"] += 1
        else:
            c["n_recognisable"] += 1
    return {k: dict(v) for k, v in out.items()}


def _assert_counts(index: AnnotationIndex, expected: dict[tuple, dict[str, int]]) -> None:
    got = _by_source_ids(index)
    assert set(got) == set(expected)
    for key, want in expected.items():
        row = got[key]
        for field in ("n_instances", "n_recognisable", "n_small", "n_group"):
            assert row[field] == want.get(field, 0), (key, field)


def _eligible_per_class(expected: dict[tuple, dict[str, int]]) -> Counter:
    """Images that can count a class: no small and no group instance of it."""
    return Counter(
        cls
        for (_, cls), c in expected.items()
        if c.get("n_small", 0) == 0 and c.get("n_group", 0) == 0
    )


def _index_eligible(index: AnnotationIndex) -> Counter:
    ids = dict(zip(index.classes["class_idx"], index.classes["source_class_id"], strict=True))
    return Counter(ids[c] for c in countable_pairs(index)["class_idx"])


@pytest.mark.parametrize("split", ["train2017", "val2017"])
def test_coco_tiny_recount(coco_tiny: Path, tmp_path: Path, split: str) -> None:
    path = coco_tiny / "annotations" / f"instances_{split}.json"
    raw = json.loads(path.read_text())
    size = {im["id"]: im["width"] * im["height"] for im in raw["images"]}
    boxes = [
        (a["image_id"], a["category_id"], a["bbox"][2] * a["bbox"][3] / size[a["image_id"]],
         a["iscrowd"] == 1)
        for a in raw["annotations"]
    ]  # fmt: skip
    expected = _expected(boxes)
    index = load_index(SourceSpec(kind="coco", annotations=path), cache_dir=tmp_path)
    _assert_counts(index, expected)
    assert any(c.get("n_group") for c in expected.values())  # crowd boxes exercised
    assert any(c.get("n_small") for c in expected.values())  # small boxes exercised
    assert _index_eligible(index) == _eligible_per_class(expected)
    present = present_pairs(index)
    assert present.height == len(expected)


def test_coco_min_area_fraction(coco_tiny: Path, tmp_path: Path) -> None:
    path = coco_tiny / "annotations" / "instances_val2017.json"
    raw = json.loads(path.read_text())
    size = {im["id"]: im["width"] * im["height"] for im in raw["images"]}
    smallest: dict[tuple, float] = {}
    for a in raw["annotations"]:
        key = (a["image_id"], a["category_id"])
        frac = a["bbox"][2] * a["bbox"][3] / size[a["image_id"]]
        smallest[key] = min(smallest.get(key, 1.0), frac)
    index = load_index(SourceSpec(kind="coco", annotations=path), cache_dir=tmp_path)
    got = {k: r["min_area_frac"] for k, r in _by_source_ids(index).items()}
    assert got == pytest.approx(smallest, rel=1e-5)


def test_threshold_is_a_rule(coco_tiny: Path, tmp_path: Path) -> None:
    path = coco_tiny / "annotations" / "instances_val2017.json"
    spec = SourceSpec(kind="coco", annotations=path)
    loose = load_index(spec, PresenceRules(min_box_area_frac=1e-9), cache_dir=tmp_path)
    raw = json.loads(path.read_text())
    non_crowd = sum(1 for a in raw["annotations"] if not a["iscrowd"])
    assert int(loose.table["n_small"].sum()) == 0
    assert int(loose.table["n_recognisable"].sum()) == non_crowd


@pytest.fixture(scope="module", params=["shuffled", "sorted"])
def oi_files(
    request: pytest.FixtureRequest, openimages_meta: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Random boxes, in random row order or sorted by ImageID like the real files (the two
    aggregation paths of the streaming build)."""
    folder = tmp_path_factory.mktemp("oi")
    labels = real_labels(openimages_meta)[:40]
    path = write_boxes_csv(folder / "boxes.csv", labels, n_rows=3000, n_images=400, seed=3)
    if request.param == "sorted":
        header, *rows = path.read_text().splitlines(keepends=True)
        path.write_text(header + "".join(sorted(rows, key=lambda r: r.split(",", 1)[0])))
    return path


@pytest.mark.parametrize("batch_rows", [1_000_000, 97, 1])
def test_openimages_recount(
    oi_files: Path,
    openimages_meta: Path,
    tmp_path: Path,
    batch_rows: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sorted files are aggregated in batches during the pass: batches much smaller than the
    file cut images at their seams, which must not change a count."""
    import mimicgen.index.streaming as streaming_mod

    monkeypatch.setattr(streaming_mod, "_BATCH_ROWS", batch_rows)
    boxes = []
    with oi_files.open(newline="") as f:
        for r in csv.DictReader(f):
            area = (float(r["XMax"]) - float(r["XMin"])) * (float(r["YMax"]) - float(r["YMin"]))
            boxes.append((r["ImageID"], r["LabelName"], area, r["IsGroupOf"] == "1"))
    expected = _expected(boxes)
    spec = SourceSpec(
        kind="openimages",
        annotations=oi_files,
        classes_csv=openimages_meta / CLASSES,
        hierarchy=openimages_meta / "bbox_labels_600_hierarchy.json",
    )
    index = load_index(spec, cache_dir=tmp_path)
    _assert_counts(index, expected)
    assert _index_eligible(index) == _eligible_per_class(expected)
    assert index.images.height == len({b[0] for b in boxes})
    assert index.images["source_id"].to_list() == sorted({b[0] for b in boxes})


def test_openimages_streaming_equals_in_memory(oi_files: Path, openimages_meta: Path) -> None:
    from mimicgen.index.streaming import build_index_streaming
    from mimicgen.index.table import build_index
    from mimicgen.sources.openimages import read_openimages, scan_openimages

    args = (oi_files, openimages_meta / CLASSES)
    rules = PresenceRules()
    eager = build_index(read_openimages(*args), rules)
    streamed = build_index_streaming(scan_openimages(*args), rules)
    assert streamed.table.equals(eager.table)
    assert streamed.images.equals(eager.images)


@pytest.mark.parametrize(
    "ids",
    [
        ["00000000000000ab", "00000000000000AB", "00000000000000ab", "0000000000000001",
         "+000000000000001"],
        ["0000000000000001", "+000000000000001", "0000000000000001"],  # a sign, no upper case
    ],
)  # fmt: skip
def test_openimages_mixed_case_ids_stay_distinct(
    ids: list[str], openimages_meta: Path, tmp_path: Path
) -> None:
    """IDs that parse to the same 64-bit value but differ as strings are different images
    (upper case, a sign): only 16 lowercase hex digits take the integer-keyed path."""
    from tests.index.oi_data import BOX_HEADER

    label = real_labels(openimages_meta)[0]
    path = tmp_path / "boxes.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(BOX_HEADER)
        for image in ids:
            writer.writerow([image, "xclick", label, "1", "0.1", "0.9", "0.1", "0.9", "0", "0",
                             "0", "0", "0", *["-1"] * 8])  # fmt: skip
    spec = SourceSpec(
        kind="openimages",
        annotations=path,
        classes_csv=openimages_meta / CLASSES,
    )
    index = load_index(spec, cache_dir=tmp_path / "cache")
    assert index.images["source_id"].to_list() == sorted(set(ids))
    assert sorted(index.table["n_instances"].to_list()) == sorted(Counter(ids).values())
