"""Export a benchmark (and model predictions) as a FiftyOne grouped dataset.

Layout (see docs/fiftyone.md):

- one **group** per query, in benchmark order; one **slice** per image position
  (``pos_00``, ``pos_01``, ...; the default slice is ``pos_00``);
- on each image sample: ``position``, ``role`` (query/distractor/context), ``source_id``,
  ``class_counts`` and ``ground_truth``: the boxes of the query's target classes (answer and
  counted classes) as :class:`fiftyone.Detections`, each with ``area_frac``, ``is_group`` and
  ``recognisable`` (per the build's presence rules);
- on every sample of a group (FiftyOne keeps fields per sample, so group-level facts are
  repeated on each slice and any slice can be filtered): ``query_id``, ``query_index``,
  ``task``, ``question``, ``answer`` (canonical text), ``answer_classes``, ``answer_struct``,
  ``controls`` (an embedded document: ``controls.spread``, ``controls.k``, ...) and, per
  predictions file, a field ``pred_<model>`` with ``prediction``, ``extracted``, ``parsed``,
  ``correct`` and ``f1`` under the chosen pipeline plus ``strict``/``lenient``/``mimic``
  sub-documents with every pipeline's verdict. "Counting, spread 4, wrong" is then
  ``match((F("task") == "counting") & (F("controls.spread") == 4) & ~F("pred_m.correct"))``;
  a saved view ``<model>-wrong`` is created per model.

Verdicts are the per-sample rows ``mimicgen score`` writes
(:func:`mimicgen.scoring.score.sample_block`), so the correctness fields agree with the score
report. The dataset is built under a temporary name and renamed when complete: an error never
leaves a half-written dataset under the requested name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mimicgen.errors import InputError
from mimicgen.export.source_boxes import TargetBoxes, target_boxes
from mimicgen.fiftyone_env import database_errors, import_fiftyone
from mimicgen.progress import track
from mimicgen.scoring import PIPELINES, Benchmark, load_benchmark, load_predictions
from mimicgen.scoring.score import sample_block

__all__ = [
    "ExportSummary",
    "dataset_for_benchmark",
    "default_dataset_name",
    "export_fiftyone",
    "prediction_field",
    "slice_name",
]

#: Key under ``dataset.info`` where the export records its provenance.
INFO_KEY = "mimicgen"


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_fiftyone` wrote."""

    name: str
    n_groups: int
    n_samples: int
    slices: list[str]
    prediction_fields: list[str]
    n_boxes: int
    warnings: list[str] = field(default_factory=list)


def default_dataset_name(bench_dir: str | Path) -> str:
    """``mimicgen-<benchmark folder name>``."""
    return f"mimicgen-{Path(bench_dir).resolve().name}"


def slice_name(position: int, width: int = 2) -> str:
    """Group slice of an image position: ``pos_00``, ``pos_01``, ... (sorts lexically)."""
    return f"pos_{position:0{width}d}"


def prediction_field(model: str) -> str:
    """Sample field of a model's verdicts: ``pred_`` + the name with non-word characters as _."""
    return "pred_" + re.sub(r"\W", "_", model)


