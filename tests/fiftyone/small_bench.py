"""A small hand-written benchmark over real coco_tiny images (SPEC §4 layout), plus raw facts.

Everything here is derived from the raw COCO JSON with plain ``json``, independently of
mimicgen's readers, so tests can compare the export against it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchfiles import bench_record, manifest_header, write_bench_files, write_predictions

__all__ = ["RawCoco", "SmallBench", "raw_coco", "write_small_bench"]


@dataclass(frozen=True)
class RawCoco:
    """The raw annotations of one COCO file, indexed with plain Python."""

    path: Path
    image_root: Path
    images: dict[int, dict[str, Any]]
    names: dict[int, str]
    supercategory: dict[str, str]
    anns_by_image: dict[int, list[dict[str, Any]]]

    def counts(self, image_id: int) -> Counter[str]:
        return Counter(self.names[a["category_id"]] for a in self.anns_by_image[image_id])

    def rel_boxes(self, image_id: int, classes: set[str]) -> list[tuple[str, tuple[float, ...]]]:
        """Sorted (label, relative [x, y, w, h]) of the image's boxes of ``classes``."""
        img = self.images[image_id]
        w, h = img["width"], img["height"]
        out = []
        for a in self.anns_by_image[image_id]:
            label = self.names[a["category_id"]]
            if label in classes:
                x, y, bw, bh = a["bbox"]
                out.append((label, (x / w, y / h, bw / w, bh / h)))
        return sorted(out)


def raw_coco(coco_root: Path) -> RawCoco:
    path = coco_root / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in data["annotations"]:
        by_image[a["image_id"]].append(a)
    return RawCoco(
        path=path,
        image_root=coco_root / "val2017",
        images={i["id"]: i for i in data["images"]},
        names={c["id"]: c["name"] for c in data["categories"]},
        supercategory={c["name"]: c["supercategory"] for c in data["categories"]},
        anns_by_image=by_image,
    )


@dataclass(frozen=True)
class SmallBench:
    path: Path
    records: list[dict[str, Any]]
    predictions: dict[str, Path]
    """model name -> predictions JSONL."""


def _image(raw: RawCoco, image_id: int, position: int, role: str, classes: list[str]) -> dict:
    counts = raw.counts(image_id)
    return {
        "path": f"images/coco/{raw.images[image_id]['file_name']}",
        "source_id": image_id,
        "position": position,
        "role": role,
        "class_counts": {c: counts[c] for c in classes},
    }


def _record(
    rid: str, task: str, answer: dict, answer_text: str, images: list[dict], controls: dict
) -> dict:
    controls = {"n_images": len(images), **controls}
    return bench_record(
        rid, task, answer, answer_text, images, controls, template=("t", "c"), spec="hand"
    )


def write_small_bench(raw: RawCoco, out: Path) -> SmallBench:
    """Four queries (counting x2, listing, common) over coco_tiny val images, two models."""
    ids = sorted(raw.images)
    with_dog = [i for i in ids if raw.counts(i)["dog"]]
    without_dog = [i for i in ids if not raw.counts(i)["dog"]]
    with_person = [i for i in ids if raw.counts(i)["person"]]
    # counting, 4 images, evidence at positions 1 and 3
    q = [with_dog[0], with_dog[1]]
    d = without_dog[:2]
    dogs = sum(raw.counts(i)["dog"] for i in q)
    r0 = _record(
        "count-0",
        "counting",
        {"counts": {"dog": dogs}},
        str(dogs),
        [
            _image(raw, d[0], 0, "distractor", ["dog"]),
            _image(raw, q[0], 1, "query", ["dog"]),
            _image(raw, d[1], 2, "distractor", ["dog"]),
            _image(raw, q[1], 3, "query", ["dog"]),
        ],
        {"k": 1, "spread": 2, "distractors": 2},
    )
    # counting, 5 images, one evidence image at position 4
    people = raw.counts(with_person[2])["person"]
    no_person = [i for i in ids if not raw.counts(i)["person"]][:4]
    r1 = _record(
        "count-1",
        "counting",
        {"counts": {"person": people}},
        str(people),
        [
            *(_image(raw, i, p, "distractor", ["person"]) for p, i in enumerate(no_person)),
            _image(raw, with_person[2], 4, "query", ["person"]),
        ],
        {"k": 1, "spread": 1, "distractors": 4},
    )
    # listing over the 'animal' supercategory, 3 images
    animals = sorted(n for n, s in raw.supercategory.items() if s == "animal")
    listing_imgs = [with_dog[0], with_person[3], without_dog[5]]
    present = sorted({n for i in listing_imgs for n in animals if raw.counts(i)[n]})
    r2 = _record(
        "list-0",
        "listing",
        {"classes": present},
        ", ".join(present),
        [_image(raw, i, p, "query", present) for p, i in enumerate(listing_imgs)],
        {"category": "animal", "spread": 3},
    )
    # common: person in all of 3 images
    r3 = _record(
        "common-0",
        "common",
        {"class": "person"},
        "person",
        [_image(raw, i, p, "query", ["person"]) for p, i in enumerate(with_person[4:7])],
        {},
    )
    records = [r0, r1, r2, r3]

    out.mkdir(parents=True)
    (out / "images" / "coco").mkdir(parents=True)
    for rec in records:
        for img in rec["images"]:
            link = out / img["path"]
            if not link.exists():
                link.symlink_to(raw.image_root / Path(img["path"]).name)
    manifest = manifest_header(
        records,
        spec={"hand": {"presence": {"min_box_area_frac": 0.05}}},
        sources=[
            {
                "kind": "coco",
                "annotations": str(raw.path),
                "sha256": "unused",
                "image_root": str(raw.image_root),
                "prefix": "coco",
                "files": [{"path": str(raw.path), "sha256": "unused"}],
            }
        ],
    )
    write_bench_files(out, records, manifest)
    preds = {
        # right count (cued), wrong count, a partly right list, the right class
        "good": [
            ("count-0", f"The answer is {dogs}."),
            ("count-1", str(people + 1)),
            ("list-0", ", ".join(present[:1] + ["zebra"])),
            ("common-0", "Person"),
        ],
        # count-1 and common-0 have no prediction at all
        "zero": [("count-0", "0"), ("list-0", "none")],
    }
    paths = {}
    for model, rows in preds.items():
        paths[model] = write_predictions(out.parent / f"{model}.jsonl", dict(rows))
    return SmallBench(out, records, paths)
