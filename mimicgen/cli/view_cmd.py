"""``mimicgen view``: open a benchmark in the FiftyOne App.

FiftyOne is an optional extra: it is imported inside the command, and without it the command stops
with one line saying how to install it (``pip install 'mimicgen[fiftyone]'``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mimicgen.cli.app import app
from mimicgen.cli.common import BENCH_ARG, FIFTYONE_NAME_OPT

__all__ = ["view"]


@app.command()
def view(
    bench_dir: BENCH_ARG,
    name: FIFTYONE_NAME_OPT = None,
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
