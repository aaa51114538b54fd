"""``mimicgen validate``: re-derive every answer of a built folder from its sources."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app

__all__ = ["validate"]


@app.command("validate")
def validate(
    folder: Annotated[Path, typer.Argument(help="A folder written by mimicgen build.")],
    cache_dir: Annotated[
        Path | None, typer.Option(help="Render cache for synthetic sources.")
    ] = None,
) -> None:
    """Re-derive every answer from the source annotations; exit 2 on any violation."""
    from mimicgen.bench.reader import read_manifest
    from mimicgen.validate import default_source_loader, validate_benchmark
    from mimicgen.validate.training import validate_training_dir

    check = (
        validate_training_dir
        if read_manifest(folder).get("kind") == "training"
        else validate_benchmark
    )
    report = check(folder, source_loader=default_source_loader(cache_dir))
    if report.ok:
        print(f"{report.num_queries} queries valid")
        return
    for line in report.violations[:20]:
        print(line, file=sys.stderr)
    more = len(report.violations) - 20
    if more > 0:
        print(f"... and {more} more", file=sys.stderr)
    print(
        f"mimicgen: error: {len(report.violations)} violation(s) in {report.num_queries} queries",
        file=sys.stderr,
    )
    raise typer.Exit(2)