def _json_or_none(value: Any) -> str | None:
    """Extracted answers vary in type (int, list, dict): stored as text for one field type."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _scalar(value: Any) -> Any:
    """Control values as FiftyOne-friendly scalars; lists/dicts become JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _verdicts(
    bench: Benchmark, prediction_files: Sequence[Path], pipeline: str
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Per predictions file: (field name, one verdict document per record)."""
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for path in prediction_files:
        preds = load_predictions(path, bench)
        name = prediction_field(path.stem)
        if any(name == n for n, _ in out):
            name = f"{name}_{len(out) + 1}"  # two files with one stem: keep both
        block = sample_block(bench, preds, path.stem)
        # One document per distinct (context, reply), shared by its records (only read later).
        distinct = []
        for rows in block.templates:
            doc: dict[str, Any] = {
                r.pipeline: {
                    "extracted": _json_or_none(r.extracted),
                    "parsed": r.parsed,
                    "correct": r.correct,
                    "status": r.status,
                    "f1": r.f1,
                }
                for r in rows
            }
            doc.update(prediction=rows[0].prediction, pipeline=pipeline, **doc[pipeline])
            distinct.append(doc)
        out.append((name, [distinct[k] for k in block.which.tolist()]))
    return out


def _detections(fo: Any, boxes: pl.DataFrame) -> dict[tuple[int, int], Any]:
    """(record, position) -> fo.Detections of its target boxes."""
    out: dict[tuple[int, int], list[Any]] = {}
    for row in boxes.iter_rows(named=True):
        out.setdefault((row["record"], row["position"]), []).append(
            fo.Detection(
                label=row["label"],
                bounding_box=[row["x0"], row["y0"], row["x1"] - row["x0"], row["y1"] - row["y0"]],
                area_frac=row["area_frac"],
                is_group=row["is_group"],
                recognisable=row["recognisable"],
            )
        )
    return {k: fo.Detections(detections=v) for k, v in out.items()}


def _group_fields(fo: Any, index: int, rec: Mapping[str, Any]) -> dict[str, Any]:
    answer = rec["answer"]
    controls = {str(k): _scalar(v) for k, v in (rec.get("controls") or {}).items()}
    classes = list(
        answer.get("counts")
        or answer.get("classes")
        or ([answer["class"]] if answer.get("class") is not None else [])
    )
    return {
        "query_id": str(rec["id"]),
        "query_index": index,
        "task": rec["task"],
        "question": rec["question"],
        "answer": rec.get("answer_text"),
        "answer_classes": classes,
        "answer_struct": answer,
        "controls": fo.DynamicEmbeddedDocument(**controls),
        "spec": rec.get("spec"),
        # twin families (variants:): group by family to see a query's twins side by side
        **(
            {"family": str(rec["family"]), "variant": rec.get("variant")} if "family" in rec else {}
        ),
    }


def _samples(
    fo: Any, bench: Benchmark, found: TargetBoxes, verdicts: list[tuple[str, list[dict[str, Any]]]]
) -> list[Any]:
    """Every image sample, ordered by (position, query) so slices and groups keep their order."""
    dets = _detections(fo, found.boxes)
    sizes = {(r, p): (w, h) for r, p, w, h in found.images.iter_rows()}
    width = max(2, len(str(max(len(r["images"]) for r in bench.records) - 1)))
    items = []
    for i, rec in enumerate(track(bench.records, "building samples")):
        group = fo.Group()
        shared = _group_fields(fo, i, rec)
        for name, docs in verdicts:
            shared[name] = fo.DynamicEmbeddedDocument(
                **{
                    k: (fo.DynamicEmbeddedDocument(**v) if isinstance(v, dict) else v)
                    for k, v in docs[i].items()
                }
            )
        for img in rec["images"]:
            pos = int(img["position"])
            key = (i, pos)
            w, h = sizes.get(key, (None, None))
            sample = fo.Sample(
                filepath=os.path.abspath(bench.path / img["path"]),
                group=group.element(slice_name(pos, width)),
                position=pos,
                role=img.get("role"),
                source_id=str(img["source_id"]),
                class_counts=dict(img.get("class_counts") or {}),
                # None: source unreadable (boxes unknown); empty Detections: no target boxes.
                ground_truth=dets.get(key, fo.Detections()) if key in sizes else None,
                **shared,
            )
            if w is not None and h is not None:
                sample["metadata"] = fo.ImageMetadata(width=w, height=h)
            items.append((pos, i, sample))
    items.sort(key=lambda t: (t[0], t[1]))
    return [s for _, _, s in items]


def export_fiftyone(
    bench_dir: str | Path,
    predictions: Sequence[str | Path] = (),
    name: str | None = None,
    *,
    overwrite: bool = False,
    pipeline: str = "strict",
) -> ExportSummary:
    """Write the benchmark in ``bench_dir`` as a persistent FiftyOne grouped dataset."""
    if pipeline not in PIPELINES:
        raise InputError(f"unknown pipeline {pipeline!r}; choose from {', '.join(PIPELINES)}")
    fo = import_fiftyone()  # first: without the extra, fail before doing any work
    bench = load_benchmark(bench_dir)  # validates records; InputError on bad input
    name = name or default_dataset_name(bench_dir)
    files = [Path(p) for p in predictions]
    verdicts = _verdicts(bench, files, pipeline)
    found = target_boxes(bench.path, bench.manifest, bench.records)
    with database_errors():
        if fo.dataset_exists(name) and not overwrite:
            raise InputError(
                f"FiftyOne dataset {name!r} already exists; pass --overwrite to "
                "replace it or --name to choose another name"
            )
        samples = _samples(fo, bench, found, verdicts)
        staging = fo.Dataset(f"{name}-partial-{os.getpid()}", overwrite=True)
        try:
            staging.add_group_field("group", default=samples[0].group.name)
            # Declared up front: dict values with class-name keys stay plain dicts.
            staging.add_sample_field("class_counts", fo.DictField)
            staging.add_sample_field("answer_struct", fo.DictField)
            # Declared even when no source could be read, so the schema is always the same.
            staging.add_sample_field(
                "ground_truth", fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections
            )
            # Declaring embedded attributes sample by sample (dynamic=True) costs a schema
            # save per sample; one pass afterwards declares them all (controls.*, pred_*.*).
            staging.add_samples(samples, progress=False)
            staging.add_dynamic_sample_fields()
            staging.info[INFO_KEY] = {
                "benchmark": str(bench.path.resolve()),
                "manifest_sha256": bench.manifest_sha256,
                "pipeline": pipeline,
                "models": {n: str(p) for (n, _), p in zip(verdicts, files, strict=True)},
            }
            staging.save()
            for field_name, _ in verdicts:
                model = field_name.removeprefix("pred_")
                staging.save_view(
                    f"{model}-wrong", staging.match(fo.ViewField(f"{field_name}.correct") == False)
                )
            if fo.dataset_exists(name):
                fo.delete_dataset(name)
            staging.name = name
            staging.persistent = True
        except BaseException:
            staging.delete()
            raise
        slices = list(staging.group_slices)
    return ExportSummary(
        name=name,
        n_groups=len(bench.records),
        n_samples=len(samples),
        slices=slices,
        prediction_fields=[n for n, _ in verdicts],
        n_boxes=found.boxes.height,
        warnings=found.warnings,
    )


def dataset_for_benchmark(bench_dir: str | Path, name: str | None = None) -> Any:
    """The exported dataset of ``bench_dir`` (exported first if absent or out of date)."""
    fo = import_fiftyone()
    name = name or default_dataset_name(bench_dir)
    bench = load_benchmark(bench_dir)
    with database_errors():
        if fo.dataset_exists(name):
            dataset = fo.load_dataset(name)
            info = dataset.info.get(INFO_KEY) or {}
            if info.get("manifest_sha256") == bench.manifest_sha256:
                return dataset
        export_fiftyone(bench_dir, name=name, overwrite=True)
        return fo.load_dataset(name)
