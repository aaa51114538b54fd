"""Aggregate per-sample verdicts into METRIC blocks: overall, per task, per control value.

Inputs are numpy arrays aligned with the benchmark's records; every group statistic is a
vectorised sum. Bootstrap generators are derived from ``(seed, crc32(group key))`` so a CI does not
depend on which other groups or models were scored.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimicgen.io import canonical_json
from mimicgen.scoring.extract import TASKS
from mimicgen.scoring.ingest import Benchmark
from mimicgen.scoring.metrics import bootstrap_micro_f1, prf, wilson_interval
from mimicgen.scoring.records import RecordView

__all__ = [
    "Groups",
    "RecordBaselines",
    "Verdicts",
    "baselines",
    "evidence_positions",
    "group_keys",
    "group_rows",
    "metric_block",
    "record_baselines",
    "task_blocks",
]


@dataclass(frozen=True)
class Verdicts:
    """Per-record outcomes of one pipeline, aligned with ``Benchmark.records``."""

    correct: np.ndarray  # bool
    parse_failed: np.ndarray  # bool: a reply was present but could not be read
    missing: np.ndarray  # bool: no reply for this id
    tp: np.ndarray  # int: listing true positives
    n_pred: np.ndarray  # int: listing predicted items
    n_gold: np.ndarray  # int: listing gold items
    f1: np.ndarray  # float: listing per-sample F1


@dataclass(frozen=True)
class RecordBaselines:
    """Baseline outcomes per record, aligned with ``Benchmark.records`` (docs/scoring.md)."""

    chance: np.ndarray  # float: chance accuracy of the record under its task's chance rule
    majority: np.ndarray  # bool: the record's answer_text is its task's majority answer
    summary: dict[str, dict[str, Any]]  # the report's top-level ``baselines``


def _value_str(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, list | dict):
        return canonical_json(value)
    return str(value)


def evidence_positions(record: dict[str, Any]) -> list[int]:
    """Positions of the images that hold answer evidence (sorted).

    Images with role ``query`` when the record has any; otherwise (common / odd-one, whose
    images are ``context``) the images whose class counts include a gold class.
    """
    images = record.get("images") or []
    query = [im["position"] for im in images if im.get("role") == "query"]
    if query:
        return sorted(map(int, query))
    answer = record["answer"]
    gold = set(answer.get("counts") or answer.get("classes") or [answer.get("class")])
    return sorted(
        int(im["position"])
        for im in images
        if any((im.get("class_counts") or {}).get(c, 0) > 0 for c in gold)
    )


def group_keys(bench: Benchmark, rows: np.ndarray, task: str) -> dict[str, list[str]]:
    """For one task's rows: breakdown name -> the value (as str) of each row.

    Every key of ``controls`` whose value varies within the task, the record's ``spec`` (the
    task spec it was sampled from) when that varies, plus ``true_count`` (counting; the sum over
    classes when k > 1), ``evidence_positions`` and ``n_query_images``.
    """
    all_views = bench.rows
    views = [all_views[i] for i in rows.tolist()]  # plain ints index faster than numpy ints
    controls = [v.controls or {} for v in views]
    keys: dict[str, list[str]] = {}
    names: set[str] = set()
    for c in controls:
        names.update(c)
    for name in sorted(names):
        values = _value_strs([c.get(name) for c in controls])
        if len(set(values)) > 1:
            keys[name] = values
    specs = _value_strs([v.spec for v in views])
    if len(set(specs)) > 1 and "spec" not in keys:
        keys["spec"] = specs
    if task == "counting":
        keys["true_count"] = _value_strs([sum(v.answer["counts"].values()) for v in views])
    positions = _evidence_tuples(views)
    joined: dict[tuple[int, ...], str] = {}  # few distinct position lists: join each once
    keys["evidence_positions"] = [
        joined.get(t) or joined.setdefault(t, ",".join(map(str, t))) for t in positions
    ]
    keys["n_query_images"] = _value_strs([len(p) for p in positions])
    return keys


def _evidence_tuples(views: list[RecordView]) -> list[tuple[int, ...]]:
    """``evidence_positions`` of each record as a tuple.

    Records with query images (the usual case) are read inline, and each distinct tuple of raw
    query positions is converted and sorted once; the rest go through ``evidence_positions``.
    """
    memo: dict[tuple[Any, ...], tuple[int, ...]] = {}
    out: list[tuple[int, ...]] = []
    append = out.append
    for v in views:
        raw = tuple([im.position for im in v.images or () if im.role == "query"])
        if not raw:
            append(tuple(_view_evidence(v)))
            continue
        try:
            t = memo.get(raw)
        except TypeError:  # unhashable positions: no memo
            t = None
        if t is None:
            t = tuple(sorted(map(int, raw)))
            try:
                memo[raw] = t
            except TypeError:
                pass
        append(t)
    return out


def _view_evidence(view: RecordView) -> list[int]:
    """``evidence_positions`` of a record without query images, read from its view."""
    answer = view.answer
    gold = set(answer.get("counts") or answer.get("classes") or [answer.get("class")])
    return sorted(
        int(im.position)
        for im in view.images or ()
        if any((im.class_counts or {}).get(c, 0) > 0 for c in gold)
    )


def _value_strs(values: list[Any]) -> list[str]:
    """``_value_str`` of each value, converting each distinct scalar once (values repeat a lot)."""
    memo: dict[Any, str] = {}  # ints by value, other scalars by (type, value): True != 1 here
    out: list[str] = []
    append = out.append
    for v in values:
        t = type(v)
        if t is str:
            append(v)
        elif t is int:  # the common case: keyed by the int itself (no key tuple to build)
            s = memo.get(v)
            if s is None:
                s = memo[v] = str(v)
            append(s)
        elif t is list or t is dict:
            append(_value_str(v))
        else:
            key = (t, v)
            s = memo.get(key)
            if s is None:
                s = memo[key] = _value_str(v)
            append(s)
    return out


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def metric_block(
    v: Verdicts,
    rows: np.ndarray,
    listing: bool,
    seed: int,
    key: str,
    base: RecordBaselines | None = None,
) -> dict[str, Any]:
    """One METRIC dict (see notes/report_schema.md) for the records ``rows``.

    With ``base``, adds the group's ``chance`` and ``majority`` baselines: the means of the
    per-record baseline arrays over ``rows``.
    """
    n = len(rows)
    k = int(v.correct[rows].sum())
    n_fail = int(v.parse_failed[rows].sum())
    low, high = wilson_interval(k, n)
    out: dict[str, Any] = {
        "n": n,
        "accuracy": k / n if n else 0.0,
        "ci_low": low,
        "ci_high": high,
        "ci_method": "wilson",
        "parse_failure_rate": n_fail / n if n else 0.0,
        "n_parse_failures": n_fail,
        "n_missing": int(v.missing[rows].sum()),
    }
    if base is not None:
        out["chance"] = float(base.chance[rows].mean()) if n else 0.0
        out["majority"] = float(base.majority[rows].mean()) if n else 0.0
    if listing:
        tp, n_pred, n_gold = v.tp[rows], v.n_pred[rows], v.n_gold[rows]
        precision, recall, f1 = prf(int(tp.sum()), int(n_pred.sum()), int(n_gold.sum()))
        f1_low, f1_high = bootstrap_micro_f1(tp, n_pred + n_gold, _rng(seed, key))
        out.update(
            precision=precision,
            recall=recall,
            f1=f1,
            f1_ci_low=f1_low,
            f1_ci_high=f1_high,
            f1_ci_method="bootstrap",
            macro_f1=float(v.f1[rows].mean()) if n else 0.0,
            exact_set_accuracy=out["accuracy"],
        )
    return out


Groups = dict[str, dict[str, np.ndarray]]
"""Breakdown name -> value -> the record rows with that value (values in report order)."""


def group_rows(keys: dict[str, list[str]], rows: np.ndarray) -> Groups:
    """Split one task's ``rows`` by each breakdown of ``group_keys`` (done once per benchmark).

    Values are factorised with a dict (no string sort); a stable argsort then lists each group's
    rows in record order. Groups come in report order: numbers numerically, then other strings.
    """
    out: Groups = {}
    for name, values in keys.items():
        codes: dict[str, int] = {}
        inverse = np.fromiter(
            [codes.setdefault(x, len(codes)) for x in values], np.int64, len(values)
        )
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(codes) + 1))
        out[name] = {
            val: rows[order[bounds[codes[val]] : bounds[codes[val] + 1]]]
            for val in sorted(codes, key=_sort_key)
        }
    return out


def task_blocks(
    v: Verdicts,
    task_rows: dict[str, np.ndarray],
    groups: dict[str, Groups],
    seed: int,
    prefix: str,
    base: RecordBaselines | None = None,
) -> dict[str, Any]:
    """``{task: {"overall": METRIC, "by": {control: {value: METRIC}}}}`` for one pipeline.

    With ``base``, every block carries its group's chance and majority baselines.
    """
    out: dict[str, Any] = {}
    for task, rows in task_rows.items():
        listing = task == "listing"
        by = {
            name: {
                val: metric_block(v, group, listing, seed, f"{prefix}/{task}/{name}={val}", base)
                for val, group in values.items()
            }
            for name, values in groups[task].items()
        }
        out[task] = {
            "overall": metric_block(v, rows, listing, seed, f"{prefix}/{task}", base),
            "by": by,
        }
    return out


def _sort_key(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then other strings."""
    try:
        return 0, float(value), value
    except ValueError:
        return 1, 0.0, value


