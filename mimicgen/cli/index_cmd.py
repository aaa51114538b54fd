"""``mimicgen index SOURCE ...``: build (or load from cache) the annotation index and summarise it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from mimicgen.cli.app import app
from mimicgen.cli.source_options import (
    SOURCE_HELP,
    ClassesCsvOpt,
    HierarchyOpt,
    ImageRootOpt,
    LabelsCsvOpt,
    spec_from_options,
)
from mimicgen.index.cache import load_or_build
from mimicgen.index.presence import countable_pairs, present_pairs
from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import AnnotationIndex

__all__ = ["class_summary", "index"]


def class_summary(index: AnnotationIndex) -> pl.DataFrame:
    """Per class: images where it is present, and images eligible for counting it."""
    present = present_pairs(index).group_by("class_idx").agg(pl.len().alias("present"))
    countable = countable_pairs(index).group_by("class_idx").agg(pl.len().alias("countable"))
    return (
        index.classes.select("class_idx", "name")
        .join(present, on="class_idx", how="left")
        .join(countable, on="class_idx", how="left")
        .with_columns(pl.col("present", "countable").fill_null(0))
        .sort("class_idx")
    )


@app.command("index")
def index(
    sources: Annotated[list[str] | None, typer.Argument(help=SOURCE_HELP)] = None,
    image_root: ImageRootOpt = None,
    classes_csv: ClassesCsvOpt = None,
    hierarchy: HierarchyOpt = None,
    labels_csv: LabelsCsvOpt = None,
    min_box_area_frac: Annotated[
        float,
        typer.Option(help="A box is recognisable if its area is at least this image fraction."),
    ] = PresenceRules().min_box_area_frac,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Cache folder (default: $MIMICGEN_CACHE_DIR or ~/.cache/mimicgen)."),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Re-hash the inputs and rebuild the index.")
    ] = False,
) -> None:
    """Build or load the per-(image, class) index of each SOURCE and print a summary."""
    rules = PresenceRules(min_box_area_frac=min_box_area_frac)
    console = Console(highlight=False)
    for source in sources or ["synthetic"]:
        spec = spec_from_options(source, image_root, classes_csv, hierarchy, labels_csv)
        start = time.perf_counter()
        idx, entry, built = load_or_build(spec, rules, cache_dir=cache_dir, refresh=refresh)
        took = time.perf_counter() - start
        how = "built" if built else "loaded from cache"
        where = f" ({entry})" if entry is not None else ""
        console.print(f"{source}: {how} in {took:.2f} s{where}", soft_wrap=True, markup=False)
        console.print(
            f"images {idx.images.height} | classes {idx.classes.height} | "
            f"boxes {int(idx.table.get_column('n_instances').sum())} | "
            f"(image, class) pairs {idx.table.height}",
            soft_wrap=True,
            markup=False,
        )
        summary = class_summary(idx)
        shown = summary.filter(pl.col("present") > 0)
        table = Table("class", "images present", "images eligible for counting")
        for row in shown.iter_rows(named=True):
            table.add_row(row["name"], str(row["present"]), str(row["countable"]))
        console.print(table)
        if shown.height < summary.height:
            console.print(f"({summary.height - shown.height} classes without boxes not listed)")
