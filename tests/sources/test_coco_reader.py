"""COCO reader against the real coco_tiny files, checked with plain ``json``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mimicgen.errors import InputError
from mimicgen.sources.coco import default_image_root, from_coco_api, read_coco


def _raw(coco_tiny: Path, split: str = "val2017") -> tuple[Path, dict]:
    path = coco_tiny / "annotations" / f"instances_{split}.json"
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("split", ["train2017", "val2017"])
def test_tables_match_raw_json(coco_tiny: Path, split: str) -> None:
    path, raw = _raw(coco_tiny, split)
    src = read_coco(path)
    assert src.kind == "coco"
    assert src.images.height == len(raw["images"])
    assert src.boxes.height == len(raw["annotations"])
    assert src.images.get_column("source_id").to_list() == [im["id"] for im in raw["images"]]
    crowd = sum(a["iscrowd"] for a in raw["annotations"])
    assert crowd > 0  # the fixture really has crowd boxes
    assert int(src.boxes.get_column("is_group").sum()) == crowd


def test_non_contiguous_category_ids_are_preserved(coco_tiny: Path) -> None:
    path, raw = _raw(coco_tiny)
    src = read_coco(path)
    raw_ids = [c["id"] for c in raw["categories"]]
    assert raw_ids != list(range(1, len(raw_ids) + 1))  # gaps, as in real COCO
    assert src.classes.get_column("source_class_id").to_list() == raw_ids
    assert src.classes.get_column("class_idx").to_list() == list(range(len(raw_ids)))
    by_id = {c["id"]: c["name"] for c in raw["categories"]}
    names = dict(zip(src.classes["class_idx"], src.classes["name"], strict=True))
    ids = dict(zip(src.classes["class_idx"], src.classes["source_class_id"], strict=True))
    # Every box keeps its category through the dense index.
    got = [by_id[ids[c]] for c in src.boxes["class_idx"]]
    want = [by_id[a["category_id"]] for a in raw["annotations"]]
    assert got == want
    assert names[0] == by_id[raw_ids[0]]


def test_box_normalisation_and_area_fraction(coco_tiny: Path) -> None:
    path, raw = _raw(coco_tiny)
    src = read_coco(path)
    size = {im["id"]: (im["width"], im["height"]) for im in raw["images"]}
    want = []
    for a in raw["annotations"]:
        w_img, h_img = size[a["image_id"]]
        x, y, w, h = a["bbox"]
        want.append(
            [
                max(0.0, x / w_img),
                max(0.0, y / h_img),
                min(1.0, (x + w) / w_img),
                min(1.0, (y + h) / h_img),
                w * h / (w_img * h_img),  # bbox area, not the segmentation "area" field
            ]
        )
    got = src.boxes.select("x0", "y0", "x1", "y1", "area_frac").to_numpy()
    np.testing.assert_allclose(got, np.array(want), rtol=1e-5, atol=1e-6)


def test_supercategory_hierarchy(coco_tiny: Path) -> None:
    path, raw = _raw(coco_tiny)
    hierarchy = read_coco(path).hierarchy
    vehicles = [c["name"] for c in raw["categories"] if c["supercategory"] == "vehicle"]
    assert list(hierarchy.children["vehicle"]) == vehicles
    assert {"car", "bus", "bicycle"} <= set(hierarchy.leaves("vehicle"))
    # "person" is both a supercategory and its only class: still a leaf of itself.
    assert hierarchy.leaves("person") == ["person"]
    assert set(hierarchy.nodes()) == {c["supercategory"] for c in raw["categories"]}


def test_default_image_root_holds_every_image(coco_tiny: Path) -> None:
    path, _ = _raw(coco_tiny)
    root = default_image_root(path)
    assert root == coco_tiny / "val2017"
    src = read_coco(path)
    assert src.image_root == root
    assert all((root / name).is_file() for name in src.images["file_name"])


def test_pycocotools_object_gives_identical_tables(coco_tiny: Path) -> None:
    from pycocotools.coco import COCO

    path, _ = _raw(coco_tiny)
    api = COCO(str(path))
    from_api = from_coco_api(api, coco_tiny / "val2017")
    from_file = read_coco(path)
    assert from_api.images.equals(from_file.images)
    assert from_api.classes.equals(from_file.classes)
    assert from_api.boxes.equals(from_file.boxes)
    assert from_api.hierarchy == from_file.hierarchy


@pytest.mark.parametrize("offset", [0, 10**12])  # small ids: lookup table; huge: binary search
def test_sparse_ids_map_to_their_own_image_and_class(
    coco_tiny: Path, tmp_path: Path, offset: int
) -> None:
    _, raw = _raw(coco_tiny)
    for im in raw["images"]:
        im["id"] = im["id"] * 7 + offset
    for a in raw["annotations"]:
        a["image_id"] = a["image_id"] * 7 + offset
        a["category_id"] = -a["category_id"] - offset  # negative ids are legal JSON ints
    for c in raw["categories"]:
        c["id"] = -c["id"] - offset
    path = tmp_path / "instances_sparse.json"
    path.write_text(json.dumps(raw))
    src = read_coco(path)
    image_of = dict(zip(src.images["image_idx"], src.images["source_id"], strict=True))
    class_of = dict(zip(src.classes["class_idx"], src.classes["source_class_id"], strict=True))
    assert [image_of[i] for i in src.boxes["image_idx"]] == [
        a["image_id"] for a in raw["annotations"]
    ]
    assert [class_of[c] for c in src.boxes["class_idx"]] == [
        a["category_id"] for a in raw["annotations"]
    ]
    raw["annotations"][5]["image_id"] = offset + 3  # not a multiple of 7 past the offset
    path.write_text(json.dumps(raw))
    with pytest.raises(InputError, match=rf"refers to unknown image_id {offset + 3}$"):
        read_coco(path)


HUGE_FIELDS = [
    ("images", 3, "width", "images[3].width"),
    ("images", 0, "height", "images[0].height"),
    ("images", 2, "id", "images[2].id"),
    ("annotations", 5, "id", "annotations[5].id"),
    ("annotations", 5, "image_id", "annotations[5].image_id"),
    ("annotations", 7, "category_id", "annotations[7].category_id"),
    ("categories", 1, "id", "categories[1].id"),
]


@pytest.mark.parametrize("value", [10**30, 2**63, -(2**63) - 1])
@pytest.mark.parametrize(("table", "row", "key", "where"), HUGE_FIELDS)
def test_integer_beyond_int64_is_a_one_line_error_naming_the_record(
    coco_tiny: Path, tmp_path: Path, table: str, row: int, key: str, where: str, value: int
) -> None:
    _, raw = _raw(coco_tiny)
    raw[table][row][key] = value
    path = tmp_path / "instances_huge.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(InputError, match=rf"record {re.escape(where)}: .*64 bits") as err:
        read_coco(path)
    assert "\n" not in str(err.value)


def test_huge_number_in_a_bbox_is_a_one_line_error(coco_tiny: Path, tmp_path: Path) -> None:
    _, raw = _raw(coco_tiny)
    text = json.dumps(raw)
    # 10**400 is no float64: msgspec refuses it while decoding.
    raw["annotations"][4]["bbox"][2] = "HUGE"
    path = tmp_path / "instances_huge.json"
    path.write_text(json.dumps(raw).replace('"HUGE"', "1" + "0" * 400))
    with pytest.raises(
        InputError, match=r"record annotations\[4\]\.bbox\[2\]: Number out of range"
    ):
        read_coco(path)
    raw = json.loads(text)
    raw["annotations"][4]["bbox"][2] = 10**30  # a float64, but far outside the image
    ann_id = raw["annotations"][4]["id"]
    path.write_text(json.dumps(raw))
    with pytest.raises(InputError, match=rf"annotation id={ann_id} box .* lies outside its image"):
        read_coco(path)


@pytest.mark.parametrize(("table", "row", "key", "where"), HUGE_FIELDS)
def test_pycocotools_object_with_huge_integer_names_the_record(
    coco_tiny: Path, table: str, row: int, key: str, where: str
) -> None:
    from pycocotools.coco import COCO

    path, _ = _raw(coco_tiny)
    api = COCO(str(path))
    api.dataset[table][row][key] = 10**30
    with pytest.raises(InputError, match=rf"pycocotools.COCO: .*record {re.escape(where)}: "):
        from_coco_api(api, coco_tiny / "val2017")
