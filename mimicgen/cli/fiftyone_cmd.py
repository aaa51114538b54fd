"""``mimicgen export fiftyone`` (grouped dataset) and ``mimicgen view`` (the FiftyOne App).

FiftyOne is an optional extra: it is imported inside the commands, and without it they stop with
one line saying how to install it (``pip install 'mimicgen[fiftyone]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app, export_app

__all__ = ["export_fiftyone", "view"]

_BENCH = Annotated[
    Path, typer.Argument(help="Benchmark directory (benchmark.jsonl + manifest.json).")
]
_NAME = Annotated[
    str | None,
    typer.Option("--name", help="FiftyOne dataset name (default: mimicgen-<folder name>)."),
]


@export_app.command("fiftyone")
def export_fiftyone(
    bench_dir: _BENCH,
    predictions: Annotated[
        list[Path] | None,
        typer.Option(
            "--predictions",
            "-p",
            help="Prediction file (any format 'mimicgen score' reads); repeat for several "
            "models. Adds pred_<file stem> fields with each query's verdict.",
        ),
    ] = None,
    name: _NAME = None,
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


@app.command()
def view(
    bench_dir: _BENCH,
    name: _NAME = None,
    port: Annotated[int, typer.Option(help="Port of the App server.")] = 5151,
    address: Annotated[
        str | None, typer.Option(help="Address to serve on (default: localhost).")
    ] = None,
    remote: Annotated[
        bool, typer.Option("--remote", help="Don't open a browser (serve for a remote one).")
    ] = False,
) -> None:
    """Open a benchmark in the FiftyOne App (exporting it first if needed); Ctrl-C stops."""
    from mimicgen.export.fiftyone import dataset_for_benchmark
    from mimicgen.fiftyone_env import database_errors, import_fiftyone

    fo = import_fiftyone()
    dataset = dataset_for_benchmark(bench_dir, name)
    with database_errors():
        session = fo.launch_app(dataset, port=port, address=address, remote=remote)
        typer.echo(f"FiftyOne App serving {dataset.name!r} at {session.url}; Ctrl-C to stop")
        session.wait()
