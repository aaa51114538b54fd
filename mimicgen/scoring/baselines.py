"""Chance and majority-answer baselines (rules in docs/scoring.md §3), per record and per task.

Listing categories and gold classes come from the benchmark's factorised controls and answers
(each distinct one read once); only the common / odd-one chance rate reads every record's
images.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimicgen.registry import get_task
from mimicgen.scoring.extract import TASKS
from mimicgen.scoring.groups import value_str
from mimicgen.scoring.ingest import Benchmark

__all__ = ["RecordBaselines", "record_baselines"]


@dataclass(frozen=True)
class RecordBaselines:
    """Baseline outcomes per record, aligned with ``Benchmark.records`` (docs/scoring.md)."""

    chance: np.ndarray  # float: chance accuracy of the record under its task's chance rule
    majority: np.ndarray  # bool: the record's answer_text is its task's majority answer
    summary: dict[str, dict[str, Any]]  # the report's top-level ``baselines``


def _listing_chance(bench: Benchmark, rows: np.ndarray) -> np.ndarray:
    """1 / (2^m - 1) per record, m = classes in any listing answer of its category."""
    ctrl_codes, ctrl_values = bench.controls
    answer_codes, answers = bench.answers
    cat_of = [value_str((c or {}).get("category")) for c in ctrl_values]
    cats = ctrl_codes[rows]
    members: dict[str, set[str]] = {}
    pairs = np.unique(cats * len(answers) + answer_codes[rows])  # distinct (category, answer)
    for cat, answer in zip(*divmod(pairs, len(answers)), strict=True):
        members.setdefault(cat_of[cat], set()).update(answers[answer]["classes"])
    rate = np.asarray([1.0 / (2.0 ** len(members[cat]) - 1) if cat in members else 0.0
                       for cat in cat_of])  # fmt: skip
    return rate[cats]


def _one_class_chance(bench: Benchmark, rows: np.ndarray) -> np.ndarray:
    """1 / (classes present in the record's images, gold included) per record."""
    views, (answer_codes, answers) = bench.rows, bench.answers
    present = []
    for i in rows.tolist():
        classes = {
            c for im in views[i].images or [] for c, n in (im.class_counts or {}).items() if n > 0
        }
        classes.add(answers[answer_codes[i]]["class"])
        present.append(1.0 / len(classes))
    return np.asarray(present)


def record_baselines(bench: Benchmark) -> RecordBaselines:
    """Per-record chance rates and majority-answer hits, plus the per-task summary.

    A group's baselines are the means of these arrays over its rows; the majority answer is
    always the task's (not the group's), so a group's ``majority`` shows how far the task-level
    majority guess gets on that group.
    """
    views = bench.rows
    chance_all = np.zeros(len(views))
    majority_all = np.zeros(len(views), bool)
    tasks = bench.tasks
    out: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        rows = np.flatnonzero(tasks == task)
        if not len(rows):
            continue
        texts = [str(views[i].answer_text) for i in rows.tolist()]
        answers = Counter(texts)
        top = min(answers.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: smallest text
        kind = get_task(task).kind
        if kind == "count":
            chance = 1.0 / len(answers)
            per_record = np.full(len(rows), chance)
        elif kind == "yesno":
            chance = 0.5
            per_record = np.full(len(rows), chance)
        else:
            if kind == "set":
                per_record = _listing_chance(bench, rows)
            else:
                per_record = _one_class_chance(bench, rows)
            chance = float(np.mean(per_record))
        chance_all[rows] = per_record
        majority_all[rows] = np.asarray(texts, dtype=object) == top[0]
        out[task] = {
            "chance": chance,
            "majority": top[1] / len(rows),
            "majority_answer": top[0],
            "n": len(rows),
        }
    return RecordBaselines(chance_all, majority_all, out)
