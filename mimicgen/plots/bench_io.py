"""Reading an eval set (``benchmark.jsonl`` + ``manifest.json``, SPEC §4) for plots and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mimicgen.bench.reader import numbered_records, read_manifest, records_file
from mimicgen.errors import InputError
from mimicgen.registry import task_defs
from mimicgen.scoring.groups import evidence_positions

__all__ = ["Benchmark", "controls_table", "derived_controls", "load_benchmark"]


@dataclass(frozen=True)
class Benchmark:
    """An eval set on disk: its folder, manifest (may be empty) and records in file order."""

    root: Path
    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    by_id: dict[str, dict[str, Any]] = field(repr=False)

    def image_path(self, image: dict[str, Any]) -> Path:
        """Absolute path of one record image (paths in records are relative to the folder)."""
        return self.root / image["path"]


#: Tasks whose report has a ``true_count`` breakdown (the same rule as ``scoring.groups``).
_TRUE_COUNT = frozenset(t.name for t in task_defs() if "true_count" in t.breakdowns)


def load_benchmark(root: Path) -> Benchmark:
    """Load ``root/benchmark.jsonl`` (required) and ``root/manifest.json`` (optional)."""
    root = Path(root)
    bench = records_file(root)
    records: list[dict[str, Any]] = []
    for lineno, rec in numbered_records(bench, skip_blank=True):
        if not isinstance(rec, dict) or "id" not in rec or "task" not in rec:
            raise InputError(f"{bench}:{lineno}: record lacks 'id'/'task'; rebuild the benchmark")
        records.append(rec)
    manifest = read_manifest(root, missing_ok=True)
    return Benchmark(
        root=root, manifest=manifest, records=records, by_id={str(r["id"]): r for r in records}
    )


def derived_controls(record: dict[str, Any]) -> dict[str, str]:
    """Scalar controls of one record as strings, plus the derived ones the score report uses.

    Values are strings (the score report's ``str(VALUE)`` keys) so tasks with different control
    types share one table; :func:`~mimicgen.plots.report_io.sort_values` restores numeric order.
    """
    out: dict[str, str] = {}
    for key, value in (record.get("controls") or {}).items():
        if isinstance(value, (bool, int, float, str)):  # nested values are not plottable
            out[key] = str(value)
    # The same rules as the score report's breakdowns (docs/scoring.md), so plots and report agree.
    images = record.get("images") or []
    evidence = evidence_positions(record)
    out["n_query_images"] = str(len(evidence))
    out.setdefault("n_images", str(len(images)))
    out["evidence_positions"] = ",".join(map(str, evidence))
    counts = (record.get("answer") or {}).get("counts")
    task = record.get("task")
    if task in _TRUE_COUNT and isinstance(counts, dict) and counts:
        out["true_count"] = str(sum(int(v) for v in counts.values()))  # k > 1: the sum
    return out


def controls_table(bench: Benchmark) -> pl.DataFrame:
    """One row per record: ``id``, ``task`` and every control (string columns, null when absent)."""
    rows = [
        {"id": str(r["id"]), "task": str(r["task"]), **derived_controls(r)} for r in bench.records
    ]
    if not rows:
        return pl.DataFrame(schema={"id": pl.Utf8, "task": pl.Utf8})
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return pl.DataFrame(
        {k: [row.get(k) for row in rows] for k in keys}, schema={k: pl.Utf8 for k in keys}
    )
