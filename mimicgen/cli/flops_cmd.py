"""``mimicgen flops``: dense vs block-diagonal attention cost; with ``--measure``, one attention
layer timed and printed beside the FLOPs model.

torch is imported inside :func:`measure_and_report` only (``mimicgen flops`` stays pure Python).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from mimicgen.cli.app import app
from mimicgen.cli.common import need_torch
from mimicgen.errors import InputError
from mimicgen.probes.flops import attended_pairs, attention_cost

__all__ = ["flops", "measure_and_report", "report_lines"]

_DTYPES = ("float32", "bfloat16", "float16")
_LABELS = {
    "projections": "projections (q, k, v, o)",
    "dense": "dense (FlexAttention, causal)",
    "blockdiag": "blockdiag (FlexAttention)",
    "sdpa": "dense (sdpa, causal)",
    "split": "blockdiag (sdpa per image + text)",
}


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1e3:.1f} ms"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


_TABLE7 = {896: "81%", 1536: "75%"}
"""The paper's Table 7 savings (58.0B vs 11.2B, 106.9B vs 26.7B) at its shapes."""


def report_lines(m: Any, given_saving: float, paper_shapes: bool = False) -> list[str]:
    """The printed report of a :class:`~mimicgen.train.measure.Measurement`; ``given_saving`` is
    the model's saving at the unrounded shapes (the paper's when ``paper_shapes``)."""
    s = m.shapes
    model = attention_cost(s.n_images, s.text_tokens, s.vision_tokens, s.hidden).saving
    pairs = 1 - attended_pairs(s.n_images, s.text_tokens, s.vision_tokens, True) / attended_pairs(
        s.n_images, s.text_tokens, s.vision_tokens, False
    )
    table7 = ""
    if paper_shapes and m.shapes.hidden in _TABLE7:
        table7 = f" (the paper's Table 7: {_TABLE7[m.shapes.hidden]})"
    lines = [
        (
            f"measured: one attention layer, {s.n_images} images x {s.vision_tokens} + "
            f"{s.text_tokens} text tokens (N = {s.length}), d = {s.hidden}, {s.heads} heads "
            f"({s.kv_heads} kv), {m.device} {m.dtype}"
        ),
        f"{'variant':<36}{'forward':>12}{'fwd+bwd':>12}",
    ]
    for key, label in _LABELS.items():
        if key in m.forward:
            lines.append(f"{label:<36}{_ms(m.forward[key]):>12}{_ms(m.backward.get(key)):>12}")
    lines += [
        f"blocks computed under the mask: {m.blocks_computed:.1%} of the causal mask's",
        (
            f"saving, attention forward: measured {_pct(m.saving('blockdiag', 'dense', False, False))}"
            f" (FlexAttention), {_pct(m.saving('split', 'sdpa', False, False))} (sdpa); FLOPs "
            f"model {pairs:.1%} (attended pairs)"
        ),
        (
            f"saving, layer forward (projections + attention): measured "
            f"{_pct(m.saving('blockdiag', 'dense'))} (FlexAttention), "
            f"{_pct(m.saving('split', 'sdpa'))} (sdpa); FLOPs model {model:.1%} at these "
            f"shapes, {given_saving:.1%} at the given ones{table7}"
        ),
    ]
    bwd = m.saving("blockdiag", "dense", True)
    bwd_sdpa = m.saving("split", "sdpa", True)
    if m.backward:
        flex_part = f"{_pct(bwd)} (FlexAttention), " if bwd is not None else ""
        lines.append(
            f"saving, attention forward + backward: measured {flex_part}{_pct(bwd_sdpa)} (sdpa)"
        )
    return lines


def measure_and_report(
    hidden: int,
    images: float,
    text_tokens: float,
    vision_tokens: float,
    heads: int | None,
    kv_heads: int | None,
    device: str,
    dtype: str,
    backward: bool,
    repeats: int,
    echo: Callable[[str], None] | None,
) -> dict[str, Any]:
    """Measure at the given shapes (rounded to whole images and tokens); print the report with
    ``echo``; return the numbers (the ``measured`` entry of ``--json``)."""
    import torch

    from mimicgen.train.measure import LayerShapes, default_heads, measure_attention

    if dtype not in _DTYPES:
        raise InputError(f"--dtype {dtype!r}: choose one of {', '.join(_DTYPES)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA device here; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise InputError(f"--device {device!r}: use cpu or cuda[:N]")
    h, hk = default_heads(hidden)
    h = heads or h
    hk = kv_heads or (hk if h % hk == 0 else h)
    if hidden % h or h % hk:
        raise InputError(
            f"--heads {h} / --kv-heads {hk} do not divide d = {hidden} and {h}; "
            "choose heads dividing the width and kv heads dividing the heads"
        )
    n_img, n_vis, n_txt = round(images), round(vision_tokens), round(text_tokens)
    if n_img < 1 or n_vis < 1:
        raise InputError("--measure needs at least one image of at least one vision token")
    shapes = LayerShapes(n_img, n_vis, n_txt, hidden, h, hk)
    m = measure_attention(shapes, device, getattr(torch, dtype), backward, repeats)
    given = attention_cost(images, text_tokens, vision_tokens, hidden).saving
    paper_shapes = (images, text_tokens, vision_tokens) == (10.4, 17.4, 730.0)
    if echo is not None:
        for line in report_lines(m, given, paper_shapes):
            echo(line)
    return {
        "shapes": {
            "n_images": n_img,
            "vision_tokens": n_vis,
            "text_tokens": n_txt,
            "heads": h,
            "kv_heads": hk,
        },
        "device": m.device,
        "dtype": m.dtype,
        "forward_seconds": m.forward,
        "backward_seconds": m.backward,
        "blocks_computed": m.blocks_computed,
        "saving_flex": m.saving("blockdiag", "dense"),
        "saving_sdpa": m.saving("split", "sdpa"),
        "model_saving": attention_cost(n_img, n_txt, n_vis, hidden).saving,
    }


@app.command("flops")
def flops(
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
