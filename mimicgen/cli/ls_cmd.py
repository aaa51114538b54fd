"""``mimicgen ls``: list the shipped task specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from mimicgen.cli.app import app
from mimicgen.cli.common import console

__all__ = ["ls"]


def _fmt_n_images(value: Any) -> str:
    """Fixed count, ``{"min", "max"}`` range or ``[lo, hi]`` list, as ``7`` or ``2-35``."""
    if isinstance(value, dict) and {"min", "max"} <= set(value):
        return f"{value['min']}-{value['max']}"
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{value[0]}-{value[1]}"
    return str(value)


@app.command("ls")
def ls() -> None:
    """List the shipped task specs (pass a name to mimicgen build)."""
    from mimicgen.specs import load_spec, shipped_specs_dir, spec_files

    root = Path(shipped_specs_dir())
    table = Table(title=f"shipped specs ({root})", title_justify="left")
    for col in ("spec", "task", "split", "queries", "images", "source"):
        table.add_column(col, justify="right" if col in ("queries", "images") else "left")
    for path in spec_files(root):
        spec = load_spec(path)
        label = str(path.relative_to(root).with_suffix(""))
        if spec.name != path.stem:  # the name prefixes query ids: show it when it differs
            label += f" ({spec.name})"
        table.add_row(
            label,
            spec.task,
            spec.split,
            str(spec.num_queries),
            _fmt_n_images(spec.model_dump(mode="json").get("n_images")),
            spec.source.kind,
        )
    console().print(table)
