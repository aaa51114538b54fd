"""CLI command ``flops``: dense vs block-diagonal attention cost, computed (pure Python) and,
with ``--measure``, timed on one attention layer (torch, imported only then; the timing lives in
:mod:`mimicgen.cli.flops_measure`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mimicgen.cli.app import app
from mimicgen.cli.common import need_torch
from mimicgen.errors import InputError
from mimicgen.probes.flops import attention_cost

__all__ = ["flops_cmd"]


@app.command("flops")
def flops_cmd(
    hidden: Annotated[
        list[int] | None, typer.Option("--hidden", "-d", help="Hidden size(s) d [896, 1536].")
    ] = None,
    images: Annotated[
        float, typer.Option("--images", "-m", help="Images per query M (may be a mean).")
    ] = 10.4,
    text_tokens: Annotated[float, typer.Option("--text-tokens", help="Text tokens N_t.")] = 17.4,
    vision_tokens: Annotated[
        float, typer.Option("--vision-tokens", help="Vision tokens per image.")
    ] = 730.0,
    layers: Annotated[
        int,
        typer.Option("--layers", help="Decoder layers summed over (1 = per layer, as Table 7)."),
    ] = 1,
    masked_layers: Annotated[
        int | None,
        typer.Option("--masked-layers", help="How many layers carry the mask (default: all)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    measure: Annotated[
        bool,
        typer.Option(
            "--measure", help="Also time one attention layer, dense vs block-sparse (torch)."
        ),
    ] = False,
    backward: Annotated[
        bool, typer.Option("--backward", help="--measure: time forward + backward too.")
    ] = False,
    device: Annotated[str, typer.Option("--device", help="--measure: cpu or cuda:N.")] = "cpu",
    dtype: Annotated[
        str, typer.Option("--dtype", help="--measure: float32, bfloat16 or float16.")
    ] = "float32",
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="--measure: timed runs (median).")
    ] = 3,
    heads: Annotated[
        int | None, typer.Option("--heads", min=1, help="--measure: query heads.")
    ] = None,
    kv_heads: Annotated[
        int | None, typer.Option("--kv-heads", min=1, help="--measure: key/value heads.")
    ] = None,
) -> None:
    """Dense vs block-diagonal attention cost (reproduces the MIMIC paper's Table 7 by default);
    with --measure, timed on one attention layer beside the model."""

    def _measure(d: int, echo: Any) -> dict[str, Any]:
        from mimicgen.cli.flops_measure import measure_and_report

        return measure_and_report(
            d,
            images,
            text_tokens,
            vision_tokens,
            heads,
            kv_heads,
            device,
            dtype,
            backward,
            repeats,
            echo,
        )

    if measure:
        need_torch()
    rows: list[dict[str, Any]] = []
    for d in hidden or [896, 1536]:
        try:
            cost = attention_cost(images, text_tokens, vision_tokens, d, layers, masked_layers)
        except ValueError as exc:
            raise InputError(f"flops: {exc}") from None
        rows.append(
            {"hidden": d, "dense": cost.dense, "masked": cost.masked, "saving": cost.saving}
        )
    if as_json:
        if measure:
            for row in rows:
                row["measured"] = _measure(row["hidden"], None)
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'d':>6} {'dense':>10} {'masked':>10} {'saving':>7}")
    for r in rows:
        typer.echo(
            f"{r['hidden']:>6} {r['dense'] / 1e9:>9.1f}B {r['masked'] / 1e9:>9.1f}B "
            f"{r['saving']:>7.1%}"
        )
    for r in rows if measure else []:
        typer.echo("")
        _measure(r["hidden"], typer.echo)