def baselines(bench: Benchmark) -> dict[str, dict[str, Any]]:
    """Chance and majority-answer accuracy per task (rules in docs/scoring.md)."""
    return record_baselines(bench).summary


def record_baselines(bench: Benchmark) -> RecordBaselines:
    """Per-record chance rates and majority-answer hits, plus the per-task summary.

    A group's baselines are the means of these arrays over its rows; the majority answer is
    always the task's (not the group's), so a group's ``majority`` shows how far the task-level
    majority guess gets on that group.
    """
    records_all = bench.rows
    n_all = len(records_all)
    chance_all = np.zeros(n_all)
    majority_all = np.zeros(n_all, bool)
    tasks = bench.tasks
    out: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        rows = np.flatnonzero(tasks == task)
        if not len(rows):
            continue
        records = [records_all[i] for i in rows.tolist()]
        texts = [str(r.answer_text) for r in records]
        answers = Counter(texts)
        top = min(answers.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: smallest text
        if task == "counting":
            chance = 1.0 / len(answers)
            per_record = np.full(len(records), chance)
        elif task == "listing":
            cats = _value_strs([(r.controls or {}).get("category") for r in records])
            members: dict[str, set[str]] = {}
            for cat, r in zip(cats, records, strict=True):
                members.setdefault(cat, set()).update(r.answer["classes"])
            per_record = np.asarray([1.0 / (2.0 ** len(members[cat]) - 1) for cat in cats])
            chance = float(np.mean(per_record))
        else:
            present = []
            for r in records:
                classes = {
                    c for im in r.images or [] for c, n in (im.class_counts or {}).items() if n > 0
                }
                classes.add(r.answer["class"])
                present.append(1.0 / len(classes))
            per_record = np.asarray(present)
            chance = float(np.mean(per_record))
        chance_all[rows] = per_record
        majority_all[rows] = np.asarray(texts, dtype=object) == top[0]
        out[task] = {
            "chance": chance,
            "majority": top[1] / len(records),
            "majority_answer": top[0],
            "n": len(records),
        }
    return RecordBaselines(chance_all, majority_all, out)
