"""Boxes of a built benchmark's images, looked up in the sources named by its manifest.

A ``benchmark.jsonl`` record holds image paths, source image ids and class counts, not boxes.
Exports that show boxes (FiftyOne) reload the annotation sources listed in ``manifest.json``
(``sources``: kind, annotations, image_root) with :func:`mimicgen.sources.load_source` and join
the boxes of each record's target classes (its answer classes and counted classes) onto its
images. Paths in the manifest are as given at build time: relative ones are tried against the
working directory, then the benchmark folder. A source that cannot be loaded (file moved or
deleted, extra not installed) is reported as a warning and its images simply get no boxes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mimicgen.errors import MimicgenError
from mimicgen.index.rules import PresenceRules
from mimicgen.scoring.check import record_classes
from mimicgen.sources.base import BOX_SCHEMA, CLASS_SCHEMA, IMAGE_SCHEMA
from mimicgen.sources.registry import expand_cache_path
from mimicgen.sources.spec import SourceSpec

__all__ = ["BOX_COLUMNS", "TargetBoxes", "target_boxes"]

#: Which record image a row belongs to: the record's line number and the image's position in it.
_IMAGE_KEY: dict[str, pl.DataType | type[pl.DataType]] = {
    "record": pl.UInt32,
    "position": pl.Int64,
}
#: Schema of :attr:`TargetBoxes.boxes`; box fields keep the source tables' types.
_BOXES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    **_IMAGE_KEY,
    "label": CLASS_SCHEMA["name"],
    **{c: BOX_SCHEMA[c] for c in ("x0", "y0", "x1", "y1", "area_frac", "is_group")},
    "recognisable": pl.Boolean,
}
#: Schema of :attr:`TargetBoxes.images`.
_IMAGES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    **_IMAGE_KEY,
    "width": IMAGE_SCHEMA["width"],
    "height": IMAGE_SCHEMA["height"],
}

#: Columns of :attr:`TargetBoxes.boxes`: one row per box of a target class on a record's image.
BOX_COLUMNS = tuple(_BOXES_SCHEMA)


@dataclass(frozen=True)
class TargetBoxes:
    """Target-class boxes of every record image whose source could be read."""

    boxes: pl.DataFrame
    """One row per box (:data:`BOX_COLUMNS`), in record, position, source order."""
    images: pl.DataFrame
    """``record, position, width, height`` of every image found in its source (sizes may be
    null); images missing here have unknown boxes (as opposed to no target boxes)."""
    warnings: list[str] = field(default_factory=list)


def _existing_path(raw: str | None, bench_dir: Path) -> Path | None:
    if raw is None:
        return None
    path = Path(expand_cache_path(raw))
    if path.is_absolute() or path.exists():
        return path
    rebased = bench_dir / path
    return rebased if rebased.exists() else path


def _entry_spec(
    entry: Mapping[str, Any], bench_dir: Path, spec_source: Mapping[str, Any] | None
) -> SourceSpec:
    """A manifest ``sources`` entry -> the SourceSpec that reloads it."""
    kind = entry.get("kind")
    annotations = entry.get("annotations")
    if kind == "fiftyone":
        name = str(annotations or "").removeprefix("fiftyone:")
        return SourceSpec(kind="fiftyone", dataset=name or None)
    side: dict[str, Any] = {}
    if kind == "openimages" and spec_source and spec_source.get("kind") == "openimages":
        # Side files (class list, hierarchy, labels) are named by the build's own spec.
        for key in ("classes_csv", "hierarchy", "labels_csv"):
            side[key] = _existing_path(spec_source.get(key), bench_dir)
    if kind == "synthetic" and spec_source and spec_source.get("kind") == "synthetic":
        found = _existing_path(annotations, bench_dir)
        if found is None or not found.is_file():
            # Not in this machine's render cache (another machine or --cache-dir): render it
            # again from the build's spec; the renderer is deterministic.
            return SourceSpec.model_validate(spec_source)
    # The synthetic source is rendered as a COCO file: read that file if it is there.
    return SourceSpec(
        kind="coco" if kind == "synthetic" else kind,
        annotations=_existing_path(annotations, bench_dir),
        image_root=_existing_path(entry.get("image_root"), bench_dir),
        **side,
    )


def _entry_of(path: str, entries: Sequence[Mapping[str, Any]]) -> int | None:
    """The source entry whose image folder (``images/<prefix>/``) holds ``path``."""
    for i, entry in enumerate(entries):
        prefix = entry.get("prefix")
        if prefix and path.startswith(f"images/{prefix}/"):
            return i
    return 0 if len(entries) == 1 else None


def _image_rows(records: Sequence[Mapping[str, Any]], manifest: Mapping[str, Any]) -> pl.DataFrame:
    """One row per record image: where to look it up and which classes to fetch."""
    entries = manifest.get("sources") or []
    specs = manifest.get("spec") or {}
    rows: dict[str, list[Any]] = {
        k: [] for k in ("record", "position", "entry", "source_id", "targets", "min_area")
    }
    min_areas: dict[Any, float] = {}  # per spec key: one validation, not one per record
    for i, rec in enumerate(records):
        targets = sorted(record_classes(rec))
        key = rec.get("spec")
        min_area = min_areas.get(key)
        if min_area is None:
            presence = (specs.get(key) or {}).get("presence") or {}
            min_area = min_areas[key] = PresenceRules.model_validate(presence).min_box_area_frac
        for img in rec["images"]:
            if "content" in img:
                continue  # a generated twin image (blank, noise, stitched): no source boxes
            rows["record"].append(i)
            rows["position"].append(int(img["position"]))
            rows["entry"].append(_entry_of(str(img["path"]), entries))
            rows["source_id"].append(str(img["source_id"]))
            rows["targets"].append(targets)
            rows["min_area"].append(min_area)
    return pl.DataFrame(
        rows,
        schema={
            **_IMAGE_KEY,
            "entry": pl.Int64,
            "source_id": pl.String,
            "targets": pl.List(pl.String),
            "min_area": pl.Float64,
        },
    )


def _spec_source_for(
    entry_idx: int,
    rows: pl.DataFrame,
    records: Sequence[Mapping[str, Any]],
    manifest: Mapping[str, Any],
) -> Mapping[str, Any] | None:
    first = rows.filter(pl.col("entry") == entry_idx).item(0, "record")
    spec = (manifest.get("spec") or {}).get(records[first].get("spec")) or {}
    return spec.get("source")


def _lookup(rows: pl.DataFrame, spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Join one source's boxes onto its rows: (boxes, found images, number of unknown ids)."""
    from mimicgen.sources import load_source

    data = load_source(spec)
    images = data.images.select("image_idx", pl.col("source_id").cast(pl.String), "width", "height")
    found = rows.join(images, on="source_id", how="inner", maintain_order="left")
    names = data.classes.select("class_idx", pl.col("name").alias("label"))
    boxes = data.boxes.join(names, on="class_idx", how="left", maintain_order="left")
    wanted = found.select(
        "record", "position", "image_idx", "min_area", pl.col("targets").alias("label")
    ).explode("label")
    hits = wanted.join(boxes, on=["image_idx", "label"], how="inner", maintain_order="left")
    hits = hits.with_columns(
        ((pl.col("area_frac") >= pl.col("min_area")) & ~pl.col("is_group")).alias("recognisable")
    ).select(BOX_COLUMNS)
    return hits, found.select("record", "position", "width", "height"), rows.height - found.height


