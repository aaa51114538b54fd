"""A tiny hand-written world for eval-set writer tests: source, index, spec and sampler.

The fake sampler follows the same contract as ``mimicgen.tasks.sample``: each query depends only
on (spec seed, query number), so any subset of query numbers gives the same queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from PIL import Image
from pydantic import BaseModel, ConfigDict

from mimicgen.build.eval_set import BuildOptions, BuildResult, build_eval_set
from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import AnnotationIndex, build_index
from mimicgen.io import canonical_json, sha256_bytes, sha256_file
from mimicgen.sources.base import (
    BOX_SCHEMA,
    CLASS_SCHEMA,
    IMAGE_SCHEMA,
    Hierarchy,
    SourceData,
    SourceFile,
)
from mimicgen.sources.spec import SourceSpec
from mimicgen.tasks.query import Query, QueryImage

CLASSES = ["cat", "dog", "car"]
PARENTS = ["animal", "animal", "vehicle"]
# (image, class, area_frac, is_group): images 0-5 hold 1-2 large cats; 6-9 hold no cat.
BOXES = [
    (0, 0, 0.2, False),
    (1, 0, 0.2, False),
    (1, 0, 0.3, False),
    (2, 0, 0.1, False),
    (2, 1, 0.2, False),
    (3, 0, 0.2, False),
    (3, 0, 0.2, False),
    (4, 0, 0.5, False),
    (5, 0, 0.2, False),
    (5, 2, 0.01, False),
    (6, 1, 0.2, False),
    (7, 2, 0.2, False),
    (8, 1, 0.01, False),
    (9, 2, 0.3, True),
    (10, 0, 0.01, False),  # a small cat: image 10 is neither countable nor a distractor
]
N_IMAGES = 11


class FakeSpec(BaseModel):
    """The fields the writer reads from ``mimicgen.specs.TaskSpec``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    task: Literal["counting"] = "counting"
    source: SourceSpec
    presence: PresenceRules = PresenceRules()
    seed: int = 0
    num_queries: int = 12


def fake_hash(spec: FakeSpec) -> str:
    return sha256_bytes(canonical_json(spec.model_dump(mode="json")).encode())


def make_source(root: Path) -> SourceData:
    """Write 11 small PNGs and an annotations stand-in under ``root``; return the SourceData."""
    img_dir = root / "imgs"
    img_dir.mkdir(parents=True, exist_ok=True)
    for i in range(N_IMAGES):
        colour = (20 * i % 256, 100, 200 - 10 * i)
        Image.new("RGB", (40 + i, 30), colour).save(img_dir / f"{i:03d}.png")
    ann = root / "annotations.json"
    ann.write_text('{"fake": true}\n')
    images = pl.DataFrame(
        {
            "image_idx": range(N_IMAGES),
            "source_id": [1000 + i for i in range(N_IMAGES)],
            "file_name": [f"{i:03d}.png" for i in range(N_IMAGES)],
            "width": [40 + i for i in range(N_IMAGES)],
            "height": [30] * N_IMAGES,
        },
        schema=IMAGE_SCHEMA,
    )
    classes = pl.DataFrame(
        {"class_idx": range(3), "source_class_id": [1, 2, 3], "name": CLASSES, "parent": PARENTS},
        schema=CLASS_SCHEMA,
    )
    rows = [
        {
            "image_idx": i,
            "class_idx": c,
            "x0": 0.0,
            "y0": 0.0,
            "x1": a**0.5,
            "y1": a**0.5,
            "area_frac": a,
            "is_group": g,
            "is_occluded": False,
            "is_truncated": False,
            "is_depiction": False,
        }
        for i, c, a, g in BOXES
    ]
    boxes = pl.DataFrame(rows, schema=BOX_SCHEMA)
    hierarchy = Hierarchy({"animal": ("cat", "dog"), "vehicle": ("car",)})
    return SourceData(
        kind="coco",
        images=images,
        classes=classes,
        boxes=boxes,
        hierarchy=hierarchy,
        files=(SourceFile(str(ann), sha256_file(ann)),),
        image_root=img_dir,
    )


def make_loaders(root: Path) -> tuple[Any, Any]:
    """(index_loader, source_loader) over the fake source written under ``root``."""
    source = make_source(root)

    def index_loader(spec: SourceSpec, rules: PresenceRules) -> AnnotationIndex:
        return build_index(source, rules)

    def source_loader(spec: SourceSpec) -> SourceData:
        return source

    return index_loader, source_loader


def fake_sample(spec: FakeSpec, index: AnnotationIndex, numbers: range) -> list[Query]:
    """Count cats over 1-3 query images plus 0-2 distractors, from (seed, number) alone."""
    table = index.table
    cat = index.class_idx("cat")
    cats = table.filter(pl.col("class_idx") == cat)
    countable = cats.filter((pl.col("n_small") == 0) & (pl.col("n_group") == 0))
    counts = dict(zip(countable["image_idx"].to_list(), countable["n_recognisable"].to_list()))
    distractors = sorted(set(range(index.images.height)) - set(cats["image_idx"].to_list()))
    files = index.images["file_name"].to_list()
    ids = index.images["source_id"].to_list()
    queries = []
    for q in numbers:
        rng = np.random.default_rng([spec.seed, q])
        qi = rng.choice(sorted(counts), size=int(rng.integers(1, 4)), replace=False).tolist()
        di = rng.choice(distractors, size=int(rng.integers(0, 3)), replace=False).tolist()
        order = rng.permutation(len(qi) + len(di)).tolist()
        chosen = [(i, "query") for i in qi] + [(i, "distractor") for i in di]
        chosen = [chosen[j] for j in order]
        images = [
            QueryImage(
                image_idx=i,
                source_id=ids[i],
                file_name=files[i],
                position=p,
                role=role,
                class_counts={"cat": counts.get(i, 0)},
            )
            for p, (i, role) in enumerate(chosen)
        ]
        total = sum(counts[i] for i in qi)
        queries.append(
            Query(
                id=f"{spec.name}-{q:05d}",
                task="counting",
                question="How many cats are there in these images? (non-ASCII check: «chats», кошки)",
                answer={"counts": {"cat": total}},
                answer_text=str(total),
                images=images,
                controls={
                    "n_images": len(images),
                    "spread": len(qi),
                    "distractors": len(di),
                    "k": 1,
                },
                template={"task": "counting-0", "connector": "counting-c0"},
            )
        )
    return queries


def build_fake_set(specs: list[FakeSpec], options: BuildOptions, index_loader: Any) -> BuildResult:
    """:func:`build_eval_set` with the fake sampler and spec hasher (no real task code)."""
    return build_eval_set(
        specs, options, index_loader=index_loader, sampler=fake_sample, spec_hasher=fake_hash
    )
