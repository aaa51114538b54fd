"""Reading score reports (``mimicgen score`` output) for plots and the HTML report.

The report layout is the contract in ``/work/notes/report_schema.md``; only the keys the plots use
are checked, so reports with extra keys keep working.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from mimicgen.errors import InputError
from mimicgen.scoring.extract import PIPELINES, TASKS  # the report is keyed by these

__all__ = [
    "PIPELINES",
    "SAMPLE_SCHEMA",
    "TASKS",
    "control_series",
    "load_report",
    "load_samples",
    "metric",
    "resolve_pipeline",
    "sort_values",
]

SAMPLE_SCHEMA: dict[str, Any] = {
    "model": pl.Utf8,
    "pipeline": pl.Utf8,
    "id": pl.Utf8,
    "task": pl.Utf8,
    "prediction": pl.Utf8,
    "parsed": pl.Boolean,
    "correct": pl.Boolean,
}


def load_report(path: Path) -> dict[str, Any]:
    """Load and minimally validate a score report; one-line InputError when it is not one."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path}: score report not found; create it with `mimicgen score`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON score report ({exc})") from None
    if not isinstance(report, dict) or not isinstance(report.get("models"), list):
        raise InputError(
            f"{path}: not a mimicgen score report (no 'models' list); "
            "pass the report.json written by `mimicgen score`"
        )
    for i, model in enumerate(report["models"]):
        if not isinstance(model, dict) or not isinstance(model.get("pipelines"), dict):
            raise InputError(
                f"{path}: models[{i}] has no 'pipelines' object; re-run `mimicgen score`"
            )
        model.setdefault("name", f"model{i}")
    return report


def load_samples(path: Path) -> pl.DataFrame:
    """Per-sample results as a table with :data:`SAMPLE_SCHEMA` columns (absent ones are null).

    Only the schema's fields are parsed: ``extracted`` mixes ints, lists and objects across tasks,
    which no single column type holds.
    """
    try:
        df = pl.read_ndjson(path, schema=SAMPLE_SCHEMA)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(
            f"{path}: cannot read per-sample results ({exc}); re-run `mimicgen score`"
        ) from None
    bad = [c for c in ("model", "pipeline", "id", "correct") if df[c].null_count()]
    if bad:
        raise InputError(
            f"{path}: {df[bad[0]].null_count()} rows lack '{bad[0]}'; re-run `mimicgen score`"
        )
    return df


def resolve_pipeline(report: dict[str, Any], wanted: str) -> str | None:
    """``wanted`` when the first model has it, else the first pipeline it has (None if none)."""
    for model in report["models"]:
        pipes = model.get("pipelines") or {}
        if wanted in pipes:
            return wanted
        if pipes:
            return next(iter(pipes))
    return None


def metric(model: dict[str, Any], pipeline: str, task: str | None = None) -> dict[str, Any] | None:
    """The METRIC dict for a model: overall (task None) or one task's overall; None when absent."""
    pipe = (model.get("pipelines") or {}).get(pipeline)
    if not pipe:
        return None
    if task is None:
        return pipe.get("overall")
    return ((pipe.get("tasks") or {}).get(task) or {}).get("overall")


def sort_values(values: list[str]) -> list[str]:
    """Control values in numeric order when they all look like numbers, else as strings."""

    def key(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)

    return sorted(values, key=key)


def control_series(
    model: dict[str, Any], pipeline: str, task: str, control: str
) -> list[tuple[str, dict[str, Any]]]:
    """``[(value, METRIC), ...]`` of one control's breakdown, values sorted; empty when absent."""
    pipe = (model.get("pipelines") or {}).get(pipeline) or {}
    by = (((pipe.get("tasks") or {}).get(task) or {}).get("by") or {}).get(control) or {}
    return [(v, by[v]) for v in sort_values(list(by))]
