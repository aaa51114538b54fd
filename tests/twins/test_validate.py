"""``mimicgen validate`` on twin builds: a fresh build is valid; each way a twin can stop
sharing its base's evidence (or differ in an undeclared way) is reported for that twin."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mimicgen.validate import validate_benchmark
from tests.twins.conftest import read_jsonl

Records = list[dict[str, Any]]


def test_fresh_twin_build_is_valid(twin_build: Path) -> None:
    report = validate_benchmark(twin_build)
    assert report.violations == [] and report.num_queries == len(
        read_jsonl(twin_build / "benchmark.jsonl")
    )


def _first(recs: Records, variant_prefix: str, spec: str = "tc") -> dict[str, Any]:
    return next(r for r in recs if r["spec"] == spec and r["variant"].startswith(variant_prefix))


def _base(recs: Records, rec: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in recs if r["id"] == rec["family"])


def _base_order(recs: Records) -> str:
    t = _first(recs, "permute-p")
    t["images"] = [dict(i) for i in _base(recs, t)["images"]]
    return f"{t['id']}: an order twin has its base's order"


def _foreign_image(recs: Records) -> str:
    t = _first(recs, "permute-p")
    other = next(r for r in recs if r["family"] != t["family"] and r["spec"] == "tc")
    t["images"][0] = dict(other["images"][0], position=0)
    return f"{t['id']}: an order twin holds other images"


def _target_in_added_distractor(recs: Records) -> str:
    t = _first(recs, "distractors-")
    base = _base(recs, t)
    (cls,) = base["answer"]["counts"]
    query = next(i for i in base["images"] if i["role"] == "query")
    pos = len(base["images"])
    t["images"][pos] = dict(t["images"][pos], source_id=query["source_id"], path=query["path"])
    # the re-derivation from the source annotations sees the target in a distractor
    return f"{t['id']}: image {query['source_id']!r} class_counts[{cls!r}]=0"


def _added_not_distractor(recs: Records) -> str:
    t = _first(recs, "distractors-", spec="tl")
    t["images"][-1]["role"] = "query"
    return f"{t['id']}: an added image is not a distractor"


def _spread_total(recs: Records) -> str:
    t = _first(recs, "spread-")
    (cls,) = t["answer"]["counts"]
    t["answer"] = {"counts": {cls: t["answer"]["counts"][cls] + 1}}
    return f"{t['id']}: a spread twin changes the total"


def _blank_answer(recs: Records) -> str:
    t = _first(recs, "blank-all")
    base = _base(recs, t)
    t["answer"], t["answer_text"] = base["answer"], base["answer_text"]
    return f"{t['id']}: answer {base['answer']} (content_free) does not follow the blank-all rule"


def _blank_touches_evidence(recs: Records) -> str:
    t = _first(recs, "blank-distractors")
    i = next(i for i in t["images"] if i["role"] == "query")
    i["path"] = t["images"][-1]["path"] if t["images"][-1]["role"] == "distractor" else "x"
    return f"{t['id']}: image {i['position']} is changed but the twin replaces distractors"


def _stitch_cells(recs: Records) -> str:
    t = _first(recs, "stitch")
    t["images"][0]["cells"] = t["images"][0]["cells"][::-1]
    return f"{t['id']}: the stitched grid's cells are not the base's images in order"


def _question_changed(recs: Records) -> str:
    t = _first(recs, "noise-all")
    t["question"] = t["question"] + " Answer quickly."
    return f"{t['id']}: question differ from the base's"


def _no_base(recs: Records) -> str:
    t = _first(recs, "permute-p", spec="tl")
    recs[:] = [r for r in recs if r["id"] != t["family"]]
    return f"{t['id']}: family {t['family']} has no base record"


@pytest.mark.parametrize(
    "tamper",
    [
        _base_order, _foreign_image, _target_in_added_distractor, _added_not_distractor,
        _spread_total, _blank_answer, _blank_touches_evidence, _stitch_cells, _question_changed,
        _no_base,
    ],
)  # fmt: skip
def test_each_broken_twin_is_reported(
    twin_build: Path, tmp_path: Path, tamper: Callable[[Records], str]
) -> None:
    out = tmp_path / "b"
    shutil.copytree(twin_build, out, copy_function=os.link)
    path = out / "benchmark.jsonl"
    recs = read_jsonl(path)
    expected = tamper(recs)
    path.unlink()  # a hard link: write a new file, not through the link
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    violations = validate_benchmark(out).violations
    assert any(v.startswith(expected) for v in violations), violations
