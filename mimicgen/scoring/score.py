"""Score prediction files against a benchmark: every pipeline, every task, every control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mimicgen.bench.reader import SCHEMA_VERSION
from mimicgen.gc_pause import gc_paused
from mimicgen.progress import track
from mimicgen.registry import get_task
from mimicgen.scoring.aggregate import Verdicts, metric_block, task_blocks
from mimicgen.scoring.baselines import RecordBaselines, record_baselines
from mimicgen.scoring.check import SampleResult, judge, missing_result
from mimicgen.scoring.extract import PIPELINES, TASKS, Extractor, QueryContext, get_extractor
from mimicgen.scoring.groups import Layout, layout
from mimicgen.scoring.ingest import (
    Benchmark,
    Predictions,
    load_benchmark,
    load_predictions,
)
from mimicgen.scoring.records import factorize
from mimicgen.scoring.samples import SampleBlock, SampleRow, SampleRows

__all__ = [
    "SampleRow",
    "assemble_report",
    "sample_block",
    "score_file",
    "score_files",
    "score_predictions",
]


def _judge_all(
    text: str | None, ctx: QueryContext, plan: list[tuple[str, dict[str, Extractor]]]
) -> tuple[SampleResult, ...]:
    """One reply judged under every pipeline (``None``: no reply)."""
    if text is None:
        return tuple([missing_result(ctx, p) for p, _ in plan])
    task = ctx.task
    return tuple([judge(extractors[task](text, ctx), ctx, p) for p, extractors in plan])


def _verdicts(uniq: list[tuple[SampleResult, ...]], j: int, which: np.ndarray) -> Verdicts:
    """Pipeline ``j``'s per-record arrays: per-distinct-result columns gathered by ``which``.

    ``tp``/``n_pred``/``n_gold`` are 0 in every non-listing result, so the columns are used
    as they are.
    """
    cols = dict(zip(SampleResult._fields, zip(*[u[j] for u in uniq]), strict=True))
    missing = np.asarray(cols["status"], dtype=object) == "missing"
    parsed = np.asarray(cols["parsed"], dtype=bool)
    f1 = [0.0 if x is None else x for x in cols["f1"]]
    return Verdicts(
        np.asarray(cols["correct"], dtype=bool)[which],
        (~missing & ~parsed)[which],
        missing[which],
        np.asarray(cols["tp"], dtype=np.int64)[which],
        np.asarray(cols["n_pred"], dtype=np.int64)[which],
        np.asarray(cols["n_gold"], dtype=np.int64)[which],
        np.asarray(f1, dtype=np.float64)[which],
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
    model: str,
    want_samples: bool,
) -> tuple[dict[str, Verdicts], SampleBlock | None]:
    """Judge every record under every pipeline.

    Extraction and judging are pure functions of (reply text, context), and contexts are shared
    by records with the same task and answer, so each distinct (context, text) pair is judged
    once: pairs are factorised with numpy (``which``: each record's distinct pair), and the
    per-record arrays and sample rows are gathers from the distinct results.
    """
    plan = [(p, {t: get_extractor(p, t) for t in TASKS}) for p in pipelines]
    ctx_codes, distinct = bench.context_codes, bench.distinct_contexts
    by_id = preds.by_id
    texts = list(map(by_id.get, bench.index))  # index: str ids in record order
    text_codes, _ = factorize(texts)
    # Text-major pair codes: a reply's contexts are judged one after the other, so the
    # extractors' per-reply caches (number reading, class mentions, list items) hit.
    _, first, which = np.unique(
        text_codes * len(distinct) + ctx_codes, return_index=True, return_inverse=True
    )
    which = which.reshape(-1)  # numpy 2.x keeps the input's shape; 1-D here anyway
    first_ctx = [distinct[c] for c in ctx_codes[first].tolist()]
    first_text = [texts[i] for i in first.tolist()]
    uniq = [
        _judge_all(text, ctx, plan)
        for text, ctx in zip(
            track(first_text, f"scoring {model}", len(first)), first_ctx, strict=True
        )
    ]
    block = None
    if want_samples:
        templates = [
            _sample_rows(model, pipelines, ctx, text, res)
            for ctx, text, res in zip(first_ctx, first_text, uniq, strict=True)
        ]
        block = SampleBlock(templates, which, bench.ids)
    return {p: _verdicts(uniq, j, which) for j, p in enumerate(pipelines)}, block


def sample_block(
    bench: Benchmark, preds: Predictions, model: str, pipelines: tuple[str, ...] = PIPELINES
) -> SampleBlock:
    """Every record's verdicts as sample rows (one per pipeline), without the report's metrics:
    the rows ``score_predictions`` writes for ``model``, each distinct (context, reply) judged
    once."""
    block = _run_all(bench, preds, pipelines, model, want_samples=True)[1]
    assert block is not None  # want_samples=True always builds it
    return block


def score_predictions(
    bench: Benchmark,
    preds: Predictions,
    seed: int = 0,
    name: str | None = None,
    pipelines: tuple[str, ...] = PIPELINES,
    samples: list[Any] | SampleRows | None = None,
    base: RecordBaselines | None = None,
    groups: Layout | None = None,
) -> dict[str, Any]:
    """One ``models[]`` entry of the report; per-sample rows are appended to ``samples``.

    ``samples``: a list (gets :class:`SampleRow` s) or a :class:`SampleRows` (gets the rows in
    compact form; much faster to write with ``write_report`` for large benchmarks).

    ``base``: the benchmark's ``record_baselines`` and ``groups`` its ``groups.layout``
    (computed here when not given; pass them when scoring several files).
    """
    with gc_paused(freeze=True):
        if base is None:
            base = record_baselines(bench)
        if groups is None:
            groups = layout(bench, base)
        return _score(bench, preds, seed, name, pipelines, samples, base, groups)


def _score(
    bench: Benchmark,
    preds: Predictions,
    seed: int,
    name: str | None,
    pipelines: tuple[str, ...],
    samples: list[Any] | SampleRows | None,
    base: RecordBaselines,
    groups: Layout,
) -> dict[str, Any]:
    model = name or preds.path.stem
    all_rows = np.arange(len(bench.rows))
    listing_only = all(get_task(t).kind == "set" for t in groups.task_rows)
    entry: dict[str, Any] = {
        "name": model,
        "predictions": str(preds.path),
        "format": preds.format,
        "coverage": preds.coverage(bench),
        "pipelines": {},
    }
    verdicts_by, block = _run_all(bench, preds, pipelines, model, samples is not None)
    if block is not None and samples is not None:
        if isinstance(samples, SampleRows):
            samples.add(block)
        else:
            samples.extend(block.rows())  # a plain list: the rows themselves
    for pipeline, verdicts in verdicts_by.items():
        prefix = f"{model}/{pipeline}"
        entry["pipelines"][pipeline] = {
            "overall": metric_block(verdicts, all_rows, listing_only, seed, prefix, base),
            "tasks": task_blocks(verdicts, groups, seed, prefix, base),
        }
    from mimicgen.scoring.paired import paired_report  # twins only (docs/scoring.md)

    paired = paired_report(bench, preds, {p: v.correct for p, v in verdicts_by.items()})
    if paired is not None:
        entry["paired"] = paired
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
    samples: list[Any] | SampleRows | None = None,
) -> dict[str, Any]:
    """The full report for several prediction files side by side."""
    bench = load_benchmark(bench_dir)
    given: list[str | None] = [*(names or []), *([None] * len(pred_paths))]
    models = []
    defaults = _default_names([Path(p) for p in pred_paths])
    base = record_baselines(bench)  # once per benchmark, shared by every file
    groups = layout(bench, base)
    for i, path in enumerate(pred_paths):
        preds = load_predictions(path, bench, strict_ids=strict_ids)
        name = given[i] or defaults[i]
        models.append(
            score_predictions(
                bench, preds, seed=seed, name=name, samples=samples, base=base, groups=groups
            )
        )
    return assemble_report(bench, models, seed, base)


def assemble_report(
    bench: Benchmark, models: list[dict[str, Any]], seed: int, base: RecordBaselines
) -> dict[str, Any]:
    """The full report around its ``models`` entries (see notes/report_schema.md)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "benchmark": {
            "path": str(bench.path),
            "manifest_sha256": bench.manifest_sha256,
            "num_queries": len(bench.rows),
        },
        "seed": seed,
        "pipelines": list(PIPELINES),
        "models": models,
        "baselines": base.summary,
    }
