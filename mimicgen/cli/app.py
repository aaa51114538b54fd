"""The Typer application objects. Command modules register themselves on these."""

from __future__ import annotations

import typer

__all__ = ["app", "export_app"]

app = typer.Typer(
    name="mimicgen",
    help="Build controlled multi-image VLM benchmarks, score predictions, run diagnostic probes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(
    help="Export a benchmark to other tools (lmms-eval, VLMEvalKit, Hugging Face, FiftyOne).",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")
