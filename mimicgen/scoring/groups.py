"""Breakdowns (docs/scoring.md §3): each task's records split by controls, spec, true count and
evidence positions.

Controls, specs and answers repeat across records, so the benchmark factorises them
(``Benchmark.controls`` etc.): a breakdown's value is computed once per distinct control dict or
answer and gathered to the records with numpy. Only evidence positions are read per record (from
the image list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from mimicgen.io import canonical_json
from mimicgen.registry import get_task
from mimicgen.scoring.extract import TASKS
from mimicgen.scoring.ingest import Benchmark

__all__ = ["Breakdown", "Layout", "evidence_positions", "layout", "value_str"]


def value_str(value: Any) -> str:
    """A control value as a breakdown key: strings as they are, lists/dicts as JSON."""
    if type(value) is str:
        return value
    if isinstance(value, list | dict):
        return canonical_json(value)
    return str(value)


@dataclass(frozen=True)
class Breakdown:
    """One task's records split by one breakdown; groups in report order."""

    values: list[str]
    """The group keys: numbers in numeric order first, then other strings."""
    codes: np.ndarray
    """Per record of the task (in ``Layout.task_rows`` order): its group's index in ``values``."""
    rows: list[np.ndarray]
    """Per group: its record rows, in record order."""
    chance: list[float]
    """Per group: the mean chance baseline of its records."""
    majority: list[float]
    """Per group: the share of its records whose answer is the task's majority answer."""


@dataclass(frozen=True)
class Layout:
    """How a benchmark's records are grouped in the report (built once per benchmark)."""

    task_rows: dict[str, np.ndarray]
    """Task -> its record rows (tasks in ``TASKS`` order, only those present)."""
    breakdowns: dict[str, dict[str, Breakdown]]
    """Task -> breakdown name -> groups, names in report order."""


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


def _sort_key(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then other strings."""
    try:
        return 0, float(value), value
    except ValueError:
        return 1, 0.0, value


def _narrow(codes: np.ndarray, size: int) -> np.ndarray:
    """Codes below ``size`` as 16-bit ints when they fit: numpy sorts those by radix, O(n)."""
    return codes.astype(np.uint16) if size <= 1 << 16 else codes


def _present(codes: np.ndarray, size: int) -> list[int]:
    """The distinct codes (each below ``size``), ascending."""
    return np.flatnonzero(np.bincount(codes, minlength=size)).tolist()


def _split(
    rows: np.ndarray, codes: np.ndarray, strings: Sequence[str | None], base: Any, always: bool
) -> Breakdown | None:
    """Group ``rows`` by ``strings[codes]`` (distinct codes may share a string; codes of
    ``rows`` never point at None).

    None when there is a single value and ``always`` is false (a control that does not vary).
    """
    present, first = np.unique(_narrow(codes, len(strings)), return_index=True)
    group_of: dict[str, int] = {}  # value -> group, in order of first appearance
    remap = np.zeros(len(strings), np.int64)
    for c in present[np.argsort(first)].tolist():
        value = strings[c]
        assert value is not None  # None marks codes that no row of this task has
        remap[c] = group_of.setdefault(value, len(group_of))
    if len(group_of) < 2 and not always:
        return None
    values = sorted(group_of, key=_sort_key)
    rank = np.empty(len(values), np.int64)
    rank[[group_of[v] for v in values]] = np.arange(len(values))
    final = rank[remap[codes]]
    # Stable: each group's rows stay in record order.
    order = np.argsort(_narrow(final, len(values)), kind="stable")
    bounds = np.searchsorted(final[order], np.arange(len(values) + 1)).tolist()
    groups = [rows[order[a:b]] for a, b in pairwise(bounds)]
    chance = [float(base.chance[g].mean()) for g in groups]
    majority = [float(base.majority[g].mean()) for g in groups]
    return Breakdown(values, final, groups, chance, majority)


def _evidence_codes(bench: Benchmark, rows: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """Per row, the code of its sorted evidence positions; the distinct position tuples.

    Query positions are read inline; each distinct raw tuple is converted and sorted once.
    """
    views, (answer_codes, answers) = bench.rows, bench.answers
    memo: dict[Any, int] = {}
    tuples: dict[tuple[int, ...], int] = {}
    out: list[int] = []
    for i in rows.tolist():
        images = views[i].images or ()
        raw = tuple([im.position for im in images if im.role == "query"])
        code = memo.get(raw) if raw else None
        if code is None:
            if raw:
                positions = tuple(sorted(map(int, raw)))
            else:  # no query images: the images holding a gold class
                record = {
                    "answer": answers[answer_codes[i]],
                    "images": [{"position": im.position, "class_counts": im.class_counts}
                               for im in images],
                }  # fmt: skip
                positions = tuple(evidence_positions(record))
            code = tuples.setdefault(positions, len(tuples))
            if raw:
                memo[raw] = code
        out.append(code)
    return np.asarray(out, np.int64), list(tuples)


def _task_breakdowns(
    bench: Benchmark, rows: np.ndarray, task: str, base: Any
) -> dict[str, Breakdown]:
    """Breakdown name -> groups for one task (see docs/scoring.md for the list)."""
    out: dict[str, Breakdown] = {}
    ctrl_codes, ctrl_values = bench.controls
    codes = ctrl_codes[rows]
    present = [ctrl_values[c] or {} for c in _present(codes, len(ctrl_values))]
    names = sorted({name for c in present for name in c})
    dicts = [c or {} for c in ctrl_values]
    for name in names:
        split = _split(rows, codes, [value_str(c.get(name)) for c in dicts], base, False)
        if split is not None:
            out[name] = split
    spec_codes, spec_values = bench.specs
    split = _split(rows, spec_codes[rows], [value_str(s) for s in spec_values], base, False)
    if split is not None and "spec" not in out:
        out["spec"] = split
    if "true_count" in get_task(task).breakdowns:
        answer_codes, answers = bench.answers
        codes = answer_codes[rows]
        sums: list[str | None] = [None] * len(answers)
        for c in _present(codes, len(answers)):
            sums[c] = value_str(sum(answers[c]["counts"].values()))
        out["true_count"] = _always(_split(rows, codes, sums, base, True))
    codes, tuples = _evidence_codes(bench, rows)
    joined = [",".join(map(str, t)) for t in tuples]
    out["evidence_positions"] = _always(_split(rows, codes, joined, base, True))
    counts = [str(len(t)) for t in tuples]
    out["n_query_images"] = _always(_split(rows, codes, counts, base, True))
    return out


def _always(split: Breakdown | None) -> Breakdown:
    """A breakdown that is reported even with one value (never None)."""
    assert split is not None
    return split


def layout(bench: Benchmark, base: Any) -> Layout:
    """Task rows and every task's breakdowns, with each group's baselines from ``base``
    (a ``RecordBaselines``)."""
    tasks = bench.tasks
    task_rows = {t: np.flatnonzero(tasks == t) for t in TASKS}
    task_rows = {t: rows for t, rows in task_rows.items() if len(rows)}
    return Layout(
        task_rows,
        {t: _task_breakdowns(bench, rows, t, base) for t, rows in task_rows.items()},
    )
