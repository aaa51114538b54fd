"""Gather everything the figures read: score reports, per-sample results, benchmark, probe runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mimicgen.bench.reader import is_benchmark
from mimicgen.errors import InputError
from mimicgen.plots.bench_io import Benchmark, controls_table, load_benchmark
from mimicgen.plots.probe_io import ProbeRun, load_probe_dir
from mimicgen.plots.report_io import load_report, load_samples, resolve_pipeline
from mimicgen.plots.tables import tidy_samples
from mimicgen.scoring import score_file
from mimicgen.scoring.report import samples_path

__all__ = ["PlotData", "find_benchmark", "gather_inputs"]


@dataclass
class PlotData:
    """Inputs of every figure. ``samples`` is None when per-sample results could not be joined
    with benchmark controls; ``notes`` then says why (figures that need them print it)."""

    models: list[dict[str, Any]]
    """Model entries of all score reports, in the order given (names made unique)."""
    pipeline: str
    """Extraction pipeline the figures show."""
    bench: Benchmark | None = None
    samples: pl.DataFrame | None = None
    """Per-sample results of ``pipeline`` joined with record controls."""
    probes: list[ProbeRun] = field(default_factory=list)
    baselines: dict[str, Any] = field(default_factory=dict)
    """Chance / majority baselines of the first score report that has them."""
    notes: dict[str, str] = field(default_factory=dict)
    """Reasons an input is unavailable, keyed ``samples`` / ``bench``."""
    _probe_scores: dict[Path, tuple[dict[str, Any] | None, str | None]] = field(
        default_factory=dict
    )

    def probe_model(self, run: ProbeRun) -> tuple[dict[str, Any] | None, str | None]:
        """The score-report model entry of a probe run, or (None, reason).

        Read from the run's report.json, else scored on the fly from predictions.jsonl when the
        benchmark is known (``mimicgen.scoring.score_file``).
        """
        if run.root not in self._probe_scores:
            self._probe_scores[run.root] = _score_probe(run, self.bench)
        return self._probe_scores[run.root]


def find_benchmark(report: dict[str, Any] | None, report_path: Path | None) -> Path | None:
    """The report's benchmark folder if it exists (as written, or relative to the report)."""
    raw = ((report or {}).get("benchmark") or {}).get("path")
    if not raw:
        return None
    for cand in (Path(raw), (report_path.parent / raw) if report_path else None):
        if cand is not None and is_benchmark(cand):
            return cand
    return None


def _score_probe(
    run: ProbeRun, bench: Benchmark | None
) -> tuple[dict[str, Any] | None, str | None]:
    """A probe run's model entry: its own report.json, else its predictions scored on the fly."""
    if run.report is not None and run.report["models"]:
        entry = dict(run.report["models"][0])
        entry["name"] = run.label
        return entry, None
    if run.predictions_path is None:
        return None, f"{run.root}: no report.json or predictions.jsonl"
    if run.config.benchmark and is_benchmark(run.config.benchmark):
        bench = load_benchmark(Path(run.config.benchmark))
    if bench is None:
        return None, (
            f"{run.root}: no report.json and benchmark unknown; "
            "pass --bench or run `mimicgen score` on its predictions.jsonl"
        )
    try:
        entry = dict(score_file(bench.root, run.predictions_path))
    except InputError as exc:
        return None, f"{run.root}: {exc}"
    entry["name"] = run.label
    return entry, None


def _unique(name: str, seen: set[str]) -> str:
    out, i = name, 2
    while out in seen:
        out, i = f"{name} ({i})", i + 1
    seen.add(out)
    return out


def gather_inputs(
    paths: list[Path],
    bench_dir: Path | None = None,
    pipeline: str = "strict",
    extra_models: list[dict[str, Any]] | None = None,
    extra_samples: pl.DataFrame | None = None,
    bench: Benchmark | None = None,
) -> PlotData:
    """Sort ``paths`` into score reports (files) and probe folders (dirs) and load them.

    ``extra_models``/``extra_samples`` carry results scored in memory (``report --predictions``).
    ``bench``: an already loaded benchmark, used instead of reading ``bench_dir``.
    """
    models: list[dict[str, Any]] = []
    sample_frames: list[pl.DataFrame] = []
    probes: list[ProbeRun] = []
    notes: dict[str, str] = {}
    seen: set[str] = set()
    first_report: tuple[dict[str, Any], Path] | None = None
    baselines: dict[str, Any] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            probes.append(load_probe_dir(p))
            continue
        if not p.exists():
            raise InputError(
                f"{p}: no such file or folder; pass score reports (.json) or probe folders"
            )
        report = load_report(p)
        first_report = first_report or (report, p)
        baselines = baselines or dict(report.get("baselines") or {})
        renames: dict[str, str] = {}
        for model in report["models"]:
            entry = dict(model)
            entry["name"] = renames[str(model["name"])] = _unique(str(model["name"]), seen)
            models.append(entry)
        sp = samples_path(p)
        if sp.is_file():
            df = load_samples(sp)
            sample_frames.append(df.with_columns(pl.col("model").replace(renames)))
        else:
            notes["samples"] = f"per-sample results {sp} not found"
    extra_renames: dict[str, str] = {}
    for model in extra_models or []:
        extra_renames[str(model["name"])] = _unique(str(model["name"]), seen)
        models.append({**model, "name": extra_renames[str(model["name"])]})
    if extra_samples is not None:
        sample_frames.append(extra_samples.with_columns(pl.col("model").replace(extra_renames)))

    if bench is None and bench_dir is not None:
        bench = load_benchmark(bench_dir)
    elif bench is None:
        found = find_benchmark(*(first_report or (None, None)))
        if found is None:
            found = next(
                (
                    Path(r.config.benchmark)
                    for r in probes
                    if r.config.benchmark and is_benchmark(r.config.benchmark)
                ),
                None,
            )
        if found is not None:
            bench = load_benchmark(found)
        else:
            notes["bench"] = "benchmark folder not found (pass --bench BENCH_DIR)"

    chosen = pipeline
    if models:
        chosen = resolve_pipeline({"models": models}, pipeline) or pipeline
        if chosen != pipeline:
            notes["pipeline"] = f"pipeline {pipeline!r} absent from the report; showing {chosen!r}"
    samples: pl.DataFrame | None = None
    if sample_frames and bench is not None:
        all_samples = pl.concat(sample_frames, how="vertical_relaxed")
        samples = tidy_samples(
            all_samples.filter(pl.col("pipeline") == chosen), controls_table(bench)
        )
    elif sample_frames:
        notes["samples"] = notes.get("bench", "benchmark folder not found")
    return PlotData(
        models=models,
        pipeline=chosen,
        bench=bench,
        samples=samples,
        probes=probes,
        baselines=baselines,
        notes=notes,
    )
