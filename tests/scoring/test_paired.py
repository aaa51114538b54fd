"""Paired scoring of twin families on a hand-written family table with known flips.

Six counting families F1..F6 (answer 3 dogs; the evidence image at position 2 in the base):
``permute-p0`` (evidence at 0) answered like the base, ``permute-p1`` (evidence at 1),
``distractors-2`` and ``blank-all`` (every image blank: the correct answer is 0). Two common
families G1, G2 with a ``noise-all`` twin that only measures guessing. F7 has replies for its base
only. Expected numbers are worked out below by hand.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mimicgen.scoring import score_files
from mimicgen.scoring.paired import mcnemar_exact
from scoring.benchfiles import make_record, write_benchmark, write_predictions

RIGHT, WRONG = "3", "5"
BASE_RIGHT = {"F1", "F2", "F3", "F4"}  # F5, F6 wrong
P1_RIGHT = {"F1", "F5"}  # a=1 (F1), b=3 (F2-F4), c=1 (F5), d=1 (F6)
D2_RIGHT = {"F1"}  # a=1, b=3, c=0, d=2
BLANK_REPLY = {"F1": "0", "F2": "3", "F3": "3", "F4": "0", "F5": "2", "F6": "0"}


def _im(position: int, role: str, dogs: int) -> dict[str, Any]:
    return {"position": position, "role": role, "class_counts": {"dog": dogs}}


def _counting(rid: str, query_at: int, n: int = 3, answer: int = 3) -> dict[str, Any]:
    images = [
        _im(p, "query" if p == query_at else "distractor", 3 * (p == query_at)) for p in range(n)
    ]
    return make_record(
        rid, "counting", {"counts": {"dog": answer}}, str(answer), images,
        {"n_images": n, "k": 1, "spread": 1, "distractors": n - 1},
    )  # fmt: skip


def _member(rec: dict[str, Any], family: str, variant: str, **twin: Any) -> dict[str, Any]:
    control = variant.split("-")[0]
    return {**rec, "family": family, "variant": variant, "twin": {"control": control, **twin}}


def _records() -> tuple[list[dict[str, Any]], dict[str, str]]:
    recs, preds = [], {}
    for i in range(1, 7):
        f = f"F{i}"
        recs += [
            _member(_counting(f, 2), f, "base"),
            _member(_counting(f"{f}~permute-p0", 0), f, "permute-p0", order=[2, 0, 1]),
            _member(_counting(f"{f}~permute-p1", 1), f, "permute-p1", order=[0, 2, 1]),
            _member(_counting(f"{f}~distractors-2", 2, n=5), f, "distractors-2", added=2),
            _member(
                _counting(f"{f}~blank-all", 2, answer=0), f, "blank-all",
                scope="all", answer="content_free",
            ),
        ]  # fmt: skip
        preds[f] = RIGHT if f in BASE_RIGHT else WRONG
        preds[f"{f}~permute-p0"] = preds[f]
        preds[f"{f}~permute-p1"] = RIGHT if f in P1_RIGHT else WRONG
        preds[f"{f}~distractors-2"] = RIGHT if f in D2_RIGHT else WRONG
        preds[f"{f}~blank-all"] = BLANK_REPLY[f]
    # F7: only the base has a reply; its twins are missing (left out, not counted as flips)
    recs += [
        _member(_counting("F7", 2), "F7", "base"),
        _member(_counting("F7~permute-p1", 1), "F7", "permute-p1", order=[0, 2, 1]),
        _member(_counting("F7~distractors-2", 2, n=5), "F7", "distractors-2", added=2),
    ]
    preds["F7"] = RIGHT
    for g, reply in (("G1", "dog"), ("G2", "cat")):
        images = [{"position": p, "role": "query", "class_counts": {"dog": 1}} for p in range(2)]
        base = make_record(g, "common", {"class": "dog"}, "dog", images, {"n_images": 2})
        twin = {**base, "id": f"{g}~noise-all"}
        recs += [
            _member(base, g, "base"),
            _member(twin, g, "noise-all", scope="all", answer="guess"),
        ]
        preds[g], preds[f"{g}~noise-all"] = "dog", reply
    return recs, preds


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("paired")
    recs, preds = _records()
    bench = write_benchmark(root / "bench", recs)
    path = write_predictions(root / "p.jsonl", preds)
    report = score_files(bench, [path])
    return report["models"][0]["paired"]["strict"]["tasks"]


def test_mcnemar_exact_by_hand() -> None:
    # b=3, c=1: 2 * (C(4,0) + C(4,1)) / 2^4 = 2 * 5/16
    assert mcnemar_exact(3, 1) == mcnemar_exact(1, 3) == 0.625
    assert mcnemar_exact(3, 0) == 0.25  # 2 * 1/8
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(2, 2) == 1.0  # capped at 1
    # b=10, c=2: 2 * (1 + 12 + 66) / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096)


def test_flip_rates_wilson_bounds_and_mcnemar(paired) -> None:
    v = paired["counting"]["variants"]
    assert list(v) == ["permute-p0", "permute-p1", "distractors-2", "blank-all"]
    p1 = v["permute-p1"]
    assert (p1["both_right"], p1["right_to_wrong"], p1["wrong_to_right"], p1["both_wrong"]) == (
        1, 3, 1, 1,
    )  # fmt: skip
    assert p1["base_accuracy"] == pytest.approx(4 / 6) and p1["twin_accuracy"] == pytest.approx(
        2 / 6
    )
    rw = p1["flip_right_to_wrong"]
    # Wilson k=3, n=4, z=1.96: centre (0.75 + z^2/8) / (1 + z^2/4) = 0.62752,
    # half z*sqrt(0.75*0.25/4 + z^2/64) / (1 + z^2/4) = 0.32689
    assert (rw["k"], rw["n"], rw["rate"]) == (3, 4, 0.75)
    assert rw["ci_low"] == pytest.approx(0.3006, abs=1e-4)
    assert rw["ci_high"] == pytest.approx(0.9544, abs=1e-4)
    wr = p1["flip_wrong_to_right"]
    # k=1, n=2: centre 0.5, half z*sqrt(0.125 + z^2/16) / (1 + z^2/2) = 0.40547
    assert (wr["k"], wr["n"]) == (1, 2)
    assert (wr["ci_low"], wr["ci_high"]) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert p1["mcnemar_p"] == 0.625
    d2 = v["distractors-2"]
    assert (d2["right_to_wrong"], d2["wrong_to_right"], d2["mcnemar_p"]) == (3, 0, 0.25)
    p0 = v["permute-p0"]
    assert (p0["right_to_wrong"], p0["wrong_to_right"], p0["mcnemar_p"]) == (0, 0, 1.0)
    # permute pooled: p0 (4, 0, 0, 2) + p1 (1, 3, 1, 1)
    pooled = paired["counting"]["controls"]["permute"]
    assert (pooled["n_pairs"], pooled["right_to_wrong"], pooled["wrong_to_right"]) == (12, 3, 1)
    assert pooled["flip_right_to_wrong"]["rate"] == 3 / 8
    assert pooled["flip_wrong_to_right"]["rate"] == 1 / 4


def test_consistency_positions_distractors_and_blind_prior(paired) -> None:
    c = paired["counting"]
    # Only F1 has every member right (base, p0, p1, d2, blank-all "0").
    assert c["n_families"] == 7 and c["n_unanswered"] == 2  # F7's two twins
    cons = c["consistency"]
    assert (cons["k"], cons["n"]) == (1, 6)
    # k=1, n=6: centre (1/6 + z^2/12) / (1 + z^2/6) = 0.29678, half 0.26673
    assert (cons["ci_low"], cons["ci_high"]) == pytest.approx((0.0301, 0.5635), abs=1e-4)
    pos = {k: (b["k"], b["n"]) for k, b in c["evidence_position"].items()}
    assert pos == {"0": (4, 6), "1": (2, 6), "2": (5, 7)}  # F7's base at 2 is right
    dis = {k: (b["k"], b["n"]) for k, b in c["added_distractors"].items()}
    assert dis == {"0": (5, 7), "2": (1, 6)}
    blank = c["blind_prior"]["blank-all"]
    # replies "3" (the base answer) in F2, F3; "0" (correct without content) in F1, F4, F6
    assert (blank["k"], blank["n"], blank["answer"]) == (2, 6, "content_free")
    assert blank["accuracy"] == 0.5
    g = paired["common"]
    assert g["variants"] == {} and (g["consistency"]["k"], g["consistency"]["n"]) == (2, 2)
    prior = g["blind_prior"]["noise-all"]
    assert (prior["k"], prior["n"], prior["answer"]) == (1, 2, "guess") and "accuracy" not in prior


def test_markdown_and_no_paired_key_without_families(tmp_path, paired) -> None:
    from mimicgen.scoring import write_report

    recs, preds = _records()
    bench = write_benchmark(tmp_path / "bench", recs)
    path = write_predictions(tmp_path / "p.jsonl", preds)
    write_report(score_files(bench, [path]), tmp_path / "r.json")
    md = (tmp_path / "r.md").read_text()
    assert "## Paired twins: p, strict pipeline" in md
    assert (
        "| permute-p1 | 6 | 66.7 | 33.3 | 75.0 [30.1, 95.4] (3/4) | 50.0 [9.5, 90.5] (1/2) | 0.625 |"
        in md
    )
    plain = [{k: v for k, v in r.items() if k not in ("family", "variant", "twin")} for r in recs]
    bench2 = write_benchmark(tmp_path / "plain", plain)
    write_report(score_files(bench2, [path]), tmp_path / "plain.json")
    assert "paired" not in json.loads((tmp_path / "plain.json").read_text())["models"][0]
    assert "Paired twins" not in (tmp_path / "plain.md").read_text()
