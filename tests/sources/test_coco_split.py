"""Decoding a COCO file in pieces on several processes gives exactly the whole-file result, and
declines (so the whole-file decode runs) whenever a cut cannot be proven safe.

Expected values come from plain ``json``; the files are small, so the size threshold is lowered.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import mimicgen.sources.coco_split as split_mod
from mimicgen.errors import InputError
from mimicgen.sources.coco import read_coco
from mimicgen.sources.coco_format import CocoRecords
from mimicgen.sources.coco_split import split_decode


@pytest.fixture(autouse=True)
def _split_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split_mod, "MIN_SPLIT_BYTES", 0)


def _doc(n_images: int = 40, n_anns: int = 400, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    images = [
        {"id": 10 + i, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480, "license": 1}
        for i in range(n_images)
    ]
    categories = [{"id": c, "name": f"c{c}", "supercategory": f"s{c % 3}"} for c in (1, 3, 7)]
    anns = []
    for k in range(n_anns):
        x, y = (float(v) for v in rng.uniform(0, 300, 2).round(2))
        anns.append(
            {
                "segmentation": [rng.uniform(0, 400, 8).round(2).tolist()],
                "area": 10.5,
                "iscrowd": int(k % 17 == 0),
                "image_id": 10 + int(rng.integers(n_images)),
                "bbox": [x, y, 12.5, 30.25],
                "category_id": int(rng.choice([1, 3, 7])),
                "id": 1000 + k,
            }
        )
    return {
        "info": {"description": "split test"},
        "licenses": [],
        "images": images,
        "annotations": anns,
        "categories": categories,
    }


def _check(records: CocoRecords, doc: dict) -> None:
    anns = doc["annotations"]
    assert [im.id for im in records.images] == [im["id"] for im in doc["images"]]
    assert [im.file_name for im in records.images] == [im["file_name"] for im in doc["images"]]
    assert [c.name for c in records.categories] == [c["name"] for c in doc["categories"]]
    cols = records.annotations
    assert cols.id.tolist() == [a["id"] for a in anns]
    assert cols.image_id.tolist() == [a["image_id"] for a in anns]
    assert cols.category_id.tolist() == [a["category_id"] for a in anns]
    assert cols.iscrowd.tolist() == [a.get("iscrowd", 0) for a in anns]
    assert cols.bbox.tolist() == [a["bbox"] for a in anns]


def _ordered(doc: dict, keys: list[str]) -> dict:
    return {k: doc[k] for k in keys}


LAYOUTS = {
    "coco order": ["info", "licenses", "images", "annotations", "categories"],
    "annotations first": ["annotations", "images", "categories", "info"],
    "annotations last": ["categories", "images", "annotations"],
}
FORMATS = {
    "compact": {"separators": (",", ":")},
    "spaced": {},
    "indented": {"indent": 2},
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pieces", [2, 3, 4])
def test_pieces_give_the_whole_file(layout: str, fmt: str, pieces: int) -> None:
    doc = _ordered(_doc(), LAYOUTS[layout])
    buf = bytearray(json.dumps(doc, **FORMATS[fmt]).encode())  # type: ignore[arg-type]
    before = bytes(buf)
    records = split_decode(buf, pieces)
    assert records is not None
    _check(records, doc)
    assert buf == before  # every patch was undone


def _text_with(doc: dict, extra: str) -> bytearray:
    """The document with raw JSON text inserted before its closing brace."""
    text = json.dumps(doc)
    return bytearray((text[:-1] + extra + "}").encode())


@pytest.mark.parametrize(
    "extra",
    [
        ', "annotations": []',  # a later duplicate replaces the array when decoded whole
        ', "annot\\u0061tions": []',  # the same key, spelled with an escape
        ', "images": []',  # a key both before and after the array
    ],
)
def test_later_duplicate_keys_decline(extra: str) -> None:
    buf = _text_with(_doc(), extra)
    assert split_decode(buf, 2) is None


def test_nested_key_only_declines() -> None:
    doc = _doc()
    text = json.dumps({"info": {"annotations": doc["annotations"]}, "images": doc["images"]})
    assert split_decode(bytearray(text.encode()), 2) is None


def test_cuts_inside_strings_decline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidate cuts that fall inside strings (here: all of them) are refused by the decodes."""
    doc = _doc(n_anns=300)
    for a in doc["annotations"]:
        a["note"] = "}, {x"
    buf = bytearray(json.dumps(doc).encode())
    records = split_decode(buf, 2)  # real boundaries and look-alikes both match the pattern
    if records is not None:
        _check(records, doc)
    monkeypatch.setattr(split_mod, "_BOUNDARY", re.compile(rb"\}\s*(,)\s*\{x"))
    for pieces in (2, 3, 4):
        assert split_decode(buf, pieces) is None


