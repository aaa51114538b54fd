"""OpenImages reader: real class list and hierarchy, small hand-written box/label CSVs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from mimicgen.errors import InputError
from mimicgen.sources.openimages import read_classes_csv, read_hierarchy_json, read_openimages
from tests.index.oi_data import BOX_HEADER, CLASSES

HIERARCHY = "bbox_labels_600_hierarchy.json"


def _raw_names(meta: Path) -> dict[str, str]:
    with (meta / CLASSES).open(newline="") as f:
        return {r["LabelName"]: r["DisplayName"] for r in csv.DictReader(f)}


def _raw_descendants(meta: Path, display_name: str) -> set[str]:
    """Walk the raw JSON (Subcategory edges) independently of the reader."""
    names = _raw_names(meta) | {"/m/0bl9f": "Entity"}
    tree = json.loads((meta / HIERARCHY).read_text())
    found: set[str] = set()

    def collect(node: dict, inside: bool) -> None:
        here = names[node["LabelName"]]
        if inside:
            found.add(here)
        for sub in node.get("Subcategory", []):
            collect(sub, inside or here == display_name)
        for part in node.get("Part", []):
            collect(part, False)  # parts are not kinds of the parent

    collect(tree, False)
    return found


def test_class_table_matches_csv(openimages_meta: Path) -> None:
    classes = read_classes_csv(openimages_meta / CLASSES)
    raw = _raw_names(openimages_meta)
    assert classes.height == len(raw) == 601
    assert classes["source_class_id"].to_list() == list(raw)
    assert classes["name"].to_list() == list(raw.values())
    assert classes.schema["source_class_id"] == pl.String


def test_headerless_class_csv_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "classes.csv"
    path.write_text('/m/01,Cat\n/m/02,"Dog, large"\n')
    classes = read_classes_csv(path)
    assert classes["name"].to_list() == ["Cat", "Dog, large"]


def test_vehicle_subtree_matches_raw_json(openimages_meta: Path) -> None:
    classes = read_classes_csv(openimages_meta / CLASSES)
    hierarchy = read_hierarchy_json(openimages_meta / HIERARCHY, classes)
    want = _raw_descendants(openimages_meta, "Vehicle")
    assert set(hierarchy.descendants("Vehicle")) == want
    assert {"Car", "Bus", "Land vehicle", "Boat", "Airplane"} <= want
    leaves = set(hierarchy.leaves("Vehicle"))
    assert {"Bus", "Taxi", "Limousine", "Airplane"} <= leaves
    # "Car" is an inner node (it holds Limousine and Van), so it is not a leaf.
    assert "Car" not in leaves and "Limousine" in hierarchy.children["Car"]
    assert hierarchy.leaves("Entity") and "Entity" in hierarchy.nodes()


def test_every_class_reachable_from_root(openimages_meta: Path) -> None:
    classes = read_classes_csv(openimages_meta / CLASSES)
    hierarchy = read_hierarchy_json(openimages_meta / HIERARCHY, classes)
    assert set(hierarchy.descendants("Entity")) == _raw_descendants(openimages_meta, "Entity")


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([BOX_HEADER, *rows])
    return path


def _row(image: str, label: str, box: tuple[float, float, float, float], group: int = 0,
         occluded: int = 0) -> list[str]:  # fmt: skip
    x0, x1, y0, y1 = box
    return [image, "xclick", label, "1", str(x0), str(x1), str(y0), str(y1), str(occluded),
            "0", str(group), "0", "0", *["-1"] * 8]  # fmt: skip


def test_boxes_flags_and_labels(tmp_path: Path, openimages_meta: Path) -> None:
    raw = _raw_names(openimages_meta)
    car = next(k for k, v in raw.items() if v == "Car")
    bus = next(k for k, v in raw.items() if v == "Bus")
    boxes = _write(
        tmp_path / "boxes.csv",
        [
            _row("bb", car, (0.1, 0.5, 0.2, 0.6), occluded=-1),
            _row("aa", bus, (0.0, 1.0, 0.0, 0.5), group=1, occluded=1),
            _row("bb", car, (0.0, 0.1, 0.0, 0.1)),
        ],
    )
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "ImageID,Source,LabelName,Confidence\n"
        f"aa,verification,{car},0\nbb,verification,{bus},0\nbb,verification,{car},1\n"
        "aa,verification,/m/not-boxable,1\nzz,verification,{car},0\n".replace("{car}", car)
    )
    src = read_openimages(boxes, openimages_meta / CLASSES, openimages_meta / HIERARCHY, labels)
    # Images numbered in sorted ImageID order, file name = ImageID.jpg, sizes unknown.
    assert src.images["source_id"].to_list() == ["aa", "bb"]
    assert src.images["file_name"].to_list() == ["aa.jpg", "bb.jpg"]
    assert src.images["width"].null_count() == 2
    b = src.boxes
    assert b["image_idx"].to_list() == [1, 0, 1]
    assert b["is_group"].to_list() == [False, True, False]
    assert b["is_occluded"].to_list() == [False, True, False]  # -1 = unknown -> False
    assert b["area_frac"].to_list() == pytest.approx([0.16, 0.5, 0.01], rel=1e-5)
    names = dict(zip(src.classes["class_idx"], src.classes["name"], strict=True))
    assert src.labels is not None
    got = {
        (int(i), names[c], float(conf))
        for i, c, conf in src.labels.select("image_idx", "class_idx", "confidence").iter_rows()
    }
    # Non-boxable labels and images without boxes are dropped.
    assert got == {(0, "Car", 0.0), (1, "Bus", 0.0), (1, "Car", 1.0)}


def test_bad_hierarchy_label_is_named(tmp_path: Path, openimages_meta: Path) -> None:
    classes = read_classes_csv(openimages_meta / CLASSES)
    bad = tmp_path / "h.json"
    bad.write_text(json.dumps({"LabelName": "/m/0bl9f", "Subcategory": [{"LabelName": "/m/x"}]}))
    with pytest.raises(InputError, match=r"h.json: node \$.Subcategory\[0\] has LabelName '/m/x'"):
        read_hierarchy_json(bad, classes)


def test_duplicate_display_name_rejected(tmp_path: Path) -> None:
    path = tmp_path / "classes.csv"
    path.write_text("LabelName,DisplayName\n/m/01,Cat\n/m/02,Cat\n")
    with pytest.raises(InputError, match="duplicate DisplayName 'Cat'"):
        read_classes_csv(path)


@pytest.mark.parametrize(
    "ids",
    [
        ["00000000000000ff", "0000000000000001", "ffffffffffffffff", "0000000000000001"],
        ["00000000000000ab", "00000000000000AB", "00000000000000ab"],  # case matters
        ["0000000000000001", "+000000000000001", "0000000000000002"],  # a sign is no hex digit
        ["b", "a", "0000000000000001", "b"],  # not hex ids: string order
    ],
)
def test_image_numbering_is_sorted_string_order(ids: list[str]) -> None:
    from mimicgen.sources.openimages import _sorted_order

    want = {v: i for i, v in enumerate(sorted(set(ids)))}
    assert _sorted_order(pl.Series(ids)).to_list() == [want[v] for v in ids]
