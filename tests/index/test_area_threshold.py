"""The recognisability threshold is compared exactly, not after rounding areas to float32.

A box whose true area fraction is 0.04999999925 rounds to float32 0.05; by the rule (area >=
5% of the image) it is small. Expectations are hand-computed from the raw pixel values.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mimicgen.errors import SamplingError
from mimicgen.index.rules import PresenceRules
from mimicgen.index.streaming import build_index_streaming
from mimicgen.index.table import build_index
from mimicgen.sources.coco import read_coco
from mimicgen.sources.openimages import read_openimages, scan_openimages
from mimicgen.tasks import sample
from mimicgen.tasks.counting import CountingSpec
from mimicgen.validate.checks import check_record
from mimicgen.validate.facts import collect_facts
from tests.index.oi_data import BOX_HEADER

# 400x400 images (160,000 px). Box widths x 80 px high:
#   99.9999985 px -> 7,999.99988 px = 0.04999999925 of the image: small (float32 says 0.05)
#   100 px        -> 8,000 px       = exactly 0.05: recognisable (>=)
W = H = 400
JUST_BELOW = 99.9999985


def _coco(path: Path) -> Path:
    images = [{"id": i, "file_name": f"{i}.jpg", "width": W, "height": H} for i in (1, 2, 3, 4)]
    anns = [
        (1, 1, JUST_BELOW),  # image 1: one cat just below 5%
        (2, 2, 100.0),  # image 2: one cat of exactly 5%
        (3, 3, 200.0),  # image 3: one large cat
        (4, 4, 200.0),  # image 4: a dog only (a distractor for cat)
    ]
    data = {
        "images": images,
        "categories": [
            {"id": 1, "name": "cat", "supercategory": "animal"},
            {"id": 2, "name": "dog", "supercategory": "animal"},
        ],
        "annotations": [
            {
                "id": aid,
                "image_id": img,
                "category_id": 2 if img == 4 else 1,
                "bbox": [0.0, 0.0, w, 80.0],
                "area": w * 80.0,
                "iscrowd": 0,
            }
            for aid, img, w in anns
        ],
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture()
def coco(tmp_path: Path) -> Path:
    return _coco(tmp_path / "instances.json")


def _by_source_id(index, cls: str) -> dict[int, dict]:
    cidx = index.class_idx(cls)
    sid = dict(zip(index.images["image_idx"], index.images["source_id"], strict=True))
    rows = index.table.filter(index.table["class_idx"] == cidx).iter_rows(named=True)
    return {sid[r["image_idx"]]: r for r in rows}


def test_raw_fractions_are_as_computed_by_hand(coco: Path) -> None:
    raw = json.loads(coco.read_text())
    fracs = {a["image_id"]: a["bbox"][2] * a["bbox"][3] / (W * H) for a in raw["annotations"]}
    assert fracs[1] == pytest.approx(0.04999999925, abs=1e-15) and fracs[1] < 0.05
    assert fracs[2] == 0.05


def test_coco_index_counts_a_box_just_below_the_threshold_as_small(coco: Path) -> None:
    index = build_index(read_coco(coco), PresenceRules())
    cat = _by_source_id(index, "cat")
    assert (cat[1]["n_small"], cat[1]["n_recognisable"]) == (1, 0)
    assert (cat[2]["n_small"], cat[2]["n_recognisable"]) == (0, 1)  # exactly 5%: recognisable


def test_openimages_index_counts_a_box_just_below_the_threshold_as_small(
    tmp_path: Path,
) -> None:
    # 0.25 x 0.1999999997 = 0.049999999925 of the image; float32 parses 0.1999999997 as 0.2.
    classes = tmp_path / "classes.csv"
    classes.write_text("LabelName,DisplayName\n/m/01yrx,Cat\n")
    boxes = tmp_path / "boxes.csv"
    with boxes.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(BOX_HEADER)
        for image, ymax in (("00000000000000a1", "0.1999999997"), ("00000000000000a2", "0.2")):
            w.writerow(
                [image, "xclick", "/m/01yrx", "1", "0", "0.25", "0", ymax]
                + ["0", "0", "0", "0", "0"]
                + ["-1"] * 8
            )
    rules = PresenceRules()
    for index in (
        build_index(read_openimages(boxes, classes), rules),
        build_index_streaming(scan_openimages(boxes, classes), rules),
    ):
        small = dict(zip(index.table["image_idx"], index.table["n_small"], strict=True))
        ids = dict(zip(index.images["image_idx"], index.images["source_id"], strict=True))
        assert {ids[i]: n for i, n in small.items()} == {
            "00000000000000a1": 1,
            "00000000000000a2": 0,
        }


def test_counting_never_uses_the_just_small_box(coco: Path) -> None:
    """Image 1 is neither countable (a small cat) nor a distractor (a cat is present): the only
    2-image sets are {2, 4} and {3, 4}, and no image set repeats within a spec."""
    index = build_index(read_coco(coco), PresenceRules())
    spec = CountingSpec(
        name="c", num_queries=2, n_images=2, spread=1, totals=[1], class_pool=["cat"]
    )
    sets = {tuple(sorted(img.source_id for img in q.images)) for q in sample(spec, index)}
    assert sets == {(2, 4), (3, 4)}
    with pytest.raises(SamplingError, match=r"\(2 distinct image sets so far\)"):
        sample(spec.model_copy(update={"num_queries": 3}), index)


def test_validator_flags_a_count_that_includes_the_just_small_box(coco: Path) -> None:
    facts = collect_facts(read_coco(coco), PresenceRules(), ["1", "4"])
    rec = {
        "id": "q",
        "task": "counting",
        "question": "How many cats are there in the images?",
        "answer": {"counts": {"cat": 1}},
        "answer_text": "1",
        "images": [
            {
                "path": f"images/{sid}.jpg",
                "source_id": sid,
                "position": p,
                "role": role,
                "class_counts": {"cat": n},
            }
            for p, (sid, role, n) in enumerate([(1, "query", 1), (4, "distractor", 0)])
        ],
        "controls": {"n_images": 2, "k": 1, "spread": 1, "distractors": 1},
        "template": {},
    }
    violations = check_record(rec, facts)
    assert "query image at position 0 has small/group boxes of ['cat']" in violations
    assert "count of 'cat' is 1, annotations give 0" in violations
