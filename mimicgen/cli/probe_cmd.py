"""``mimicgen probe``, ``probe-merge`` and ``probe-tiny-model``: run a VLM under probe
configurations, join sharded runs, write a tiny checkpoint to try them on.

torch/transformers are imported inside the command functions only; without them ``probe`` raises
:class:`MissingExtraError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app
from mimicgen.cli.budgets import parse_budgets
from mimicgen.cli.common import need_torch
from mimicgen.cli.model_out import check_model_out
from mimicgen.cli.shard import parse_shard
from mimicgen.errors import InputError

__all__ = ["probe_cmd", "probe_merge_cmd", "probe_tiny_model_cmd"]


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
        int | None,
        typer.Option(
            "--limit",
            min=1,
            help="Only the first N queries, plus the rest of any twin family begun.",
        ),
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
    need_torch()
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
    need_torch()
    from mimicgen.probes.tiny import FAMILIES, build_tiny_model

    if family not in FAMILIES:
        raise InputError(f"--family {family!r}: choose one of {', '.join(FAMILIES)}")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty; choose a new folder")
    path = build_tiny_model(
        family, out, layers=layers, seed=seed, with_chat_template=with_chat_template
    )
    typer.echo(str(path))
