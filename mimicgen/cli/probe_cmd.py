"""CLI commands ``probe``, ``probe-merge`` and ``flops`` (registered on mimicgen.cli.app).

torch/transformers are imported inside the command functions only; without them ``probe`` raises
:class:`MissingExtraError`. ``flops`` is pure Python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app
from mimicgen.errors import InputError
from mimicgen.probes.flops import attention_cost

__all__ = ["flops_cmd"]


@app.command("flops")
def flops_cmd(
    hidden: Annotated[list[int], typer.Option("--hidden", "-d", help="Hidden size(s) d.")] = [896, 1536],  # noqa: B006
    images: Annotated[float, typer.Option("--images", "-m", help="Images per query M (may be a mean).")] = 10.4,
    text_tokens: Annotated[float, typer.Option("--text-tokens", help="Text tokens N_t.")] = 17.4,
    vision_tokens: Annotated[float, typer.Option("--vision-tokens", help="Vision tokens per image.")] = 730.0,
    layers: Annotated[int, typer.Option("--layers", help="Decoder layers summed over (1 = per layer, as Table 7).")] = 1,
    masked_layers: Annotated[int | None, typer.Option("--masked-layers", help="How many layers carry the mask (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Dense vs block-diagonal attention cost (reproduces the MIMIC paper's Table 7 by default)."""
    rows = []
    for d in hidden:
        try:
            cost = attention_cost(images, text_tokens, vision_tokens, d, layers, masked_layers)
        except ValueError as exc:
            raise InputError(f"flops: {exc}") from None
        rows.append({"hidden": d, "dense": cost.dense, "masked": cost.masked, "saving": cost.saving})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'d':>6} {'dense':>10} {'masked':>10} {'saving':>7}")
    for r in rows:
        typer.echo(f"{r['hidden']:>6} {r['dense'] / 1e9:>9.1f}B {r['masked'] / 1e9:>9.1f}B "
                   f"{r['saving']:>7.1%}")
