"""Regenerate the example figures in ``docs/img/`` from the built-in synthetic report.

Writes a synthetic benchmark, a two-model score report and probe folders (pooling, pixel control,
stitching, attention statistics and maps) to a temporary folder, then draws every figure kind as a
small PNG (< 100 KB each). Deterministic: re-running leaves ``docs/img/`` byte-identical.

    .venv/bin/python scripts/make_example_figures.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mimicgen.plots.figures import make_figures
from mimicgen.plots.inputs import gather_inputs
from mimicgen.plots.style import FigureStyle
from mimicgen.plots.synthetic import write_synthetic_inputs

MAX_BYTES = 100_000
"""Size limit per committed example PNG."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "img"
    )
    args = parser.parse_args()
    style = FigureStyle(width=6.0, height=3.6, dpi=80, formats=("png",))
    with tempfile.TemporaryDirectory(prefix="mimicgen-examples-") as tmp:
        inputs = write_synthetic_inputs(Path(tmp), seed=0)
        data = gather_inputs([inputs.report, *inputs.probes])
        results = make_figures(data, args.out, style)
    for res in results:
        for line in res.lines():
            print(line)
        for path in res.paths:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise SystemExit(
                    f"{path} is {size} bytes (> {MAX_BYTES}); shrink the example style"
                )


if __name__ == "__main__":
    main()
