"""FiftyOne source: a FiftyOne detection dataset (e.g. from the COCO or Open Images zoo).

``fiftyone:NAME`` reads the ``Detections`` field ``label_field`` of dataset NAME into the same
:class:`SourceData` tables as the COCO reader, so everything downstream is unchanged:

- **images**: ``source_id`` is the ``coco_id`` field where the dataset has one (COCO imports
  with ``include_id=True``), else ``open_images_id`` (Open Images zoo), else FiftyOne's sample
  id (also as ``<label_field>_coco_id`` etc.); ``file_name`` is the sample's ``filepath`` relative to ``image_root`` (default: the folder
  that holds every image); width/height come from ``metadata`` (null where not computed).
- **boxes**: FiftyOne's relative ``[x, y, w, h]`` become normalised corners clipped to the image,
  with ``area_frac = w * h``. Group boxes are the COCO ``iscrowd`` attribute (1/True) or the Open
  Images ``IsGroupOf`` attribute; ``IsOccluded``/``IsTruncated``/``IsDepiction`` are kept too.
- **classes**: the COCO categories that FiftyOne's COCO importer stores in ``dataset.info``
  (ids, names, supercategories, file order) where present; else the field's class list
  (``dataset.classes[label_field]`` or ``dataset.default_classes``), then any other label seen,
  sorted. ``parent`` is the COCO supercategory (also read from a detection's ``supercategory``
  attribute), so the listing hierarchy is the COCO one; without supercategories it is flat and a
  YAML hierarchy (``--hierarchy``) supplies one.

All columns are fetched with one ``values()`` aggregation and flattened with numpy: no Python
loop over samples or boxes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mimicgen.errors import InputError
from mimicgen.fiftyone_env import database_errors, import_fiftyone
from mimicgen.io import canonical_json, sha256_bytes
from mimicgen.sources.base import (
    BOX_SCHEMA,
    CLASS_SCHEMA,
    IMAGE_SCHEMA,
    SourceData,
    SourceFile,
)
from mimicgen.sources.coco import coco_hierarchy

__all__ = ["DEFAULT_LABEL_FIELD", "read_fiftyone"]

#: FiftyOne's conventional name for ground-truth labels (COCO and Open Images zoo datasets).
DEFAULT_LABEL_FIELD = "ground_truth"

#: Detection attributes read as flags: BOX_SCHEMA column -> attributes that set it (any truthy).
_FLAG_ATTRS: dict[str, tuple[str, ...]] = {
    "is_group": ("iscrowd", "IsGroupOf"),
    "is_occluded": ("IsOccluded",),
    "is_truncated": ("IsTruncated",),
    "is_depiction": ("IsDepiction",),
}
#: Sample fields holding the source's own image id, in order of preference (else sample ``id``);
#: importers name them ``<label_field>_<id>`` when they write several label types.
_ID_FIELDS = ("coco_id", "open_images_id")


def read_fiftyone(
    dataset_name: str,
    label_field: str = DEFAULT_LABEL_FIELD,
    image_root: str | Path | None = None,
) -> SourceData:
    """Read a FiftyOne detection dataset into :class:`SourceData` (InputError on bad input)."""
    fo = import_fiftyone()
    with database_errors():
        if not fo.dataset_exists(dataset_name):
            known = ", ".join(sorted(fo.list_datasets())) or "none"
            raise InputError(
                f"no FiftyOne dataset named {dataset_name!r} (existing: {known}); "
                "create or import it first, e.g. with fiftyone.zoo.load_zoo_dataset"
            )
        dataset = fo.load_dataset(dataset_name)
        view = _image_view(dataset, dataset_name)
        _require_detections(fo, view, dataset_name, label_field)
        columns = _fetch(view, label_field)
        info = dict(dataset.info or {})
        declared = list(dataset.classes.get(label_field) or dataset.default_classes or [])
    where = f"FiftyOne dataset {dataset_name!r}"
    images, root = _images(columns, image_root, where)
    classes = _classes(columns, info, declared)
    boxes = _boxes(columns, classes, where)
    digest = sha256_bytes(
        canonical_json(
            [label_field, images.write_json(), classes.write_json(), boxes.write_json()]
        ).encode()
    )
    return SourceData(
        kind="fiftyone",
        images=images,
        classes=classes,
        boxes=boxes,
        hierarchy=coco_hierarchy(classes),
        files=(SourceFile(path=f"fiftyone:{dataset_name}", sha256=digest),),
        image_root=root,
    )


def _image_view(dataset: Any, name: str) -> Any:
    """Image samples of a dataset; grouped datasets contribute their image slices."""
    if dataset.media_type == "group":
        return dataset.select_group_slices(media_type="image")
    if dataset.media_type != "image":
        raise InputError(
            f"FiftyOne dataset {name!r} holds {dataset.media_type} samples; "
            "a source needs an image dataset"
        )
    return dataset


def _require_detections(fo: Any, view: Any, name: str, label_field: str) -> None:
    schema = view.get_field_schema(embedded_doc_type=fo.Detections)
    if label_field not in schema:
        fields = ", ".join(sorted(schema)) or "none"
        raise InputError(
            f"FiftyOne dataset {name!r} has no Detections field {label_field!r} "
            f"(its Detections fields: {fields}); pass the right label field"
        )


def _fetch(view: Any, label_field: str) -> dict[str, Any]:
    """Every needed column in one aggregation pass; missing attributes come back as None."""
    schema = view.get_field_schema()
    candidates = [n for f in _ID_FIELDS for n in (f, f"{label_field}_{f}")]
    id_field = next((f for f in candidates if f in schema), "id")
    det = f"{label_field}.detections"
    attrs = sorted({a for names in _FLAG_ATTRS.values() for a in names} | {"supercategory"})
    paths = [id_field, "filepath", "metadata.width", "metadata.height", f"{det}.label"]
    paths += [f"{det}.bounding_box"] + [f"{det}.{a}" for a in attrs]
    values = view.values(paths)
    columns = dict(
        zip(
            ["source_id", "filepath", "width", "height", "label", "bbox", *attrs],
            values,
            strict=True,
        )
    )
    columns["id_is_int"] = id_field.endswith("coco_id")
    return columns


def _images(
    columns: dict[str, Any], image_root: str | Path | None, where: str
) -> tuple[pl.DataFrame, Path | None]:
    paths = [os.path.abspath(p) for p in columns["filepath"]]
    if not paths:
        raise InputError(f"{where} has no image samples")
    if image_root is not None:
        root = Path(os.path.abspath(image_root))
    else:
        root = Path(os.path.commonpath([os.path.dirname(p) for p in paths]))
    rel = [os.path.relpath(p, root) for p in paths]
    outside = next((p for p, r in zip(paths, rel, strict=True) if r.startswith("..")), None)
    if outside is not None:
        raise InputError(
            f"{where}: image {outside} lies outside the image root {root}; "
            "pass the folder that holds every image as the image root"
        )
    ids = columns["source_id"]
    id_dtype = pl.Int64 if columns["id_is_int"] else pl.String
    if any(i is None for i in ids):
        raise InputError(f"{where}: some samples have no image id; fill the field or drop them")
    images = pl.DataFrame(
        {
            "image_idx": pl.Series(np.arange(len(paths)), dtype=pl.UInt32),
            "source_id": pl.Series(ids, dtype=id_dtype),
            "file_name": pl.Series(rel, dtype=pl.String),
            "width": pl.Series(columns["width"], dtype=pl.Int32),
            "height": pl.Series(columns["height"], dtype=pl.Int32),
        }
    )
    dup = images.filter(pl.col("source_id").is_duplicated())
    if dup.height:
        raise InputError(f"{where}: image id {dup.item(0, 'source_id')!r} occurs twice")
    schema = {k: (id_dtype if k == "source_id" else v) for k, v in IMAGE_SCHEMA.items()}
    return images.cast(schema), root  # type: ignore[arg-type]


def _flat(nested: Sequence[Sequence[Any] | None]) -> list[Any]:
    """Concatenate per-sample lists (None or [] = a sample without detections), in C."""
    return list(chain.from_iterable(filter(None, nested)))


def _classes(columns: dict[str, Any], info: dict[str, Any], declared: list[str]) -> pl.DataFrame:
    labels = pl.Series("label", _flat(columns["label"]), dtype=pl.String)
    if labels.is_null().any() or (labels == "").any():
        raise InputError("a FiftyOne detection has no label; label or remove it")
    categories = info.get("categories")
    if (
        isinstance(categories, list)
        and categories
        and all(isinstance(c, dict) and "id" in c and "name" in c for c in categories)
    ):
        # COCO import: keep the file's category ids, order and supercategories.
        ids = [int(c["id"]) for c in categories]
        names = [str(c["name"]) for c in categories]
        parents = [c.get("supercategory") for c in categories]
    else:
        names = list(dict.fromkeys(declared))
        ids = list(range(len(names)))
        parents = [None] * len(names)
    extra = sorted(set(labels.unique().to_list()) - set(names))
    names += extra
    ids += list(range(len(ids), len(ids) + len(extra)))
    parents += [None] * len(extra)
    # A detection's 'supercategory' attribute (COCO importer) fills parents the info lacks.
    supers = pl.DataFrame(
        [labels, pl.Series("parent", _flat(columns["supercategory"]), dtype=pl.String)]
    ).drop_nulls()
    seen = dict(supers.unique("label", keep="first", maintain_order=True).iter_rows())
    parents = [p if p is not None else seen.get(n) for n, p in zip(names, parents, strict=True)]
    classes = pl.DataFrame(
        {
            "class_idx": pl.Series(np.arange(len(names)), dtype=pl.UInt32),
            "source_class_id": pl.Series(ids, dtype=pl.Int64),
            "name": pl.Series(names, dtype=pl.String),
            "parent": pl.Series(parents, dtype=pl.String),
        }
    )
    return classes.cast(CLASS_SCHEMA)  # type: ignore[arg-type]


def _flag(columns: dict[str, Any], attrs: tuple[str, ...], n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for attr in attrs:
        # object -> bool casts element-wise in C: None/0/False -> False, 1/True -> True.
        out |= np.array(_flat(columns[attr]), dtype=object).reshape(n).astype(bool)
    return out


def _boxes(columns: dict[str, Any], classes: pl.DataFrame, where: str) -> pl.DataFrame:
    per_image = np.array([len(d) if d else 0 for d in columns["label"]], dtype=np.int64)
    n = int(per_image.sum())
    bbox = np.array(_flat(columns["bbox"]), dtype=np.float64).reshape(n, 4)
    bad = np.flatnonzero(~np.isfinite(bbox).all(axis=1) | (bbox[:, 2] <= 0) | (bbox[:, 3] <= 0))
    if bad.size:
        raise InputError(
            f"{where}: detection {int(bad[0])} has a box with non-positive size "
            f"{bbox[bad[0]].tolist()} (relative [x, y, w, h]); fix or remove it"
        )
    lookup = dict(zip(classes["name"].to_list(), classes["class_idx"].to_list(), strict=True))
    labels = pl.Series(_flat(columns["label"]), dtype=pl.String)
    class_idx = labels.replace_strict(lookup, return_dtype=pl.UInt32)
    x, y, w, h = bbox.T
    table = pl.DataFrame(
        {
            "image_idx": np.repeat(np.arange(per_image.size, dtype=np.uint32), per_image),
            "class_idx": class_idx,
            "x0": np.clip(x, 0.0, 1.0),
            "y0": np.clip(y, 0.0, 1.0),
            "x1": np.clip(x + w, 0.0, 1.0),
            "y1": np.clip(y + h, 0.0, 1.0),
            "area_frac": w * h,
            **{col: _flag(columns, attrs, n) for col, attrs in _FLAG_ATTRS.items()},
        }
    )
    return table.cast(BOX_SCHEMA)  # type: ignore[arg-type]
