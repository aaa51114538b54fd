"""``mimicgen score``: score prediction files against a benchmark.

Scoring never calls a model: it reads a benchmark directory and prediction files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app
from mimicgen.cli.common import BENCH_ARG

__all__ = ["score"]


@app.command()
def score(
    bench_dir: BENCH_ARG,
    predictions: Annotated[
        list[Path],
        typer.Argument(
            help="Prediction files: {id, prediction} JSONL, lmms-eval *_samples_*.jsonl, or "
            "VLMEvalKit .xlsx/.tsv. Several files give a side-by-side table."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Report JSON path; report.md and report.samples.jsonl are written beside it."
        ),
    ] = Path("report.json"),
    name: Annotated[
        list[str] | None,
        typer.Option(help="Model name per prediction file, in order (default: the file stem)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap CIs.")] = 0,
    strict_ids: Annotated[
        bool,
        typer.Option(
            "--strict-ids", help="Unknown or duplicated ids are an error (exit 2), not a warning."
        ),
    ] = False,
    samples: Annotated[
        bool, typer.Option(help="Also write per-sample results (.samples.jsonl).")
    ] = True,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing report (and its twins).")
    ] = False,
) -> None:
    """Score predictions under the strict, lenient and mimic pipelines (rules: docs/scoring.md)."""
    from mimicgen.bench.reader import benchmark_inputs, read_manifest
    from mimicgen.outdir import check_out_files
    from mimicgen.scoring import SampleRows, score_files, write_report
    from mimicgen.scoring.ingest import require_inputs
    from mimicgen.scoring.report import markdown_path, samples_path

    def beside(report: Path) -> list[Path]:
        return [markdown_path(report), *([samples_path(report)] if samples else [])]

    # A mistyped benchmark or prediction path is named as such, not as a clash of --out with it
    # or an existing report; nothing is read beyond opening the files, nothing written.
    require_inputs(bench_dir, predictions)
    inputs: list[Path | str] = [
        *benchmark_inputs(bench_dir, read_manifest(bench_dir, missing_ok=True)),
        *predictions,
    ]
    out = check_out_files(out, beside, inputs, overwrite)  # before the (long) scoring
    rows = SampleRows() if samples else None
    report = score_files(
        bench_dir, list(predictions), seed=seed, names=name, strict_ids=strict_ids, samples=rows
    )
    paths = write_report(report, out, rows)
    for model in report["models"]:
        cov = model["coverage"]
        if cov["n_unknown_ids"] or cov["n_duplicates"]:
            typer.echo(
                f"warning: {model['predictions']}: {cov['n_unknown_ids']} unknown ids, "
                f"{cov['n_duplicates']} duplicates (listed in the report's coverage)",
                err=True,
            )
        line = ", ".join(
            f"{p} {100 * block['overall']['accuracy']:.1f}%"
            for p, block in model["pipelines"].items()
        )
        typer.echo(f"{model['name']}: {line} ({cov['n_missing']} missing)")
    typer.echo("wrote " + ", ".join(str(p) for p in paths))
