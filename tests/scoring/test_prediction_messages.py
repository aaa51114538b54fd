"""Prediction files that are valid but unusual, or empty, get messages saying what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicgen.errors import InputError
from mimicgen.scoring import load_benchmark, load_predictions


def test_a_10_mb_reply_on_the_first_line_is_read(tiny_bench: Path, tmp_path: Path) -> None:
    huge = "dog " * (10 * 2**20 // 4)  # a model that never stopped: 10 MiB of reply
    path = tmp_path / "p.jsonl"
    with path.open("w") as f:
        f.write(json.dumps({"id": "c1", "prediction": huge}) + "\n")
        f.write(json.dumps({"id": "c2", "prediction": "dog: 2, cat: 1"}) + "\n")
    assert path.stat().st_size > 10 * 2**20  # the first line alone is over 10 MiB
    preds = load_predictions(path, load_benchmark(tiny_bench))
    assert preds.format == "jsonl"
    assert len(preds.by_id["c1"]) == len(huge) and preds.by_id["c2"] == "dog: 2, cat: 1"


def test_a_long_first_line_after_blank_lines_names_its_own_line(
    tiny_bench: Path, tmp_path: Path
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('\n\n{"id": "c1", "prediction": "' + "x" * 100_000 + "\n")  # cut short
    with pytest.raises(InputError, match=r"p\.jsonl:3: malformed JSON line \(.+\)"):
        load_predictions(path, load_benchmark(tiny_bench))


@pytest.mark.parametrize(
    ("text", "what"), [("", "is empty"), ("\n \n\n", "holds only blank lines")]
)
def test_an_empty_predictions_file_says_so(
    tiny_bench: Path, tmp_path: Path, text: str, what: str
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_predictions(path, load_benchmark(tiny_bench))
    message = str(info.value)
    assert message.startswith(f"{path} {what}: no predictions to score"), message
    assert "malformed" not in message and ":1:" not in message
