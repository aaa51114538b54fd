"""``mimicgen index``: the summary, and every kind of bad input -> one line, exit 2, no cache."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mimicgen.cli import main
from tests.index.oi_data import BOX_HEADER, CLASSES, label_named


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:  # fmt: skip
    """Run the real entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["mimicgen", *args])
    monkeypatch.setenv("MIMICGEN_PROGRESS", "0")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_summary_counts(coco_tiny: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    ann = coco_tiny / "annotations" / "instances_train2017.json"
    raw = json.loads(ann.read_text())
    code, out, err = run_cli(
        ["index", f"coco:{ann}", "--cache-dir", str(tmp_path)], monkeypatch, capsys
    )
    assert code == 0, err
    assert "built in" in out
    assert (
        f"images {len(raw['images'])} | classes {len(raw['categories'])} | "
        f"boxes {len(raw['annotations'])}"
    ) in out
    # Person: images with a person box, and those whose person boxes are all >= 5% and not crowd.
    size = {im["id"]: im["width"] * im["height"] for im in raw["images"]}
    person = [a for a in raw["annotations"] if a["category_id"] == 1]
    present = {a["image_id"] for a in person}
    blocked = {
        a["image_id"]
        for a in person
        if a["iscrowd"] or a["bbox"][2] * a["bbox"][3] / size[a["image_id"]] < 0.05
    }
    row = next(line for line in out.splitlines() if line.startswith("│ person "))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells == ["person", str(len(present)), str(len(present - blocked))]
    code, out, _ = run_cli(
        ["index", f"coco:{ann}", "--cache-dir", str(tmp_path)], monkeypatch, capsys
    )
    assert code == 0 and "loaded from cache" in out


# --- bad input -------------------------------------------------------------------------------


def _coco(coco_tiny: Path) -> dict:
    return json.loads((coco_tiny / "annotations" / "instances_val2017.json").read_text())


def _first_ann(doc: dict, **changes: object) -> dict:
    doc["annotations"][0].update(changes)
    return doc


COCO_CASES: dict[str, tuple[Callable[[dict], object], str]] = {
    "malformed": (lambda d: "{" + json.dumps(d)[:500], "malformed JSON"),
    "missing_bbox": (
        lambda d: (d["annotations"][3].pop("bbox"), d)[1],
        "record annotations[3]: Object missing required field `bbox`",
    ),
    "missing_images": (lambda d: {k: v for k, v in d.items() if k != "images"}, "`images`"),
    "outside": (
        lambda d: _first_ann(d, bbox=[600.0, 10.0, 200.0, 30.0]),
        "annotation id={ann} box [x=600.0, y=10.0, w=200.0, h=30.0] lies outside its image",
    ),
    "negative_x": (
        lambda d: _first_ann(d, bbox=[-30.0, 10.0, 20.0, 30.0]),
        "annotation id={ann} box [x=-30.0",
    ),
    "zero_width": (
        lambda d: _first_ann(d, bbox=[10.0, 10.0, 0.0, 30.0]),
        "annotation id={ann} has a box with non-positive size",
    ),
    "bad_iscrowd": (
        lambda d: _first_ann(d, iscrowd=2),
        "annotation id={ann} has iscrowd=2 (must be 0 or 1)",
    ),
    "unknown_category_reported_before_a_later_check": (
        lambda d: (d["annotations"][5].update(iscrowd=3), _first_ann(d, category_id=12))[1],
        "annotation id={ann} refers to unknown category_id 12",
    ),
    "unknown_category": (
        lambda d: _first_ann(d, category_id=12),  # 12 is one of COCO's gaps
        "annotation id={ann} refers to unknown category_id 12",
    ),
    "unknown_image": (
        lambda d: _first_ann(d, image_id=999999999),
        "annotation id={ann} refers to unknown image_id 999999999",
    ),
    "duplicate_image": (
        lambda d: (d["images"].append(dict(d["images"][0])), d)[1],
        "duplicate image id {img}",
    ),
    "duplicate_annotation": (
        lambda d: (d["annotations"].append(dict(d["annotations"][0])), d)[1],
        "duplicate annotation id {ann}",
    ),
    "duplicate_category": (
        lambda d: (d["categories"].append(dict(d["categories"][0])), d)[1],
        "duplicate category id 1",
    ),
    "escape_parent": (
        lambda d: (d["images"][0].update(file_name="../../etc/passwd"), d)[1],
        "image id={img} file_name '../../etc/passwd' escapes the image root",
    ),
    "escape_absolute": (
        lambda d: (d["images"][0].update(file_name="/etc/passwd"), d)[1],
        "image id={img} file_name '/etc/passwd' escapes the image root",
    ),
    "wrong_type": (
        lambda d: _first_ann(d, category_id="cat"),
        "record annotations[0].category_id: Expected `int`, got `str`",
    ),
}


@pytest.mark.parametrize("case", sorted(COCO_CASES))
def test_bad_coco_input(case: str, coco_tiny: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    doc = _coco(coco_tiny)
    ids = {"ann": doc["annotations"][0]["id"], "img": doc["images"][0]["id"]}
    mutate, expected = COCO_CASES[case]
    bad = mutate(doc)
    path = tmp_path / f"{case}.json"
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    cache = tmp_path / "cache"
    code, _out, err = run_cli(
        ["index", f"coco:{path}", "--cache-dir", str(cache)], monkeypatch, capsys
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mimicgen: error: {path}: ")
    assert expected.format(**ids) in lines[0]
    assert not cache.exists()  # nothing written, not even the digest memo


def _oi_row(image: str, label: str, coords: tuple[str, str, str, str], group: str = "0") -> list[str]:  # fmt: skip
    return [image, "xclick", label, "1", *coords, "0", "0", group, "0", "0", *["-1"] * 8]


OI_CASES: dict[str, tuple[list[str] | None, str]] = {
    "x_reversed": (["a1", "{car}", "0.5", "0.2", "0.1", "0.3"], "line 3 (ImageID=a1, "),
    "outside": (["a1", "{car}", "0.1", "1.2", "0.1", "0.3"], "outside [0, 1]"),
    "not_a_number": (["a1", "{car}", "0.1", "abc", "0.1", "0.3"], "line 3 (ImageID=a1"),
    "zero_height": (["a1", "{car}", "0.1", "0.2", "0.3", "0.3"], "non-positive box size"),
    "unknown_label": (["a1", "/m/nope", "0.1", "0.2", "0.1", "0.3"], "unknown LabelName /m/nope"),
    "bad_image_id": (["../a1", "{car}", "0.1", "0.2", "0.1", "0.3"], "ImageID '../a1'"),
    "missing_column": (None, "header lacks column(s) XMax"),
}


@pytest.mark.parametrize("case", sorted(OI_CASES))
def test_bad_openimages_input(
    case: str, openimages_meta: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    car = label_named(openimages_meta, "Car")
    bad, expected = OI_CASES[case]
    path = tmp_path / f"{case}.csv"
    good = _oi_row("a0", car, ("0.1", "0.9", "0.1", "0.9"))
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        if bad is None:
            writer.writerow([c for c in BOX_HEADER if c != "XMax"])
            writer.writerow(good[:5] + good[6:])
        else:
            writer.writerow(BOX_HEADER)
            writer.writerow(good)
            image, label, *coords = (v.replace("{car}", car) for v in bad)
            writer.writerow(_oi_row(image, label, tuple(coords)))  # type: ignore[arg-type]
    line = _openimages_error(path, openimages_meta, tmp_path, monkeypatch, capsys)
    assert line.startswith(f"mimicgen: error: {path}: ")
    assert expected in line


#: Real-format (16 hex digit) ImageIDs take the integer-keyed fast path, whose checks are folded
#: into the aggregation; each bad row must still be reported by line with its reason.
HEX = "00000000000000a1"
OI_HEX_CASES: dict[str, tuple[list[str], str, str]] = {
    "x_reversed": ([HEX, "{car}", "0.5", "0.2", "0.1", "0.3"], "0", "non-positive box size"),
    "outside": ([HEX, "{car}", "0.1", "0.2", "-0.1", "0.3"], "0", "outside [0, 1]"),
    "unknown_label": ([HEX, "/m/nope", "0.1", "0.2", "0.1", "0.3"], "0", "unknown LabelName"),
    "empty_label": ([HEX, "", "0.1", "0.2", "0.1", "0.3"], "0", "empty ImageID or LabelName"),
    "empty_image_id": (["", "{car}", "0.1", "0.2", "0.1", "0.3"], "0", "empty ImageID"),
    "empty_coord": ([HEX, "{car}", "0.1", "", "0.1", "0.3"], "0", "a coordinate or flag is empty"),
    "bad_flag": ([HEX, "{car}", "0.1", "0.2", "0.1", "0.3"], "2", "not 0, 1 or -1"),
}


@pytest.mark.parametrize("batch_rows", [1_000_000, 1])  # one batch; the bad row in the second
@pytest.mark.parametrize("case", sorted(OI_HEX_CASES))
def test_bad_openimages_row_with_real_ids(
    case: str, batch_rows: int, openimages_meta: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import mimicgen.index.streaming as streaming_mod

    monkeypatch.setattr(streaming_mod, "_BATCH_ROWS", batch_rows)
    car = label_named(openimages_meta, "Car")
    bad, group, expected = OI_HEX_CASES[case]
    path = tmp_path / f"{case}.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(BOX_HEADER)
        writer.writerow(_oi_row("00000000000000a0", car, ("0.1", "0.9", "0.1", "0.9")))
        image, label, *coords = (v.replace("{car}", car) for v in bad)
        writer.writerow(_oi_row(image, label, tuple(coords), group))  # type: ignore[arg-type]
        writer.writerow(_oi_row("00000000000000a2", car, ("0.1", "0.9", "0.1", "0.9")))
    line = _openimages_error(path, openimages_meta, tmp_path, monkeypatch, capsys)
    assert line.startswith(f"mimicgen: error: {path}: line 3 (")
    assert expected in line


def test_subprocess_exit_code_and_single_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mimicgen",
            "index",
            f"coco:{bad}",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert f"{bad}: malformed JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "c").exists()


def _openimages_error(
    path: Path, openimages_meta: Path, tmp_path: Path, monkeypatch, capsys
) -> str:
    """`mimicgen index` on a bad box CSV: exit 2, one stderr line (returned), no cache."""
    cache = tmp_path / "cache"
    args = ["index", f"openimages:{path}", "--classes-csv", str(openimages_meta / CLASSES)]
    code, _, err = run_cli([*args, "--cache-dir", str(cache)], monkeypatch, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert not cache.exists()
    return lines[0]
