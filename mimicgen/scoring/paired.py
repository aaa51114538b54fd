"""Paired scoring of twin families (``variants:``; docs/scoring.md "Paired twins").

Each twin is compared with its own family's base on the same predictions file and pipeline:

* per variant (and pooled per control): the 2x2 table of (base right?, twin right?), the flip
  rates right->wrong = b / (a + b) and wrong->right = c / (c + d) with Wilson 95% CIs, and
  McNemar's exact test (two-sided binomial test of b against b + c at 1/2);
* family consistency: the share of families whose every scored member is right;
* accuracy by evidence position (the first evidence image's position; base and order twins of
  families whose evidence is not every image) and by number of added distractors (base = 0);
* the blind-prior rate of content-free twins (every image blank or noise): the share of replies
  that match the *base's* answer. Twins marked ``answer: guess`` (no answer exists without
  content) are left out of flips and consistency; content-free counting and existence twins
  (correct answer 0 / *no*) are scored as flips too and report their accuracy beside the prior.

Members without a reply are left out (``n_unanswered``): a missing reply is no flip.
Nothing here changes the rest of the report; the ``paired`` key is added only when the
benchmark has families.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from mimicgen.scoring.check import judge, missing_result
from mimicgen.scoring.extract import TASKS, get_extractor
from mimicgen.scoring.groups import evidence_positions
from mimicgen.scoring.ingest import Benchmark, Predictions
from mimicgen.scoring.metrics import wilson_interval

__all__ = [
    "FamilyTable",
    "family_table",
    "mcnemar_exact",
    "pair_block",
    "paired_markdown",
    "paired_report",
    "rate_block",
]

#: ``twin.answer`` of content-free twins whose record keeps the base answer only to measure
#: guessing: they have no correct answer.
GUESS = "guess"


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: P(X <= min(b, c)) doubled, X ~ Binomial(b + c, 1/2),
    capped at 1 (1 when there is no discordant pair)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return float(min(1.0, 2.0 * tail))


def rate_block(k: int, n: int) -> dict[str, Any]:
    """``k`` of ``n`` with its rate and Wilson 95% CI (rate 0 when ``n`` is 0)."""
    low, high = wilson_interval(k, n)
    return {"n": n, "k": k, "rate": k / n if n else 0.0, "ci_low": low, "ci_high": high}


def pair_block(base: np.ndarray, twin: np.ndarray) -> dict[str, Any]:
    """The paired comparison of aligned per-pair correctness arrays (bool)."""
    base, twin = np.asarray(base, bool), np.asarray(twin, bool)
    a = int((base & twin).sum())
    b = int((base & ~twin).sum())
    c = int((~base & twin).sum())
    d = int((~base & ~twin).sum())
    n = a + b + c + d
    return {
        "n_pairs": n,
        "base_accuracy": (a + b) / n if n else 0.0,
        "twin_accuracy": (a + c) / n if n else 0.0,
        "both_right": a,
        "right_to_wrong": b,
        "wrong_to_right": c,
        "both_wrong": d,
        "flip_right_to_wrong": rate_block(b, a + b),
        "flip_wrong_to_right": rate_block(c, c + d),
        "mcnemar_p": mcnemar_exact(b, c),
    }


@dataclass(frozen=True)
class FamilyTable:
    """Per record (benchmark order) of the records in families: what scoring pairs."""

    rows: np.ndarray
    """Record rows of family members (base included)."""
    base_row: np.ndarray
    """Per member: the row of its family's base."""
    family: np.ndarray
    """Per member: its family's number (0..n_families-1)."""
    variant: list[str]
    control: list[str]
    answer: list[str]
    """``twin.answer`` (``unchanged``, ``content_free``, ``guess``; ``""`` when absent)."""
    scope: list[str]
    evidence_start: np.ndarray
    """First evidence position; -1 where evidence is every image (or none)."""
    added: np.ndarray
    """Added distractors (base 0; -1 for other twins)."""
    task: list[str]


def _has_families(bench: Benchmark) -> bool:
    src = bench.source
    if isinstance(src, bytes | bytearray):
        return b'"family"' in src  # a cheap test before decoding the records
    return any("family" in r for r in src)


