"""Score prediction files against a benchmark: every pipeline, every task, every control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from mimicgen.progress import track
from mimicgen.scoring.aggregate import (
    RecordBaselines,
    Verdicts,
    group_keys,
    group_rows,
    metric_block,
    record_baselines,
    task_blocks,
)
from mimicgen.scoring.check import SampleResult, judge, missing_result
from mimicgen.scoring.extract import PIPELINES, TASKS, Extractor, QueryContext, get_extractor
from mimicgen.scoring.ingest import (
    Benchmark,
    Predictions,
    gc_paused,
    load_benchmark,
    load_predictions,
)

__all__ = ["SCHEMA_VERSION", "SampleRow", "score_file", "score_files", "score_predictions"]

SCHEMA_VERSION = 1


class SampleRow(msgspec.Struct, gc=False):
    """One line of ``report.samples.jsonl``; reads like a dict (``row["id"]``).

    A struct, not a dict: 1M predictions make 3M rows, and a struct is several times cheaper to
    create and to encode (field order = key order, so the JSONL bytes are the same). ``gc=False``:
    rows hold only plain values (no cycles), so the collector need not track millions of them.
    """

    model: str
    pipeline: str
    id: Any
    task: str
    prediction: str | None
    extracted: Any
    status: str
    parsed: bool
    correct: bool
    f1: float | None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``dict.get``: the field's value, else ``default``."""
        return getattr(self, key, default)


def _judge_all(
    text: str | None, ctx: QueryContext, plan: list[tuple[str, dict[str, Extractor]]]
) -> tuple[SampleResult, ...]:
    """One reply judged under every pipeline (``None``: no reply)."""
    if text is None:
        return tuple(missing_result(ctx, p) for p, _ in plan)
    return tuple(judge(extractors[ctx.task](text, ctx), ctx, p) for p, extractors in plan)


def _verdicts(uniq: list[tuple[SampleResult, ...]], j: int, which: np.ndarray) -> Verdicts:
    """Pipeline ``j``'s per-record arrays: small per-distinct-result arrays gathered by index."""
    res = [u[j] for u in uniq]
    missing = np.fromiter((r.status == "missing" for r in res), bool, len(res))
    parsed = np.fromiter((r.parsed for r in res), bool, len(res))
    listing = [r.f1 is not None for r in res]

    def ints(field: str) -> np.ndarray:
        vals = (getattr(r, field) if has else 0 for r, has in zip(res, listing, strict=True))
        return np.fromiter(vals, np.int64, len(res))[which]

    return Verdicts(
        np.fromiter((r.correct for r in res), bool, len(res))[which],
        (~missing & ~parsed)[which],
        missing[which],
        ints("tp"),
        ints("n_pred"),
        ints("n_gold"),
        np.fromiter((r.f1 or 0.0 for r in res), np.float64, len(res))[which],
    )


def _sample_rows(
    model: str,
    pipelines: tuple[str, ...],
    ctx: QueryContext,
    text: str | None,
    results: tuple[SampleResult, ...],
) -> tuple[SampleRow, ...]:
    """The per-sample rows of one distinct (context, reply) result, ``id`` left to fill in."""
    return tuple(
        SampleRow(
            model,
            pipeline,
            None,
            ctx.task,
            text,
            res.extracted,
            res.status,
            res.parsed,
            res.correct,
            res.f1,
        )
        for pipeline, res in zip(pipelines, results, strict=True)
    )


def _run_all(
    bench: Benchmark,
    preds: Predictions,
    pipelines: tuple[str, ...],
    samples: list[Any] | None,
    model: str,
) -> dict[str, Verdicts]:
    """Judge every record under every pipeline.

    Extraction and judging are pure functions of (reply text, context), and contexts are shared
    by records with the same task and answer, so each distinct (context, text) pair is judged
    once; records then point at their distinct result (``which``) and the per-record arrays are
    numpy gathers.
    """
    n = len(bench.records)
    plan = [(p, {t: get_extractor(p, t) for t in TASKS}) for p in pipelines]
    by_id, records, contexts = preds.by_id, bench.records, bench.contexts
    cache: dict[tuple[int, str | None], int] = {}
    uniq: list[tuple[SampleResult, ...]] = []
    which: list[int] = []
    rows_k: list[tuple[SampleRow, ...]] = []  # per distinct result: its sample rows
    for i, (rid, ctx) in enumerate(track(zip(bench.index, contexts), f"scoring {model}", n)):
        text = by_id.get(rid)
        key = (id(ctx), text)  # contexts live as long as ``bench``: ids are stable here
        k = cache.get(key)
        if k is None:
            k = cache[key] = len(uniq)
            uniq.append(_judge_all(text, ctx, plan))
            if samples is not None:
                rows_k.append(_sample_rows(model, pipelines, ctx, text, uniq[k]))
        which.append(k)
        if samples is not None:
            # Copy the distinct result's rows and set the id (positional: cheapest).
            raw_id = records[i]["id"]
            for r in rows_k[k]:
                samples.append(
                    SampleRow(
                        r.model,
                        r.pipeline,
                        raw_id,
                        r.task,
                        r.prediction,
                        r.extracted,
                        r.status,
                        r.parsed,
                        r.correct,
                        r.f1,
                    )
                )
    rows = np.asarray(which, np.int64)
    return {p: _verdicts(uniq, j, rows) for j, p in enumerate(pipelines)}


