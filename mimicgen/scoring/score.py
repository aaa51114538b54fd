"""Score prediction files against a benchmark: every pipeline, every task, every control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mimicgen.progress import track
from mimicgen.scoring.aggregate import Verdicts, baselines, group_keys, metric_block, task_blocks
from mimicgen.scoring.check import judge, missing_result
from mimicgen.scoring.extract import PIPELINES, TASKS, get_extractor
from mimicgen.scoring.ingest import Benchmark, Predictions, load_benchmark, load_predictions

__all__ = ["SCHEMA_VERSION", "score_file", "score_files", "score_predictions"]

SCHEMA_VERSION = 1


def _run_pipeline(
    bench: Benchmark, preds: Predictions, pipeline: str, samples: list[dict[str, Any]] | None,
    model: str,
) -> Verdicts:
    n = len(bench.records)
    correct = np.zeros(n, dtype=bool)
    failed = np.zeros(n, dtype=bool)
    missing = np.zeros(n, dtype=bool)
    tp = np.zeros(n, dtype=np.int64)
    n_pred = np.zeros(n, dtype=np.int64)
    n_gold = np.zeros(n, dtype=np.int64)
    f1 = np.zeros(n, dtype=np.float64)
    extractors = {task: get_extractor(pipeline, task) for task in TASKS}
    by_id = preds.by_id
    for i in track(range(n), f"scoring {model} ({pipeline})", total=n):
        record = bench.records[i]
        ctx = bench.contexts[i]
        text = by_id.get(str(record["id"]))
        if text is None:
            res = missing_result(ctx, pipeline)
            missing[i] = True
        else:
            res = judge(extractors[ctx.task](text, ctx), ctx, pipeline)
            failed[i] = not res.parsed
        correct[i] = res.correct
        if res.f1 is not None:
            tp[i], n_pred[i], n_gold[i], f1[i] = res.tp, res.n_pred, res.n_gold, res.f1
        if samples is not None:
            samples.append({
                "model": model, "pipeline": pipeline, "id": record["id"], "task": ctx.task,
                "prediction": text, "extracted": res.extracted, "status": res.status,
                "parsed": res.parsed, "correct": res.correct, "f1": res.f1,
            })
    return Verdicts(correct, failed, missing, tp, n_pred, n_gold, f1)


def score_predictions(
    bench: Benchmark,
    preds: Predictions,
    seed: int = 0,
    name: str | None = None,
    pipelines: tuple[str, ...] = PIPELINES,
    samples: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One ``models[]`` entry of the report; per-sample rows are appended to ``samples``."""
    model = name or preds.path.stem
    tasks = np.asarray([r["task"] for r in bench.records])
    task_rows = {t: np.flatnonzero(tasks == t) for t in TASKS if (tasks == t).any()}
    keys = {t: group_keys(bench, rows, t) for t, rows in task_rows.items()}
    all_rows = np.arange(len(bench.records))
    listing_only = set(task_rows) == {"listing"}
    entry: dict[str, Any] = {
        "name": model,
        "predictions": str(preds.path),
        "format": preds.format,
        "coverage": preds.coverage(bench),
        "pipelines": {},
    }
    for pipeline in pipelines:
        verdicts = _run_pipeline(bench, preds, pipeline, samples, model)
        prefix = f"{model}/{pipeline}"
        entry["pipelines"][pipeline] = {
            "overall": metric_block(verdicts, all_rows, listing_only, seed, prefix),
            "tasks": task_blocks(bench, verdicts, task_rows, keys, seed, prefix),
        }
    return entry


def score_file(bench_dir: str | Path, pred_path: str | Path, seed: int = 0) -> dict[str, Any]:
    """Score one prediction file; returns one model entry (see notes/report_schema.md)."""
    bench = load_benchmark(bench_dir)
    return score_predictions(bench, load_predictions(pred_path, bench), seed=seed)


def score_files(
    bench_dir: str | Path,
    pred_paths: list[str | Path],
    seed: int = 0,
    names: list[str] | None = None,
    strict_ids: bool = False,
    samples: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The full report for several prediction files side by side."""
    bench = load_benchmark(bench_dir)
    names = list(names or [])
    models = []
    for i, path in enumerate(pred_paths):
        preds = load_predictions(path, bench, strict_ids=strict_ids)
        name = names[i] if i < len(names) else None
        models.append(score_predictions(bench, preds, seed=seed, name=name, samples=samples))
    seen = [m["name"] for m in models]
    if len(set(seen)) != len(seen):
        # Two files with one stem would collide in tables; disambiguate by position.
        for i, m in enumerate(models):
            m["name"] = f"{m['name']}#{i + 1}"
    return {
        "schema_version": SCHEMA_VERSION,
        "benchmark": {
            "path": str(bench.path),
            "manifest_sha256": bench.manifest_sha256,
            "num_queries": len(bench.records),
        },
        "seed": seed,
        "pipelines": list(PIPELINES),
        "models": models,
        "baselines": baselines(bench),
    }
