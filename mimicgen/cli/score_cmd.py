"""``mimicgen score`` and the harness exports ``mimicgen export lmms-eval | vlmevalkit | hf``.

Scoring never calls a model: it reads a benchmark directory and prediction files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app, export_app

__all__ = ["export_hf", "export_lmms_eval", "export_vlmevalkit", "score"]

_BENCH = Annotated[
    Path, typer.Argument(help="Benchmark directory (benchmark.jsonl + manifest.json).")
]


@app.command()
def score(
    bench_dir: _BENCH,
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
    from mimicgen.scoring.report import markdown_path, samples_path

    def beside(report: Path) -> list[Path]:
        return [markdown_path(report), *([samples_path(report)] if samples else [])]

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


_OUT = Annotated[
    Path, typer.Argument(help="Output directory (created; must not exist unless --overwrite).")
]
_OVERWRITE = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]


@export_app.command("lmms-eval")
def export_lmms_eval(
    bench_dir: _BENCH,
    out: _OUT,
    task_name: Annotated[str, typer.Option(help="lmms-eval task name.")] = "mimicgen",
    overwrite: _OVERWRITE = False,
) -> None:
    """Write an lmms-eval task folder (use with --include_path OUT --tasks TASK_NAME)."""
    from mimicgen.export.lmms_eval import export_lmms_eval as run

    path = run(bench_dir, out, task_name=task_name, overwrite=overwrite)
    typer.echo(
        f"wrote {path}; run: lmms-eval --include_path {path} --tasks {task_name} --log_samples ..."
    )


@export_app.command("vlmevalkit")
def export_vlmevalkit(
    bench_dir: _BENCH,
    out: _OUT,
    dataset_name: Annotated[
        str,
        typer.Option(
            help="VLMEvalKit dataset name (TSV file stem); must contain 'OpenEnded' so "
            "VLMEvalKit uses open-ended (VQA) prompts."
        ),
    ] = "MIMICGEN_OpenEnded",
    overwrite: _OVERWRITE = False,
) -> None:
    """Write a VLMEvalKit TSV (base64 images) plus a provenance sidecar."""
    from mimicgen.export.vlmevalkit import export_vlmevalkit as run

    def notify(message: str, warn: bool) -> None:
        typer.echo(f"warning: {message}" if warn else message, err=warn)

    path = run(bench_dir, out, dataset_name=dataset_name, overwrite=overwrite, notify=notify)
    typer.echo(f"wrote {path}")


@export_app.command("hf")
def export_hf(bench_dir: _BENCH, out: _OUT, overwrite: _OVERWRITE = False) -> None:
    """Write a Hugging Face datasets folder: Parquet with an images column, plus a dataset card."""
    from mimicgen.export.hf import export_hf as run

    path = run(bench_dir, out, overwrite=overwrite)
    typer.echo(f"wrote {path}")
