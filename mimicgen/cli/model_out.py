"""The ``--out`` check shared by ``probe`` and ``predict``: commands that run a model on a
benchmark and append to an output folder they resume."""

from __future__ import annotations

from pathlib import Path

from mimicgen.bench.reader import benchmark_inputs, read_manifest
from mimicgen.outdir import check_out

__all__ = ["check_model_out"]


def check_model_out(out: Path, benchmark: Path, model: str, *more: Path | None) -> Path:
    """The folder to write for ``--out``: refused when it is, holds or lies inside the benchmark,
    its sources, a local model folder or another input (``more``); a symlink's target otherwise.
    ``model`` is checked only when it names an existing path (a hub id or API model name is
    not a file)."""
    inputs = [*benchmark_inputs(benchmark, read_manifest(benchmark, missing_ok=True)), *more]
    return check_out(out, [*inputs, model if Path(model).exists() else None])