def target_boxes(
    bench_dir: str | Path,
    manifest: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
) -> TargetBoxes:
    """Target-class boxes for every image of ``records`` (see the module docstring)."""
    bench_dir = Path(bench_dir)
    entries = manifest.get("sources") or []
    rows = _image_rows(records, manifest)
    warnings: list[str] = []
    if rows.filter(pl.col("entry").is_null()).height:
        warnings.append("some images match no manifest source entry; they get no boxes")
    box_parts, image_parts = [], []
    for e in sorted(rows.get_column("entry").drop_nulls().unique().to_list()):
        entry = entries[e]
        part = rows.filter(pl.col("entry") == e)
        try:
            spec = _entry_spec(entry, bench_dir, _spec_source_for(e, rows, records, manifest))
            hits, found, unknown = _lookup(part, spec)
        except (MimicgenError, ValueError) as exc:
            warnings.append(
                f"source {entry.get('annotations')!r} could not be read ({exc}); "
                "its images are exported without boxes"
            )
            continue
        if unknown:
            warnings.append(
                f"{unknown} images are not in source {entry.get('annotations')!r}; "
                "they are exported without boxes"
            )
        box_parts.append(hits)
        image_parts.append(found)
    boxes = pl.concat([pl.DataFrame(schema=_BOXES_SCHEMA), *box_parts], how="vertical_relaxed")
    images = pl.concat([pl.DataFrame(schema=_IMAGES_SCHEMA), *image_parts], how="vertical_relaxed")
    return TargetBoxes(
        boxes.sort("record", "position", maintain_order=True),
        images.sort("record", "position"),
        warnings,
    )
