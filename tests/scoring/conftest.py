"""Fixtures: small hand-written benchmarks (no dependency on `mimicgen build`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.benchfiles import TINY_CLASSES, TINY_RECORDS, write_benchmark


@pytest.fixture()
def tiny_bench(tmp_path: Path) -> Path:
    """4 counting, 2 listing, 1 common and 1 odd-one query (see benchfiles.TINY_RECORDS)."""
    return write_benchmark(tmp_path / "bench", TINY_RECORDS, classes=TINY_CLASSES)
