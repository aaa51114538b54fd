"""The ``fiftyone:NAME`` source: round trip against the COCO reader, flags, ids, errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from mimicgen.errors import InputError
from mimicgen.index.table import AnnotationIndex, build_index
from mimicgen.sources import load_source
from mimicgen.sources.coco import read_coco
from mimicgen.sources.fiftyone import read_fiftyone
from mimicgen.sources.registry import parse_source_arg
from mimicgen.sources.spec import SourceSpec

COUNT_COLUMNS = ["n_instances", "n_recognisable", "n_small", "n_group"]


@pytest.fixture(scope="module")
def coco_dataset(fo, coco_tiny: Path) -> str:
    """coco_tiny val imported with FiftyOne's own COCO importer (not mimicgen's reader)."""
    name = "coco-tiny-val"
    fo.Dataset.from_dir(
        dataset_type=fo.types.COCODetectionDataset,
        data_path=str(coco_tiny / "val2017"),
        labels_path=str(coco_tiny / "annotations" / "instances_val2017.json"),
        label_types=["detections"],
        include_id=True,
        label_field={"detections": "ground_truth", "coco_id": "coco_id"},
        name=name,
        progress=False,
    )
    return name


def _keyed(index: AnnotationIndex) -> pl.DataFrame:
    """Per-(file name, class name) counts: comparable across sources with different keys."""
    return (
        index.table.join(index.images.select("image_idx", "file_name"), on="image_idx")
        .join(index.classes.select("class_idx", pl.col("name").alias("class")), on="class_idx")
        .select("file_name", "class", *COUNT_COLUMNS, "min_area_frac")
        .sort("file_name", "class")
    )


def test_round_trip_gives_the_coco_index(coco_dataset: str, coco_tiny: Path) -> None:
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    via_fiftyone = _keyed(build_index(read_fiftyone(coco_dataset)))
    via_coco = _keyed(build_index(read_coco(ann, coco_tiny / "val2017")))
    assert via_fiftyone.drop("min_area_frac").equals(via_coco.drop("min_area_frac"))
    diff = (via_fiftyone["min_area_frac"] - via_coco["min_area_frac"]).abs().max()
    assert diff is not None and diff < 1e-6

    # ... and both agree with a plain re-count of the raw JSON.
    raw = json.loads(ann.read_text())
    files = {i["id"]: i["file_name"] for i in raw["images"]}
    names = {c["id"]: c["name"] for c in raw["categories"]}
    counts = Counter((files[a["image_id"]], names[a["category_id"]]) for a in raw["annotations"])
    crowd = Counter(
        (files[a["image_id"]], names[a["category_id"]]) for a in raw["annotations"] if a["iscrowd"]
    )
    got = {
        (f, c): (n, g)
        for f, c, n, g in via_fiftyone.select(
            "file_name", "class", "n_instances", "n_group"
        ).iter_rows()
    }
    assert got == {k: (n, crowd[k]) for k, n in counts.items()}
    assert sum(crowd.values()) > 0  # the subset really exercises iscrowd


def test_round_trip_keeps_ids_classes_and_hierarchy(coco_dataset: str, coco_tiny: Path) -> None:
    raw = json.loads((coco_tiny / "annotations" / "instances_val2017.json").read_text())
    data = read_fiftyone(coco_dataset)
    assert data.kind == "fiftyone"
    assert data.image_root == coco_tiny / "val2017"
    assert data.classes["source_class_id"].to_list() == [c["id"] for c in raw["categories"]]
    assert data.classes["name"].to_list() == [c["name"] for c in raw["categories"]]
    assert set(data.hierarchy.leaves("animal")) == {
        c["name"] for c in raw["categories"] if c["supercategory"] == "animal"
    }
    by_file = dict(zip(data.images["file_name"], data.images["source_id"], strict=True))
    assert by_file == {i["file_name"]: i["id"] for i in raw["images"]}
    assert data.files[0].path == f"fiftyone:{coco_dataset}"


def test_load_source_dispatches_fiftyone(coco_dataset: str) -> None:
    spec = parse_source_arg(f"fiftyone:{coco_dataset}")
    assert spec == SourceSpec(kind="fiftyone", dataset=coco_dataset)
    data = load_source(spec)
    assert data.boxes.height == read_fiftyone(coco_dataset).boxes.height == 815


def test_plain_dataset_flags_ids_and_flat_hierarchy(fo, tmp_path: Path) -> None:
    """A dataset without COCO info: sample ids, declared classes first, Open Images flags."""
    (tmp_path / "sub").mkdir()
    ds = fo.Dataset("plain-detections")
    ds.default_classes = ["zebra", "cat"]
    samples = [
        fo.Sample(
            filepath=str(tmp_path / "a.jpg"),
            metadata=fo.ImageMetadata(width=100, height=50),
            ground_truth=fo.Detections(
                detections=[
                    fo.Detection(label="cat", bounding_box=[0.1, 0.2, 0.5, 0.4], iscrowd=1),
                    fo.Detection(label="dog", bounding_box=[0.8, 0.8, 0.3, 0.3], IsOccluded=True),
                ]
            ),
        ),
        fo.Sample(
            filepath=str(tmp_path / "sub" / "b.jpg"),
            ground_truth=fo.Detections(
                detections=[
                    fo.Detection(label="cat", bounding_box=[0.0, 0.0, 0.1, 0.1], IsGroupOf=True),
                ]
            ),
        ),
        fo.Sample(filepath=str(tmp_path / "c.jpg")),  # no labels at all
    ]
    ds.add_samples(samples, progress=False)
    data = read_fiftyone("plain-detections")
    assert data.classes["name"].to_list() == ["zebra", "cat", "dog"]  # declared, then seen
    assert data.classes["parent"].null_count() == 3
    assert data.hierarchy.children == {}
    assert data.images["file_name"].to_list() == ["a.jpg", "sub/b.jpg", "c.jpg"]
    assert data.images["source_id"].to_list() == [s.id for s in samples]
    assert data.images["width"].to_list() == [100, None, None]
    boxes = data.boxes.to_dicts()
    assert [b["class_idx"] for b in boxes] == [1, 2, 1]
    assert [b["image_idx"] for b in boxes] == [0, 0, 1]
    assert [b["is_group"] for b in boxes] == [True, False, True]
    assert [b["is_occluded"] for b in boxes] == [False, True, False]
    assert boxes[1]["x1"] == 1.0 and boxes[1]["y1"] == 1.0  # clipped to the image
    assert boxes[0]["area_frac"] == pytest.approx(0.2)
    assert boxes[0]["x1"] == pytest.approx(0.6) and boxes[0]["y1"] == pytest.approx(0.6)


def test_unknown_dataset_and_field_are_one_line_errors(coco_dataset: str) -> None:
    with pytest.raises(InputError, match="no FiftyOne dataset named 'nope'.*coco-tiny-val"):
        read_fiftyone("nope")
    with pytest.raises(InputError, match="no Detections field 'labels'.*ground_truth"):
        read_fiftyone(coco_dataset, label_field="labels")


def test_bad_box_is_reported(fo, tmp_path: Path) -> None:
    ds = fo.Dataset("bad-box")
    ds.add_sample(
        fo.Sample(
            filepath=str(tmp_path / "a.jpg"),
            ground_truth=fo.Detections(
                detections=[fo.Detection(label="cat", bounding_box=[0.1, 0.1, 0.0, 0.2])]
            ),
        )
    )
    with pytest.raises(InputError, match="non-positive size"):
        read_fiftyone("bad-box")
