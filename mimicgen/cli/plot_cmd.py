"""CLI commands ``plot`` (failure-mode figures) and ``report`` (self-contained HTML report).

matplotlib is imported inside the commands only; without it they raise MissingExtraError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app
from mimicgen.errors import InputError, first_problem

__all__ = ["plot_cmd", "report_cmd"]


def _need_matplotlib() -> None:
    from mimicgen.plots.style import pyplot

    pyplot()


def _style(width: float, height: float, dpi: int, formats: str):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from mimicgen.plots.style import FigureStyle

    try:
        return FigureStyle.model_validate(
            {
                "width": width,
                "height": height,
                "dpi": dpi,
                "formats": tuple(f.strip() for f in formats.split(",") if f.strip()),
            }
        )
    except ValidationError as exc:
        key, msg, _ = first_problem(exc)
        raise InputError(f"bad figure option {key}: {msg}") from None


@app.command("plot")
def plot_cmd(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Score report(s) (report.json) and/or probe output folders."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the figures (PNG + SVG).")],
    bench: Annotated[
        Path | None,
        typer.Option("--bench", help="Benchmark folder (default: the one the report names)."),
    ] = None,
    pipeline: Annotated[
        str, typer.Option("--pipeline", help="Extraction pipeline shown: strict, lenient or mimic.")
    ] = "strict",
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Draw only this figure kind (repeatable).")
    ] = None,
    width: Annotated[float, typer.Option("--width", help="Figure width in inches.")] = 6.4,
    height: Annotated[float, typer.Option("--height", help="Figure height in inches.")] = 4.0,
    dpi: Annotated[int, typer.Option("--dpi", help="PNG resolution (pixels per inch).")] = 100,
    formats: Annotated[
        str, typer.Option("--formats", help="Comma-separated file formats: png,svg.")
    ] = "png,svg",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing non-empty --out folder.")
    ] = False,
) -> None:
    """Draw the MIMIC study's failure-mode figures; kinds without data are skipped with a reason."""
    from mimicgen.io import atomic_output_dir
    from mimicgen.plots.figures import FIGURES, make_figures
    from mimicgen.plots.inputs import gather_inputs

    _need_matplotlib()
    style = _style(width, height, dpi, formats)
    from mimicgen.plots.twins import TWIN_FIGURES

    kinds = sorted({*FIGURES, *TWIN_FIGURES})
    unknown = sorted(set(only or []) - set(kinds))
    if unknown:
        raise InputError(f"unknown figure kind(s) {unknown}; choose from {kinds}")
    data = gather_inputs(inputs, bench_dir=bench, pipeline=pipeline)
    if "pipeline" in data.notes:
        typer.echo(f"note: {data.notes['pipeline']}")
    from mimicgen.bench.reader import benchmark_inputs
    from mimicgen.outdir import check_out

    # The score reports and probe folders plotted, and the benchmark (given, or the one the
    # report names) with its sources.
    read = benchmark_inputs(data.bench.root, data.bench.manifest) if data.bench else []
    out = check_out(out, [*inputs, bench, *read])
    with atomic_output_dir(out, overwrite=overwrite) as staging:
        results = make_figures(data, staging, style, only)
    for res in results:
        for line in res.lines():
            typer.echo(line.replace(str(staging), str(out)))
    written = sum(len(r.paths) for r in results)
    typer.echo(
        f"{written} file(s) in {out}; {sum(1 for r in results if r.skipped)} figure kind(s) skipped"
    )


@app.command("report")
def report_cmd(
    bench_dir: Annotated[
        Path, typer.Argument(help="Benchmark folder (benchmark.jsonl + manifest.json).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")],
    predictions: Annotated[
        list[Path] | None,
        typer.Option("--predictions", "-p", help="Predictions JSONL to score (repeatable)."),
    ] = None,
    scores: Annotated[
        list[Path] | None,
        typer.Option("--scores", help="Score report(s) from `mimicgen score` (repeatable)."),
    ] = None,
    probe: Annotated[
        list[Path] | None,
        typer.Option("--probe", help="Probe output folder for figures (repeatable)."),
    ] = None,
    pipeline: Annotated[
        str, typer.Option("--pipeline", help="Pipeline for breakdowns, figures and cards.")
    ] = "strict",
    max_samples: Annotated[
        int, typer.Option("--max-samples", min=0, help="Sample cards shown (spread over tasks).")
    ] = 120,
    link_images: Annotated[
        bool,
        typer.Option(
            "--link-images",
            help="Link benchmark images relatively instead of embedding thumbnails.",
        ),
    ] = False,
    figures: Annotated[
        bool,
        typer.Option(
            "--figures/--no-figures", help="Include the figures (drawing them takes a few seconds)."
        ),
    ] = True,
    seed: Annotated[
        int, typer.Option("--seed", help="Bootstrap seed when scoring --predictions.")
    ] = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out file.")
    ] = False,
) -> None:
    """Write one self-contained HTML file: score tables, figures and filterable sample cards."""
    from mimicgen.bench.reader import benchmark_inputs, read_manifest
    from mimicgen.outdir import check_out_files
    from mimicgen.plots.html_report import ReportOptions, write_report

    _need_matplotlib()
    inputs: list[Path | str] = [
        *benchmark_inputs(bench_dir, read_manifest(bench_dir, missing_ok=True)),
        *(predictions or []),
        *(scores or []),
        *(probe or []),
    ]
    out = check_out_files(out, lambda _: [], inputs, overwrite)  # a symlink writes its target
    if not predictions and not scores:
        raise InputError(
            "nothing to report: pass --predictions PRED.jsonl and/or --scores report.json"
        )
    opts = ReportOptions(
        pipeline=pipeline,
        max_samples=max_samples,
        link_images=link_images,
        figures=figures,
        seed=seed,
    )
    summary = write_report(
        bench_dir,
        out,
        predictions=list(predictions or []),
        scores=list(scores or []),
        probes=list(probe or []),
        options=opts,
    )
    for line in summary:
        typer.echo(line)
    typer.echo(f"wrote: {out}")