def test_one_piece_or_small_file_is_not_split(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = bytearray(json.dumps(_doc()).encode())
    assert split_decode(buf, 1) is None
    monkeypatch.setattr(split_mod, "MIN_SPLIT_BYTES", len(buf) + 1)
    assert split_decode(buf, 2) is None


def _whole_file_error(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(split_mod, "MIN_SPLIT_BYTES", 1 << 62)
        with pytest.raises(InputError) as whole:
            read_coco(path)
    return str(whole.value)


@pytest.mark.parametrize("where", ["first piece", "last piece"])
def test_bad_record_gets_the_whole_file_error(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _doc()
    k = 20 if where == "first piece" else len(doc["annotations"]) - 20
    doc["annotations"][k]["bbox"] = [1.0, 2.0, 3.0]
    path = tmp_path / "instances_bad.json"
    path.write_text(json.dumps(doc))
    assert split_decode(bytearray(path.read_bytes()), 2) is None
    with pytest.raises(InputError) as split:
        read_coco(path)
    assert str(split.value) == _whole_file_error(path, monkeypatch)
    assert f"annotations[{k}].bbox" in str(split.value)


def test_trailing_garbage_gets_the_whole_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "instances_bad.json"
    path.write_text(json.dumps(_doc()) + " x")
    assert split_decode(bytearray(path.read_bytes()), 2) is None
    with pytest.raises(InputError, match="malformed JSON") as split:
        read_coco(path)
    assert str(split.value) == _whole_file_error(path, monkeypatch)


def test_real_coco_read_in_pieces_matches_plain_json(
    coco_tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = coco_tiny / "annotations" / "instances_train2017.json"
    doc = json.loads(path.read_text())
    records = split_decode(bytearray(path.read_bytes()), 3)
    assert records is not None
    _check(records, doc)
    monkeypatch.setattr(split_mod, "usable_cpus", lambda: 2)
    in_pieces = read_coco(path)
    monkeypatch.setattr(split_mod, "MIN_SPLIT_BYTES", 1 << 62)
    whole = read_coco(path)
    assert in_pieces.boxes.equals(whole.boxes) and in_pieces.images.equals(whole.images)
    assert in_pieces.boxes.height == len(doc["annotations"])


@pytest.mark.parametrize("where", ["first piece", "last piece"])
@pytest.mark.parametrize("key", ["id", "image_id", "category_id", "iscrowd"])
def test_huge_integer_gets_the_whole_file_error_naming_the_record(
    where: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An integer past int64 must not raise OverflowError while a piece becomes columns (in
    the parent for the first piece, in a child for the others): the split declines and the
    whole-file decode names the record."""
    doc = _doc()
    k = 20 if where == "first piece" else len(doc["annotations"]) - 20
    doc["annotations"][k][key] = 10**30
    path = tmp_path / "instances_huge.json"
    path.write_text(json.dumps(doc))
    assert split_decode(bytearray(path.read_bytes()), 2) is None
    with pytest.raises(InputError) as split:
        read_coco(path)
    assert str(split.value) == _whole_file_error(path, monkeypatch)
    assert f"record annotations[{k}].{key}:" in str(split.value)
