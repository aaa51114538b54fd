"""Score one prediction against one benchmark record: a pure function, no I/O, no randomness."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from mimicgen.scoring.extract import PIPELINES, Extraction, QueryContext, extract
from mimicgen.scoring.kinds import kind_of
from mimicgen.scoring.metrics import prf
from mimicgen.scoring.normalize import ClassVocabulary

__all__ = ["SampleResult", "check", "context_from_record", "judge", "record_classes"]


class SampleResult(NamedTuple):
    """The verdict on one reply under one pipeline.

    ``tp``/``n_pred``/``n_gold`` are the listing set sizes (true positives, predicted items, gold
    items; 0 for other tasks) and ``f1`` the per-sample F1 (None for other tasks).
    """

    task: str
    pipeline: str
    extracted: Any
    status: str
    parsed: bool
    correct: bool
    tp: int
    n_pred: int
    n_gold: int
    f1: float | None


def record_classes(record: Mapping[str, Any]) -> set[str]:
    """Every class name a record mentions: its answer and its images' class counts."""
    answer = record.get("answer") or {}
    names: set[str] = set(answer.get("counts") or {})
    names.update(answer.get("classes") or [])
    if answer.get("class") is not None:
        names.add(answer["class"])
    for image in record.get("images") or []:
        names.update((image.get("class_counts") or {}).keys())
    return names


@lru_cache(maxsize=256)
def _vocab_for(names: frozenset[str]) -> ClassVocabulary:
    return ClassVocabulary(names)


def context_from_record(record: Mapping[str, Any], vocab: ClassVocabulary) -> QueryContext:
    """Build the extraction context of a record (targets in question order)."""
    task = record["task"]
    answer = record["answer"]
    kind = kind_of(task)
    if kind == "count":
        counts = {str(k): int(v) for k, v in answer["counts"].items()}
        targets = tuple(counts)
        gold: Any = counts
    elif kind == "set":
        targets = gold = tuple(answer["classes"])
    elif kind == "yesno":
        targets, gold = (answer["class"],), "yes" if answer["exists"] else "no"
    else:
        targets, gold = (answer["class"],), answer["class"]
    keys = tuple(vocab.canonical_name(t) for t in targets)
    return QueryContext(task, targets, gold, keys, vocab)


def judge(extraction: Extraction, ctx: QueryContext, pipeline: str) -> SampleResult:
    """Compare an extraction with the gold answer held in ``ctx``."""
    value, status = extraction
    parsed = extraction.parsed
    task = ctx.task
    kind = kind_of(task)
    if kind == "set":
        # mimic compares lower-cased raw strings; the other pipelines canonical class names.
        gold = {t.lower() for t in ctx.gold} if pipeline == "mimic" else set(ctx.keys)
        pred = set(value) if parsed else set()
        tp = len(pred & gold)
        n_pred, n_gold = len(pred), len(gold)
        f1 = prf(tp, n_pred, n_gold)[2]  # the per-sample F1 is micro F1 over one sample
        return SampleResult(
            task, pipeline, value, status, parsed, parsed and pred == gold, tp, n_pred, n_gold, f1
        )
    if status != "ok":
        correct = False
    elif kind in ("count", "yesno") or pipeline == "mimic":
        correct = value == ctx.gold
    else:
        correct = value == ctx.keys[0]
    return SampleResult(task, pipeline, value, status, parsed, correct, 0, 0, 0, None)


def missing_result(ctx: QueryContext, pipeline: str) -> SampleResult:
    """A query with no prediction: wrong, not a parse failure (listing: every gold item missed)."""
    listing = kind_of(ctx.task) == "set"
    n_gold = len(ctx.gold) if listing else 0
    f1 = 0.0 if listing else None
    return SampleResult(ctx.task, pipeline, None, "missing", False, False, 0, 0, n_gold, f1)


def check(
    task: str,
    prediction: str | None,
    record: Mapping[str, Any],
    pipeline: str = "strict",
    vocab: ClassVocabulary | None = None,
) -> SampleResult:
    """Score one reply to one benchmark record under one pipeline.

    ``vocab`` should be the benchmark's class vocabulary (see
    :func:`mimicgen.scoring.ingest.Benchmark.vocabulary`); without it, only the record's own
    class names are known, so a reply naming an unrelated class is not recognised as one.
    ``prediction=None`` means no prediction (scored wrong, status ``missing``).
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; choose from {', '.join(PIPELINES)}")
    if task != record["task"]:
        raise ValueError(f"task {task!r} does not match the record's task {record['task']!r}")
    if vocab is None:
        vocab = _vocab_for(frozenset(record_classes(record)))
    ctx = context_from_record(record, vocab)
    if prediction is None:
        return missing_result(ctx, pipeline)
    return judge(extract(pipeline, str(prediction), ctx), ctx, pipeline)
