"""Shared fixtures: paths to the real test data in ../shared (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def coco_tiny() -> Path:
    """Root of the real 160-image COCO subset (annotations/, train2017/, val2017/)."""
    root = SHARED_DATA / "coco_tiny"
    if not (root / "annotations" / "instances_val2017.json").exists():
        pytest.skip(f"real COCO subset not found at {root} (../shared/data is absent)")
    return root


@pytest.fixture(scope="session")
def openimages_meta() -> Path:
    """Folder with the real OpenImages class list and hierarchy."""
    root = SHARED_DATA / "openimages"
    if not (root / "oidv7-class-descriptions-boxable.csv").exists():
        pytest.skip(f"OpenImages class list not found at {root} (../shared/data is absent)")
    return root


#: Tests that take several seconds alone (FiftyOne's database, headless Chromium, forward passes
#: of tiny models, a live server): marked ``slow``, so ``pytest -m "not slow"`` (``make
#: test-fast``) is the quick tier; ``make test`` still runs everything.
_SLOW = (
    "tests/fiftyone/",
    "tests/plots/test_chromium.py",
    "tests/train/test_train_masks.py::test_flex_equals_eager",
    "tests/predict/test_openai.py::test_real_server",
    "tests/predict/test_hf.py::test_batch_8_equals_batch_1",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(_SLOW):
            item.add_marker(pytest.mark.slow)