def family_table(bench: Benchmark) -> FamilyTable | None:
    """The benchmark's family members, or None when it has no families."""
    if not _has_families(bench):
        return None
    records = bench.records
    rows = [i for i, r in enumerate(records) if "family" in r]
    if not rows:
        return None
    base_of: dict[str, int] = {}
    for i in rows:
        r = records[i]
        if r.get("variant") == "base":
            base_of[str(r["family"])] = i
    keep = [i for i in rows if str(records[i]["family"]) in base_of]
    fam_codes: dict[str, int] = {}
    starts, added, variant, control, answer, scope, task, base_row, family = (
        [], [], [], [], [], [], [], [], []
    )  # fmt: skip
    for i in keep:
        r = records[i]
        twin = r.get("twin") or {}
        ctl = str(twin.get("control", r["variant"]))
        fam = str(r["family"])
        family.append(fam_codes.setdefault(fam, len(fam_codes)))
        base_row.append(base_of[fam])
        variant.append(str(r["variant"]))
        control.append(ctl)
        answer.append(str(twin.get("answer", "")))
        scope.append(str(twin.get("scope", "")))
        task.append(str(r["task"]))
        ev = evidence_positions(r) if ctl in ("base", "permute") else []
        starts.append(ev[0] if ev and len(ev) < len(r["images"]) else -1)
        added.append(
            0 if ctl == "base" else int(twin.get("added", -1)) if ctl == "distractors" else -1
        )
    return FamilyTable(
        np.asarray(keep, np.int64),
        np.asarray(base_row, np.int64),
        np.asarray(family, np.int64),
        variant,
        control,
        answer,
        scope,
        np.asarray(starts, np.int64),
        np.asarray(added, np.int64),
        task,
    )


def _ordered(values: Sequence[str], mask: np.ndarray) -> list[str]:
    """Distinct values at ``mask`` in first-seen order."""
    return list(dict.fromkeys(v for v, m in zip(values, mask.tolist(), strict=True) if m))


def _variant_order(variants: Sequence[str], controls: Sequence[str], mask: np.ndarray) -> list[str]:
    """Distinct variants at ``mask``: controls in first-seen order, then numbers within a
    control in numeric order (``spread-2`` before ``spread-10``)."""
    rank = {c: i for i, c in enumerate(_ordered(controls, mask))}
    control_of = dict(zip(variants, controls, strict=True))

    def key(v: str) -> tuple[int, str, int, str]:
        detail = v.partition("-")[2]
        m = re.fullmatch(r"([a-z]*)(\d+)", detail)
        if m:
            return rank[control_of[v]], m.group(1), int(m.group(2)), ""
        return rank[control_of[v]], detail, -1, v

    return sorted(_ordered(variants, mask), key=key)


