"""``mimicgen export lmms-eval | vlmevalkit | hf | fiftyone``: a benchmark for other tools.

Each exporter's dependencies are imported inside its command. FiftyOne is an optional extra:
without it ``export fiftyone`` stops with one line saying how to install it
(``pip install 'mimicgen[fiftyone]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import export_app
from mimicgen.cli.common import BENCH_ARG, FIFTYONE_NAME_OPT

__all__ = ["export_fiftyone", "export_hf", "export_lmms_eval", "export_vlmevalkit"]

_OUT = Annotated[
    Path, typer.Argument(help="Output directory (created; must not exist unless --overwrite).")
]
_OVERWRITE = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]


@export_app.command("lmms-eval")
def export_lmms_eval(
    bench_dir: BENCH_ARG,
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
    bench_dir: BENCH_ARG,
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
def export_hf(bench_dir: BENCH_ARG, out: _OUT, overwrite: _OVERWRITE = False) -> None:
    """Write a Hugging Face datasets folder: Parquet with an images column, plus a dataset card."""
    from mimicgen.export.hf import export_hf as run

    path = run(bench_dir, out, overwrite=overwrite)
    typer.echo(f"wrote {path}")


@export_app.command("fiftyone")
def export_fiftyone(
    bench_dir: BENCH_ARG,
    predictions: Annotated[
        list[Path] | None,
        typer.Option(
            "--predictions",
            "-p",
            help="Prediction file (any format 'mimicgen score' reads); repeat for several "
            "models. Adds pred_<file stem> fields with each query's verdict.",
        ),
    ] = None,
    name: FIFTYONE_NAME_OPT = None,
    pipeline: Annotated[
        str,
        typer.Option(
            help="Extraction pipeline of the top-level 'correct'/'extracted' fields "
            "(all three are stored under pred_<model>.strict/lenient/mimic)."
        ),
    ] = "strict",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing dataset of that name.")
    ] = False,
) -> None:
    """Write a FiftyOne grouped dataset: one group per query, one slice per image position."""
    from mimicgen.export.fiftyone import export_fiftyone as run

    summary = run(bench_dir, predictions or [], name, overwrite=overwrite, pipeline=pipeline)
    for warning in summary.warnings:
        typer.echo(f"warning: {warning}", err=True)
    fields = ", ".join(summary.prediction_fields) or "none"
    typer.echo(
        f"wrote FiftyOne dataset {summary.name!r}: {summary.n_groups} groups, "
        f"{summary.n_samples} images in {len(summary.slices)} slices, {summary.n_boxes} boxes; "
        f"prediction fields: {fields}"
    )
    typer.echo(f"browse it with: mimicgen view {bench_dir} --name {summary.name}")
