"""CLI commands ``probe``, ``probe-merge`` and ``flops`` (registered on mimicgen.cli.app).

torch/transformers are imported inside the command functions only; without them ``probe`` raises
:class:`MissingExtraError`. ``flops`` is pure Python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mimicgen.cli.app import app
from mimicgen.cli.budgets import parse_budgets
from mimicgen.cli.model_out import check_model_out
from mimicgen.cli.shard import parse_shard
from mimicgen.errors import InputError
from mimicgen.probes.flops import attention_cost

__all__ = ["flops_cmd", "probe_cmd", "probe_merge_cmd", "probe_tiny_model_cmd"]


def _need_torch() -> None:
    """Raise MissingExtraError unless torch and transformers are importable."""
    from mimicgen.errors import MissingExtraError

    for package in ("torch", "transformers"):
        try:
            __import__(package)
        except ImportError:
            raise MissingExtraError("probes", package) from None


@app.command("probe")
def probe_cmd(
    model: Annotated[
        str,
        typer.Option(
            "--model", help="Hub id or local folder of the VLM, or random:NAME (real size)."
        ),
    ],
    benchmark: Annotated[
        Path, typer.Option("--benchmark", help="Benchmark folder (benchmark.jsonl + images).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (one sub-folder per probe configuration).")
    ],
    probe: Annotated[
        list[str],
        typer.Option(
            "--probe",
            help="A configuration, e.g. none, pool:4, pool:4+mask:blockdiag@12-23+attn "
            "(repeatable).",
        ),
    ] = [],  # noqa: B006
    probe_file: Annotated[
        Path | None, typer.Option("--probe-file", help="Probe YAML with 'configs: [...]'.")
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto, float32, float16 or bfloat16.")
    ] = "auto",
    device: Annotated[
        str | None, typer.Option("--device", help="Device, e.g. cpu or cuda:0.")
    ] = None,
    device_map: Annotated[
        str | None, typer.Option("--device-map", help="transformers device_map, e.g. auto.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N queries.")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="i/n: run shard i of n (whole twin families, balanced); merge with probe-merge.",
        ),
    ] = None,
    max_new_tokens: Annotated[
        list[str], typer.Option("--max-new-tokens", help="TASK=N (or N for all tasks); repeatable.")
    ] = [],  # noqa: B006
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=1, help="Queries decoded together (attn configurations: 1)."
        ),
    ] = 1,
) -> None:
    """Run a VLM on a benchmark under probe configurations; write predictions per configuration."""
    from mimicgen.probes.spec import check_unique, load_probe_yaml, parse_config

    configs = [parse_config(p) for p in probe]
    if probe_file is not None:
        configs += load_probe_yaml(probe_file)
    if not configs:
        configs = [parse_config("none")]
    configs = check_unique(configs)
    # Parse the options before importing torch so their errors come fast.
    budgets, shard_of = parse_budgets(max_new_tokens), parse_shard(shard)
    _need_torch()
    from mimicgen.probes.adapters import load_adapter
    from mimicgen.probes.benchmark import load_benchmark
    from mimicgen.probes.runner import RunOptions, run_probes

    load_benchmark(benchmark)  # validate before the (slow) model load
    out = check_model_out(out, benchmark, model, probe_file)
    adapter = load_adapter(model, dtype=dtype, device=device, device_map=device_map)
    ran = run_probes(
        adapter, benchmark, configs, out, RunOptions(budgets, limit, shard_of, batch_size), model
    )
    for name, n in ran.items():
        typer.echo(f"{name}: {n} new samples -> {out / name}")


@app.command("probe-merge")
def probe_merge_cmd(
    out: Annotated[Path, typer.Argument(help="The --out folder of sharded 'mimicgen probe' runs.")],
) -> None:
    """Merge the shards of sharded probe runs into one predictions file per configuration."""
    from mimicgen.probes.runner import merge_shards

    for name, n in merge_shards(out).items():
        typer.echo(f"{name}: merged {n} predictions")


@app.command("probe-tiny-model")
def probe_tiny_model_cmd(
    out: Annotated[Path, typer.Argument(help="Folder to write the checkpoint to.")],
    family: Annotated[
        str, typer.Option("--family", help="qwen2_vl, qwen2_5_vl, llava_onevision or internvl.")
    ] = "qwen2_vl",
    layers: Annotated[int, typer.Option("--layers", min=1, help="Decoder layers.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Weight initialisation seed.")] = 0,
    with_chat_template: Annotated[
        bool, typer.Option("--chat-template", help="Ship a ChatML chat template of the family.")
    ] = False,
) -> None:
    """Write a tiny random VLM checkpoint (for trying 'mimicgen probe'/'predict' offline)."""
    from mimicgen.outdir import resolve_out

    out = resolve_out(out, "OUT")  # a file (or a path under one) is one line, not a traceback
    _need_torch()
    from mimicgen.probes.tiny import FAMILIES, build_tiny_model

    if family not in FAMILIES:
        raise InputError(f"--family {family!r}: choose one of {', '.join(FAMILIES)}")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty; choose a new folder")
    path = build_tiny_model(
        family, out, layers=layers, seed=seed, with_chat_template=with_chat_template
    )
    typer.echo(str(path))


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
        _need_torch()
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
