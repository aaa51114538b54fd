"""The synthetic source's output, checked from the raw files (plain ``json`` + pixels).

Nothing here reads our own index or readers: structure, boxes and pixels are re-derived from
``annotations.json`` and the PNGs, so a renderer bug that produces wrong counts fails a test.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from mimicgen.errors import InputError
from mimicgen.sources.synthetic import render_dataset
from mimicgen.sources.synthetic_scene import SceneParams
from mimicgen.sources.synthetic_shapes import CLASSES, INK, PAPER

N_IMAGES = 40
SEED = 7
SIZE = 256


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "ds"
    ann = render_dataset(out, N_IMAGES, SEED, image_size=SIZE, workers=1)
    return out, json.loads(ann.read_text("utf-8"))


def _pixels(root: Path, doc: dict, image_id: int) -> np.ndarray:
    img = next(i for i in doc["images"] if i["id"] == image_id)
    return np.asarray(Image.open(root / "images" / img["file_name"]).convert("RGB")).astype(int)


def _is_icon(px: np.ndarray) -> np.ndarray:
    """Pixels that cannot be background: saturated, or darker/brighter than any background."""
    spread = px.max(axis=-1) - px.min(axis=-1)
    return (spread > 30) | (px.min(axis=-1) < 45) | (px.max(axis=-1) > 220)


def _boxes(doc: dict, image_id: int) -> list[dict]:
    return [a for a in doc["annotations"] if a["image_id"] == image_id]


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_coco_structure(dataset: tuple[Path, dict]) -> None:
    root, doc = dataset
    assert set(doc) == {"info", "licenses", "images", "annotations", "categories"}
    assert doc["info"]["seed"] == SEED and "date_created" not in doc["info"]
    assert [i["id"] for i in doc["images"]] == list(range(1, N_IMAGES + 1))
    for img in doc["images"]:
        assert img["file_name"] == f"{img['id']:012d}.png"
        with Image.open(root / "images" / img["file_name"]) as im:
            assert im.format == "PNG" and im.size == (img["width"], img["height"]) == (SIZE, SIZE)
    ann_ids = [a["id"] for a in doc["annotations"]]
    assert ann_ids == list(range(1, len(ann_ids) + 1))
    cat_ids = {c["id"] for c in doc["categories"]}
    for a in doc["annotations"]:
        assert set(a) >= {
            "id",
            "image_id",
            "category_id",
            "bbox",
            "area",
            "iscrowd",
            "segmentation",
        }
        assert a["category_id"] in cat_ids and a["iscrowd"] in (0, 1)
        assert a["segmentation"] == [] and a["area"] == a["bbox"][2] * a["bbox"][3]


def test_class_table_has_hierarchy_and_gapped_ids(dataset: tuple[Path, dict]) -> None:
    cats = dataset[1]["categories"]
    names = [c["name"] for c in cats]
    assert len(names) == len(set(names)) >= 10
    assert len({c["supercategory"] for c in cats}) >= 3
    ids = sorted(c["id"] for c in cats)
    assert ids != list(range(1, len(ids) + 1))  # non-contiguous, like COCO
    # Body colours: unique, saturated, and never a detail colour.
    colours = [c.colour for c in CLASSES]
    assert len(set(colours)) == len(colours)
    assert all(max(c) - min(c) >= 100 for c in colours)
    assert INK not in colours and PAPER not in colours


def test_boxes_inside_images_and_disjoint(dataset: tuple[Path, dict]) -> None:
    _, doc = dataset
    for img in doc["images"]:
        rects = []
        for a in _boxes(doc, img["id"]):
            x, y, w, h = a["bbox"]
            assert w > 0 and h > 0
            assert 0 <= x and 0 <= y and x + w <= img["width"] and y + h <= img["height"]
            rects.append((x, y, x + w, y + h))
        for (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) in itertools.combinations(rects, 2):
            overlap = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
            assert overlap == 0, f"image {img['id']}: boxes overlap with occlusion off"


def test_pixels_match_boxes(dataset: tuple[Path, dict]) -> None:
    """Every icon pixel lies in a box, every box is tight, and shows only its own class colour."""
    root, doc = dataset
    colour_of = {c.id: c.colour for c in CLASSES}
    for img in doc["images"]:
        px = _pixels(root, doc, img["id"])
        icon = _is_icon(px)
        covered = np.zeros(icon.shape, dtype=bool)
        for a in _boxes(doc, img["id"]):
            x, y, w, h = (int(v) for v in a["bbox"])
            covered[y : y + h, x : x + w] = True
            crop, crop_icon = px[y : y + h, x : x + w], icon[y : y + h, x : x + w]
            # Tight: each border row/column of the box touches the drawn object.
            assert crop_icon[0].any() and crop_icon[-1].any()
            assert crop_icon[:, 0].any() and crop_icon[:, -1].any()
            body = (crop == colour_of[a["category_id"]]).all(axis=-1).mean()
            assert body >= (0.03 if a["iscrowd"] else 0.2), (img["id"], a["id"], body)
            allowed = {colour_of[a["category_id"]], INK, PAPER}
            seen = {tuple(int(v) for v in c) for c in np.unique(crop[crop_icon], axis=0)}
            assert seen <= allowed, f"image {img['id']} box {a['id']}: foreign colours {seen}"
        assert not (icon & ~covered).any(), f"image {img['id']}: drawn pixels outside all boxes"
        background = px[~covered]
        for colour in colour_of.values():
            assert not (background == colour).all(axis=-1).any()


def test_size_mix_groups_and_counts(dataset: tuple[Path, dict]) -> None:
    _, doc = dataset
    area = SIZE * SIZE
    fracs = [a["area"] / area for a in doc["annotations"] if not a["iscrowd"]]
    small = sum(f < 0.05 for f in fracs)
    assert 0.1 * len(fracs) <= small <= 0.6 * len(fracs)  # rules get exercised both ways
    assert any(a["iscrowd"] for a in doc["annotations"])
    per_image = Counter((a["image_id"], a["category_id"]) for a in doc["annotations"])
    assert max(per_image.values()) >= 3  # several instances of one class in an image
    classes_per_image = Counter(img for img, _ in per_image)
    assert all(1 <= n <= 7 for n in classes_per_image.values())
    assert np.median(list(classes_per_image.values())) in (2, 2.5, 3, 3.5, 4)
    assert len({c for _, c in per_image}) >= 12  # the class pool is really used


def test_byte_identical_reruns_and_workers(tmp_path: Path) -> None:
    a = render_dataset(tmp_path / "a", 12, SEED, image_size=SIZE, workers=1).parent
    b = render_dataset(tmp_path / "b", 12, SEED, image_size=SIZE, workers=2).parent
    assert _tree_digest(a) == _tree_digest(b)
    c = render_dataset(tmp_path / "c", 12, SEED + 1, image_size=SIZE, workers=1).parent
    assert _tree_digest(c)["images/000000000001.png"] != _tree_digest(a)["images/000000000001.png"]


def test_image_k_independent_of_dataset_size(tmp_path: Path) -> None:
    small = render_dataset(tmp_path / "n10", 10, SEED, image_size=SIZE).parent
    large = render_dataset(tmp_path / "n20", 20, SEED, image_size=SIZE).parent
    ds, dl = _tree_digest(small), _tree_digest(large)
    for k in range(1, 11):
        name = f"images/{k:012d}.png"
        assert ds[name] == dl[name]
    anns = [json.loads((d / "annotations.json").read_text())["annotations"] for d in (small, large)]
    assert anns[0] == [a for a in anns[1] if a["image_id"] <= 10]


def test_occlusion_switch_allows_overlaps(tmp_path: Path) -> None:
    ann = render_dataset(
        tmp_path / "occ", 30, SEED, image_size=SIZE, scene=SceneParams(occlusion=True, p_small=0.0)
    )
    doc = json.loads(ann.read_text())
    overlaps = 0
    for img in doc["images"]:
        rects = [a["bbox"] for a in _boxes(doc, img["id"])]
        for (ax, ay, aw, ah), (bx, by, bw, bh) in itertools.combinations(rects, 2):
            overlaps += min(ax + aw, bx + bw) > max(ax, bx) and min(ay + ah, by + bh) > max(ay, by)
    assert overlaps > 0


def test_jpeg_option(tmp_path: Path) -> None:
    ann = render_dataset(tmp_path / "jpg", 3, SEED, image_size=128, fmt="jpeg")
    doc = json.loads(ann.read_text())
    for img in doc["images"]:
        assert img["file_name"].endswith(".jpg")
        assert (ann.parent / "images" / img["file_name"]).read_bytes()[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_images": 0, "seed": 0},
        {"n_images": 3, "seed": -1},
        {"n_images": 3, "seed": 0, "fmt": "gif"},
        {"n_images": 3, "seed": 0, "image_size": 8},
    ],
)
def test_bad_options_are_one_line_errors_and_write_nothing(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(InputError) as exc:
        render_dataset(tmp_path / "out", **kwargs)
    assert "\n" not in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mimicgen.sources import synthetic

    real = synthetic.render_scene
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, "render_scene", flaky)
    with pytest.raises(OSError):
        render_dataset(tmp_path / "out", 8, SEED, image_size=128, workers=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"small_area": (0.04, 0.004)},
        {"large_area": (0.5, 1.5)},
        {"classes_per_image": (0.0, 0.0)},
        {"group_members": (5, 2)},
    ],
)
def test_scene_params_reject_bad_ranges(kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        SceneParams(**kwargs)


def test_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a folder")
    with pytest.raises(InputError, match="is a file; choose a folder path"):
        render_dataset(target, 2, SEED, image_size=64, overwrite=True)
    assert target.read_text() == "not a folder"
