"""Write score reports: ``report.json``, ``report.md`` and ``report.samples.jsonl``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from mimicgen.io import atomic_write_bytes, atomic_write_chunks, atomic_write_text
from mimicgen.scoring.extract import TASKS
from mimicgen.scoring.samples import SampleRows

__all__ = ["markdown_path", "render_markdown", "samples_path", "write_report"]

_TASK_ORDER = TASKS


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _opt_pct(m: dict[str, Any], key: str) -> str:
    """A per-group baseline in percent; "-" for reports written before groups had them."""
    return _pct(m[key]) if key in m else "-"


def _cell(m: dict[str, Any]) -> str:
    """ "acc [lo, hi]" in percent; listing adds micro F1 with its bootstrap CI."""
    text = f"{_pct(m['accuracy'])} [{_pct(m['ci_low'])}, {_pct(m['ci_high'])}]"
    if "f1" in m:
        text += f"; F1 {_pct(m['f1'])} [{_pct(m['f1_ci_low'])}, {_pct(m['f1_ci_high'])}]"
    return text


def _side_by_side(report: dict[str, Any]) -> list[str]:
    models = report["models"]
    pipelines = report.get("pipelines") or list(models[0]["pipelines"])
    head = ["task", "n"] + [f"{m['name']} ({p})" for m in models for p in pipelines]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tasks = [t for t in _TASK_ORDER if t in models[0]["pipelines"][pipelines[0]]["tasks"]]
    for task in ["overall", *tasks]:
        cells = []
        n = None
        for m in models:
            for p in pipelines:
                block = m["pipelines"][p]
                metric = block["overall"] if task == "overall" else block["tasks"][task]["overall"]
                n = metric["n"]
                cells.append(_cell(metric))
        lines.append(f"| {task} | {n} | " + " | ".join(cells) + " |")
    return lines


def _breakdown(model: dict[str, Any], pipeline: str) -> list[str]:
    lines: list[str] = []
    for task, block in model["pipelines"][pipeline]["tasks"].items():
        for control, values in block["by"].items():
            lines += [
                f"#### {task} by {control}",
                "",
                "| value | n | accuracy [95% CI] | chance | majority | parse failures | missing |",
                "|---|---|---|---|---|---|---|",
            ]
            for value, m in values.items():
                lines.append(
                    f"| {value or '(none)'} | {m['n']} | {_cell(m)} | {_opt_pct(m, 'chance')} | "
                    f"{_opt_pct(m, 'majority')} | "
                    f"{_pct(m['parse_failure_rate'])}% | {m['n_missing']} |"
                )
            lines.append("")
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """A human-readable report: coverage, side-by-side table, baselines, breakdowns."""
    bench = report["benchmark"]
    lines = [
        "# mimicgen score report",
        "",
        (
            f"Benchmark: `{bench['path']}` ({bench['num_queries']} queries, manifest sha256 "
            f"`{bench['manifest_sha256'][:16]}...`). Bootstrap seed {report['seed']}. "
            "Cells: accuracy in % with Wilson 95% CI; listing accuracy is exact-set accuracy "
            "and F1 is micro F1 with a bootstrap 95% CI."
        ),
        "",
        "## Coverage",
        "",
        "| model | format | predicted | missing | unknown ids | duplicates |",
        "|---|---|---|---|---|---|",
    ]
    for m in report["models"]:
        c = m["coverage"]
        lines.append(
            f"| {m['name']} | {m.get('format', '')} | {c['n_predicted']} | "
            f"{c['n_missing']} | {c['n_unknown_ids']} | {c['n_duplicates']} |"
        )
    lines += [
        "",
        "## Accuracy",
        "",
        *_side_by_side(report),
        "",
        "## Baselines",
        "",
        "| task | n | chance | majority answer | majority accuracy |",
        "|---|---|---|---|---|",
    ]
    for task, b in report["baselines"].items():
        lines.append(
            f"| {task} | {b['n']} | {_pct(b['chance'])} | `{b['majority_answer']}` | "
            f"{_pct(b['majority'])} |"
        )
    # The pooled rates do not depend on the model or pipeline: take them from any block.
    pooled: dict[str, Any] = next(
        (blk["overall"] for m in report["models"] for blk in m["pipelines"].values()), {}
    )
    if "chance" in pooled:
        lines.append(
            f"| all tasks | {pooled['n']} | {_pct(pooled['chance'])} | (each task's) | "
            f"{_pct(pooled['majority'])} |"
        )
    lines += [
        "",
        "## Parse failures",
        "",
        "| model | pipeline | task | parse failures | missing |",
        "|---|---|---|---|---|",
    ]
    for m in report["models"]:
        for p, block in m["pipelines"].items():
            for task, tb in block["tasks"].items():
                o = tb["overall"]
                lines.append(
                    f"| {m['name']} | {p} | {task} | "
                    f"{o['n_parse_failures']} ({_pct(o['parse_failure_rate'])}%) | "
                    f"{o['n_missing']} |"
                )
    for m in report["models"]:
        for p in m["pipelines"]:
            lines += ["", f"## Breakdown: {m['name']}, {p} pipeline", ""]
            lines += _breakdown(m, p)
    from mimicgen.scoring.paired import paired_markdown  # twin families only

    lines += paired_markdown(report)
    return "\n".join(lines).rstrip() + "\n"


def markdown_path(out: Path) -> Path:
    """``report.md`` beside ``report.json``: the Markdown twin of a JSON report path."""
    return out.with_suffix(".md")


def samples_path(out: Path) -> Path:
    """``<stem>.samples.jsonl`` beside the report: where the per-sample rows go."""
    return out.with_name(out.stem + ".samples.jsonl")


def write_report(
    report: dict[str, Any], out: str | Path, samples: Iterable[Any] | None = None
) -> list[Path]:
    """Write JSON, Markdown (and per-sample JSONL); each file atomically. Returns the paths.

    ``samples``: rows read like dicts (``SampleRow`` or dict), or a :class:`SampleRows`.
    """
    out = Path(out)
    written = [out, markdown_path(out)]
    atomic_write_text(out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(markdown_path(out), render_markdown(report))
    if isinstance(samples, SampleRows):
        # Each distinct row is encoded once; records fill in their ids (same bytes), written
        # piece by piece (the file can be GBs).
        atomic_write_chunks(samples_path(out), samples.jsonl_pieces())
        written.append(samples_path(out))
    elif samples is not None:
        # One C call encodes every row, each followed by a newline (JSONL).
        data = msgspec.json.Encoder().encode_lines(
            samples if isinstance(samples, list) else list(samples)
        )
        atomic_write_bytes(samples_path(out), data)
        written.append(samples_path(out))
    return written
