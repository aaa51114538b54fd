"""Derived controls in plots follow the score report's breakdown rules (docs/scoring.md)."""

from __future__ import annotations

from mimicgen.plots.bench_io import derived_controls


def _img(pos: int, role: str, counts: dict[str, int]) -> dict:
    return {"path": f"images/x/{pos}.png", "position": pos, "role": role, "class_counts": counts}


def test_counting_k2_true_count_is_the_sum_and_evidence_the_query_images() -> None:
    record = {
        "id": "c",
        "task": "counting",
        "answer": {"counts": {"dog": 2, "cat": 3}},
        "controls": {"n_images": 4, "k": 2, "spread": 2},
        "images": [
            _img(0, "distractor", {}),
            _img(1, "query", {"dog": 2}),
            _img(2, "distractor", {"car": 1}),
            _img(3, "query", {"cat": 3}),
        ],
    }
    got = derived_controls(record)
    assert got["true_count"] == "5"
    assert got["evidence_positions"] == "1,3" and got["n_query_images"] == "2"
    assert (got["k"], got["spread"], got["n_images"]) == ("2", "2", "4")


def test_common_evidence_is_the_images_holding_the_gold_class() -> None:
    # Common / odd-one images are all "context": evidence = images whose counts include the gold.
    record = {
        "id": "o",
        "task": "odd_one",
        "answer": {"class": "kite"},
        "controls": {"n_images": 4},
        "images": [
            _img(0, "context", {"dog": 1}),
            _img(1, "context", {"dog": 1, "kite": 1}),
            _img(2, "context", {"dog": 2}),
            _img(3, "context", {"dog": 1}),
        ],
    }
    got = derived_controls(record)
    assert got["evidence_positions"] == "1" and got["n_query_images"] == "1"
    assert "true_count" not in got