def _accuracy_by(keys: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """``str(key)`` -> rate block of ``correct`` over the members with that key (ascending)."""
    return {
        str(k): rate_block(int(correct[keys == k].sum()), int((keys == k).sum()))
        for k in np.unique(keys).tolist()
    }


def _base_matches(
    bench: Benchmark, preds: Predictions, table: FamilyTable, idx: np.ndarray, pipeline: str
) -> np.ndarray:
    """Per member in ``idx``: is its reply right against its *base's* answer?"""
    contexts, codes = bench.distinct_contexts, bench.context_codes
    ids = bench.ids
    out = np.zeros(len(idx), bool)
    for j, m in enumerate(idx.tolist()):
        ctx = contexts[codes[table.base_row[m]]]
        text = preds.by_id.get(str(ids[table.rows[m]]))
        res = (
            missing_result(ctx, pipeline)
            if text is None
            else judge(get_extractor(pipeline, ctx.task)(text, ctx), ctx, pipeline)
        )
        out[j] = bool(res.correct)
    return out


def _task_block(
    bench: Benchmark,
    preds: Predictions,
    table: FamilyTable,
    members: np.ndarray,
    correct: np.ndarray,
    answered: np.ndarray,
    pipeline: str,
) -> dict[str, Any]:
    """The paired metrics of one task's members (``members``: positions in ``table``).

    A member without a reply is left out (a missing reply is no flip): pairs need both
    replies, consistency counts families whose every scored member has one."""
    ok = correct[table.rows[members]]
    base_ok = correct[table.base_row[members]]
    has = answered[table.rows[members]]
    pair_has = has & answered[table.base_row[members]]
    control = np.asarray(table.control, object)[members]
    variant = np.asarray(table.variant, object)[members]
    answer = np.asarray(table.answer, object)[members]
    scored = answer != GUESS
    twins = scored & (control != "base") & pair_has
    out: dict[str, Any] = {
        "n_families": int(np.unique(table.family[members]).size),
        "n_unanswered": int((~has).sum()),
    }
    uniq, inv = np.unique(table.family[members[scored]], return_inverse=True)
    all_right = np.ones(uniq.size, bool)
    complete = np.ones(uniq.size, bool)
    np.logical_and.at(all_right, inv, ok[scored])
    np.logical_and.at(complete, inv, has[scored])
    out["consistency"] = rate_block(int((all_right & complete).sum()), int(complete.sum()))
    out["variants"] = {
        v: pair_block(base_ok[twins & (variant == v)], ok[twins & (variant == v)])
        for v in _variant_order(list(variant), list(control), twins)
    }
    out["controls"] = {
        c: pair_block(base_ok[twins & (control == c)], ok[twins & (control == c)])
        for c in _ordered(list(control), twins)
    }
    starts = table.evidence_start[members]
    has_permute = np.isin(table.family[members], table.family[members][control == "permute"])
    pos = (starts >= 0) & has_permute & ((control == "base") | (control == "permute")) & has
    if pos.any():
        out["evidence_position"] = _accuracy_by(starts[pos], ok[pos])
    added = table.added[members]
    with_added = np.isin(table.family[members], table.family[members][control == "distractors"])
    dis = (added >= 0) & with_added & has
    if dis.any():
        out["added_distractors"] = _accuracy_by(added[dis], ok[dis])
    scope = np.asarray(table.scope, object)[members]
    blind = np.isin(control, ["blank", "noise"]) & (scope == "all") & has
    if blind.any():
        matches = _base_matches(bench, preds, table, members[blind], pipeline)
        prior: dict[str, Any] = {}
        for v in _ordered(list(variant), blind):
            sel = variant[blind] == v
            block = rate_block(int(matches[sel].sum()), int(sel.sum()))
            block["answer"] = str(answer[blind][sel][0])
            if block["answer"] != GUESS:  # the twin has its own correct answer (counting: 0)
                block["accuracy"] = float(ok[blind][sel].mean())
            prior[v] = block
        out["blind_prior"] = prior
    return out


def paired_report(
    bench: Benchmark,
    preds: Predictions,
    correct_by: Mapping[str, np.ndarray],
    table: FamilyTable | None = None,
) -> dict[str, Any] | None:
    """``pipeline -> {"tasks": {task: block}}`` for one model (``correct_by``: each pipeline's
    per-record correctness); None when the benchmark has no families."""
    table = table if table is not None else family_table(bench)
    if table is None:
        return None
    tasks = np.asarray(table.task, object)
    by_id = preds.by_id
    answered = np.fromiter((str(i) in by_id for i in bench.ids), bool, len(bench.ids))
    out: dict[str, Any] = {}
    for pipeline, correct in correct_by.items():
        blocks = {}
        for task in TASKS:
            members = np.flatnonzero(tasks == task)
            if members.size:
                blocks[task] = _task_block(
                    bench, preds, table, members, np.asarray(correct, bool), answered, pipeline
                )
        out[pipeline] = {"tasks": blocks}
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _rate(block: Mapping[str, Any]) -> str:
    return (
        f"{_pct(block['rate'])} [{_pct(block['ci_low'])}, {_pct(block['ci_high'])}] "
        f"({block['k']}/{block['n']})"
    )


def _p(p: float) -> str:
    return f"{p:.3g}"


def paired_markdown(report: Mapping[str, Any]) -> list[str]:
    """Markdown lines of every model's ``paired`` section (none without families)."""
    lines: list[str] = []
    for model in report["models"]:
        for pipeline, block in (model.get("paired") or {}).items():
            lines += ["", f"## Paired twins: {model['name']}, {pipeline} pipeline", ""]
            for task, tb in block["tasks"].items():
                lines += [
                    (
                        f"### {task}: {tb['n_families']} families; consistency (every scored "
                        f"member right) % [95% CI]: {_rate(tb['consistency'])}"
                    ),
                    "",
                    (
                        "| variant | pairs | base acc | twin acc | right->wrong % [95% CI] | "
                        "wrong->right % [95% CI] | McNemar p |"
                    ),
                    "|---|---|---|---|---|---|---|",
                ]
                for kind in ("variants", "controls"):
                    for name, pb in tb[kind].items():
                        label = name if kind == "variants" else f"**{name} (all)**"
                        lines.append(
                            f"| {label} | {pb['n_pairs']} | {_pct(pb['base_accuracy'])} | "
                            f"{_pct(pb['twin_accuracy'])} | {_rate(pb['flip_right_to_wrong'])} | "
                            f"{_rate(pb['flip_wrong_to_right'])} | {_p(pb['mcnemar_p'])} |"
                        )
                for key, title in (
                    ("evidence_position", "first evidence position"),
                    ("added_distractors", "added distractors"),
                ):
                    if key in tb:
                        lines += ["", f"| {title} | accuracy % [95% CI] |", "|---|---|"]
                        lines += [f"| {k} | {_rate(v)} |" for k, v in tb[key].items()]
                if "blind_prior" in tb:
                    lines += [
                        "",
                        (
                            "| content-free twin | answer | replies matching the base answer % "
                            "[95% CI] | accuracy % |"
                        ),
                        "|---|---|---|---|",
                    ]
                    for name, b in tb["blind_prior"].items():
                        acc = _pct(b["accuracy"]) if "accuracy" in b else "-"
                        lines.append(f"| {name} | {b['answer']} | {_rate(b)} | {acc} |")
                lines.append("")
    return lines
