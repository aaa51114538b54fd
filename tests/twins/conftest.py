"""A small synthetic source (rendered once) and twin-suite builds over it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.sources.spec import SourceSpec
from mimicgen.tasks.common_task import CommonSpec
from mimicgen.tasks.counting import CountingSpec
from mimicgen.tasks.listing import ListingSpec

ALL_CONTROLS = {
    "permute": True,
    "distractors": [0, 2, 4],
    "spread": [1, 2, 3],
    "blank": ["all", "distractors"],
    "noise": "all",
    "stitch": True,
}


def twin_specs(source: SourceSpec, n: int = 12) -> list[Any]:
    return [
        CountingSpec(
            name="tc",
            num_queries=n,
            n_images=5,
            spread=(1, 3),
            totals=(2, 3),
            source=source,
            variants=ALL_CONTROLS,
        ),
        CountingSpec(
            name="tu",
            num_queries=n,
            n_images=(3, 6),
            balanced=False,
            spread=(1, 3),
            source=source,
            variants={"spread": [1, 2], "distractors": [3], "permute": {"n": 3}},
        ),
        ListingSpec(
            name="tl",
            num_queries=n,
            n_images=(3, 5),
            source=source,
            variants={"permute": True, "distractors": [2], "blank": "all", "stitch": True},
        ),
        CommonSpec(
            name="tm",
            num_queries=n,
            n_images=(2, 4),
            source=source,
            variants={"permute": True, "noise": "all"},
        ),
    ]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="session")
def synth_ann(tmp_path_factory) -> Path:
    from mimicgen.sources.synthetic import render_dataset

    return render_dataset(tmp_path_factory.mktemp("synth") / "ds", 200, 7, image_size=64)


@pytest.fixture(scope="session")
def synth_source(synth_ann: Path) -> SourceSpec:
    return SourceSpec(kind="coco", annotations=synth_ann, image_root=synth_ann.parent / "images")


@pytest.fixture(scope="session")
def twin_build(synth_source: SourceSpec, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("twins") / "bench"
    build_eval_set(twin_specs(synth_source), BuildOptions(out=out))
    return out
