"""Prompt forms, written out by hand."""

from __future__ import annotations

import pytest

from mimicgen.predict.prompts import segments


def test_images_first_and_markers():
    assert segments("How many dogs?", 2) == [0, 1, "How many dogs?"]
    assert segments("<image> left, <image> right: same?", 2) == [0, " left, ", 1, " right: same?"]
    # A marker count that does not match the images: markers dropped, images first.
    assert segments("<image> how many?", 2) == [0, 1, "how many?"]


def test_paper_and_interleaved():
    assert segments("How many dogs?", 3, "paper") == [0, " ", 1, " ", 2, "\nHow many dogs?"]
    assert segments("How many dogs?", 2, "interleaved") == [
        "Image 1: ",
        0,
        "\nImage 2: ",
        1,
        "\nHow many dogs?",
    ]
    assert segments("Q?", 0, "paper") == ["Q?"]
    with pytest.raises(ValueError, match="prompt form"):
        segments("Q?", 1, "nope")
