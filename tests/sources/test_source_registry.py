"""``parse_source_arg``, default side files, and ``load_source`` for every file-based kind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mimicgen.cli.source_options import spec_from_options
from mimicgen.errors import InputError, SpecError
from mimicgen.sources import SourceSpec, load_source, parse_source_arg
from mimicgen.sources.registry import resolve_inputs


def test_parse_source_arg_forms() -> None:
    assert parse_source_arg("synthetic") == SourceSpec(kind="synthetic")
    assert parse_source_arg("synthetic:25").n_images == 25
    coco = parse_source_arg("coco:data/instances_val2017.json")
    assert (coco.kind, coco.annotations) == ("coco", Path("data/instances_val2017.json"))
    assert parse_source_arg("openimages:b.csv").annotations == Path("b.csv")
    assert parse_source_arg("fiftyone:quickstart").dataset == "quickstart"


@pytest.mark.parametrize("text", ["yolo:x", "synthetic:0", "synthetic:abc", "coco", "coco:"])
def test_parse_source_arg_rejects(text: str) -> None:
    with pytest.raises(SpecError):
        parse_source_arg(text)


def test_options_fill_the_spec() -> None:
    spec = spec_from_options("openimages:b.csv", Path("img"), Path("c.csv"), None, Path("l.csv"))
    assert (spec.image_root, spec.classes_csv, spec.labels_csv) == (
        Path("img"),
        Path("c.csv"),
        Path("l.csv"),
    )
    assert spec_from_options("synthetic:3").n_images == 3


def test_openimages_side_files_default_next_to_boxes(tmp_path: Path, openimages_meta: Path) -> None:
    for name in ("oidv7-class-descriptions-boxable.csv", "bbox_labels_600_hierarchy.json"):
        shutil.copy(openimages_meta / name, tmp_path / name)
    (tmp_path / "boxes.csv").write_text("ImageID\n")
    inputs = resolve_inputs(parse_source_arg(f"openimages:{tmp_path / 'boxes.csv'}"))
    assert inputs.classes_csv == tmp_path / "oidv7-class-descriptions-boxable.csv"
    assert inputs.hierarchy_json == tmp_path / "bbox_labels_600_hierarchy.json"


def test_missing_annotation_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothing.json: coco annotations file not found"):
        load_source(parse_source_arg(f"coco:{tmp_path / 'nothing.json'}"))


def test_coco_with_user_hierarchy(coco_tiny: Path, tmp_path: Path) -> None:
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    yaml_path = tmp_path / "h.yaml"
    yaml_path.write_text("road: [car, bus, truck]\n")
    spec = spec_from_options(f"coco:{ann}", hierarchy=yaml_path)
    src = load_source(spec)
    assert src.hierarchy.children == {"road": ("car", "bus", "truck")}
    assert src.image_root == coco_tiny / "val2017"


def test_synthetic_source_reads_rendered_coco(tmp_path: Path) -> None:
    pytest.importorskip("mimicgen.sources.synthetic")
    src = load_source(parse_source_arg("synthetic:4"), cache_dir=tmp_path)
    assert src.kind == "synthetic"
    ann = Path(src.files[0].path)
    raw = json.loads(ann.read_text())
    assert src.images.height == len(raw["images"]) == 4
    assert src.boxes.height == len(raw["annotations"])
    assert src.image_root == ann.parent / "images"
    assert all((src.image_root / n).is_file() for n in src.images["file_name"])
