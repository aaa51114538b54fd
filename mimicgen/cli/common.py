"""Helpers several command modules share: the benchmark argument, the FiftyOne dataset name
option, the output console, the Table 1 statistics table and the check for the torch extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["BENCH_ARG", "FIFTYONE_NAME_OPT", "console", "need_torch", "stats_table"]

BENCH_ARG = Annotated[
    Path, typer.Argument(help="Benchmark directory (benchmark.jsonl + manifest.json).")
]
FIFTYONE_NAME_OPT = Annotated[
    str | None,
    typer.Option("--name", help="FiftyOne dataset name (default: mimicgen-<folder name>)."),
]


def console() -> Console:
    """A console that does not squeeze tables to 80 columns when output is piped."""
    return Console(width=None if sys.stdout.isatty() else 120, highlight=False)


def _fmt(value: Any) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def stats_table(manifest: dict[str, Any], title: str) -> Table:
    """Compact per-spec Table 1 view of a manifest, with an overall row."""
    table = Table(title=title, title_justify="left")
    for col in (
        "spec",
        "task",
        "queries",
        "images",
        "imgs/query min-med-max",
        "objects/q",
        "words/q",
    ):
        table.add_column(col, justify="left" if col in ("spec", "task") else "right")
    rows = [
        (n, manifest["spec"][n].get("task", ""), s) for n, s in manifest["stats_by_spec"].items()
    ]
    rows.append(("overall", "", manifest["stats_overall"]))
    for name, task, s in rows:
        if not s.get("queries"):
            continue
        ipq = s["images_per_query"]
        table.add_row(
            name,
            task,
            str(s["queries"]),
            str(s["distinct_images"]),
            f"{ipq['min']}-{_fmt(ipq['median'])}-{ipq['max']}",
            _fmt(s["objects_per_query"]),
            _fmt(s["words_per_question"]["mean"]),
        )
    return table


def need_torch() -> None:
    """Raise MissingExtraError unless torch and transformers are importable."""
    from mimicgen.errors import MissingExtraError

    for package in ("torch", "transformers"):
        try:
            __import__(package)
        except ImportError:
            raise MissingExtraError("probes", package) from None