def score_predictions(
    bench: Benchmark,
    preds: Predictions,
    seed: int = 0,
    name: str | None = None,
    pipelines: tuple[str, ...] = PIPELINES,
    samples: list[Any] | None = None,
    base: RecordBaselines | None = None,
) -> dict[str, Any]:
    """One ``models[]`` entry of the report; per-sample rows are appended to ``samples``.

    ``base``: the benchmark's ``record_baselines`` (computed here when not given).
    """
    with gc_paused():
        return _score(bench, preds, seed, name, pipelines, samples, base)


def _score(
    bench: Benchmark,
    preds: Predictions,
    seed: int,
    name: str | None,
    pipelines: tuple[str, ...],
    samples: list[Any] | None,
    base: RecordBaselines | None,
) -> dict[str, Any]:
    model = name or preds.path.stem
    if base is None:
        base = record_baselines(bench)
    tasks = np.asarray([r["task"] for r in bench.records])
    task_rows = {t: np.flatnonzero(tasks == t) for t in TASKS if (tasks == t).any()}
    groups = {t: group_rows(group_keys(bench, rows, t), rows) for t, rows in task_rows.items()}
    all_rows = np.arange(len(bench.records))
    listing_only = set(task_rows) == {"listing"}
    entry: dict[str, Any] = {
        "name": model,
        "predictions": str(preds.path),
        "format": preds.format,
        "coverage": preds.coverage(bench),
        "pipelines": {},
    }
    for pipeline, verdicts in _run_all(bench, preds, pipelines, samples, model).items():
        prefix = f"{model}/{pipeline}"
        entry["pipelines"][pipeline] = {
            "overall": metric_block(verdicts, all_rows, listing_only, seed, prefix),
            "tasks": task_blocks(verdicts, task_rows, groups, seed, prefix, base),
        }
    return entry


def score_file(bench_dir: str | Path, pred_path: str | Path, seed: int = 0) -> dict[str, Any]:
    """Score one prediction file; returns one model entry (see notes/report_schema.md)."""
    bench = load_benchmark(bench_dir)
    return score_predictions(bench, load_predictions(pred_path, bench), seed=seed)


def _default_names(paths: list[Path]) -> list[str]:
    """File stems; where stems collide (``run_a/predictions.jsonl``, ``run_b/predictions.jsonl``,
    as ``mimicgen probe`` writes them) the parent folder's name, then the position."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    parents = [p.resolve().parent.name or p.stem for p in paths]
    if len(set(parents)) == len(parents):
        return parents
    return [f"{s}#{i + 1}" for i, s in enumerate(stems)]


def score_files(
    bench_dir: str | Path,
    pred_paths: list[str | Path],
    seed: int = 0,
    names: list[str] | None = None,
    strict_ids: bool = False,
    samples: list[Any] | None = None,
) -> dict[str, Any]:
    """The full report for several prediction files side by side."""
    bench = load_benchmark(bench_dir)
    given: list[str | None] = [*(names or []), *([None] * len(pred_paths))]
    models = []
    defaults = _default_names([Path(p) for p in pred_paths])
    base = record_baselines(bench)  # once per benchmark, shared by every file
    for i, path in enumerate(pred_paths):
        preds = load_predictions(path, bench, strict_ids=strict_ids)
        name = given[i] or defaults[i]
        models.append(
            score_predictions(bench, preds, seed=seed, name=name, samples=samples, base=base)
        )
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
        "baselines": base.summary,
    }
