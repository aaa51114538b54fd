"""CLI command ``finetune`` (registered on mimicgen.cli.app).

torch, transformers and peft (the ``train`` extra) are imported inside the command; the options
and ``--mask`` are validated before any of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.cli.app import app
from mimicgen.errors import InputError, MissingExtraError

__all__ = ["finetune_cmd"]


@app.command("finetune")
def finetune_cmd(
    data: Annotated[
        Path,
        typer.Argument(help="Training folder (llava.json / mantis.json) or its mixture.yaml."),
    ],
    model: Annotated[str, typer.Option("--model", help="Hub id or local folder of the VLM.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (checkpoints, log, model).")],
    mask: Annotated[
        str,
        typer.Option("--mask", help="KIND@LAYERS, e.g. blockdiag@12-23, or none."),
    ] = "none",
    steps: Annotated[
        int | None, typer.Option("--steps", help="Optimizer steps (default: --epochs).")
    ] = None,
    epochs: Annotated[float, typer.Option("--epochs", help="Passes over the data.")] = 1.0,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Conversations per forward pass.")
    ] = 1,
    grad_accum: Annotated[
        int, typer.Option("--grad-accum", help="Forward passes per optimizer step.")
    ] = 1,
    pack: Annotated[
        bool, typer.Option("--pack", help="Pack each forward pass's conversations in one row.")
    ] = False,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (AdamW).")] = 2e-4,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="AdamW decay.")] = 0.0,
    warmup_ratio: Annotated[
        float, typer.Option("--warmup-ratio", help="Share of steps warming up.")
    ] = 0.03,
    schedule: Annotated[
        str, typer.Option("--schedule", help="cosine or constant after warm-up.")
    ] = "cosine",
    max_grad_norm: Annotated[
        float, typer.Option("--max-grad-norm", help="Clipping norm (0: none).")
    ] = 1.0,
    lora_rank: Annotated[int, typer.Option("--lora-rank", help="LoRA rank r.")] = 8,
    lora_alpha: Annotated[int, typer.Option("--lora-alpha", help="LoRA alpha.")] = 16,
    lora_dropout: Annotated[float, typer.Option("--lora-dropout", help="LoRA dropout.")] = 0.05,
    lora_targets: Annotated[
        str,
        typer.Option("--lora-targets", help="Comma-separated decoder projections to adapt."),
    ] = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
    seed: Annotated[int, typer.Option("--seed", help="Data order, LoRA init and dropout.")] = 0,
    dtype: Annotated[
        str, typer.Option("--dtype", help="float32, bfloat16 or float16.")
    ] = "float32",
    attention: Annotated[
        str,
        typer.Option("--attention", help="auto (flex on CUDA, eager on CPU), flex or eager."),
    ] = "auto",
    gradient_checkpointing: Annotated[
        bool, typer.Option("--gradient-checkpointing", help="Recompute activations.")
    ] = False,
    device: Annotated[
        str | None, typer.Option("--device", help="e.g. cpu, cuda:0 (default: cuda if any).")
    ] = None,
    save_every: Annotated[
        int, typer.Option("--save-every", min=1, help="Checkpoint every N steps.")
    ] = 500,
    stop_after: Annotated[
        int | None,
        typer.Option("--stop-after", min=1, help="Stop after step N (checkpointed); --resume."),
    ] = None,
    log_every: Annotated[
        int, typer.Option("--log-every", min=0, help="Print a line every N steps (0: never).")
    ] = 10,
    merge: Annotated[
        bool, typer.Option("--merge/--no-merge", help="Write the merged model folder at the end.")
    ] = True,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out folder.")
    ] = False,
) -> None:
    """LoRA fine-tuning of a VLM on a mimicgen training set, with per-image attention masks."""
    from mimicgen.train.settings import make_settings

    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other; choose one")
    settings = make_settings(
        model=model,
        data=str(data.resolve()),
        mask=mask,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        pack=pack,
        lr=lr,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        schedule=schedule,
        max_grad_norm=max_grad_norm,
        lora_rank=lora_rank,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        lora_targets=tuple(t.strip() for t in lora_targets.split(",") if t.strip()),
        seed=seed,
        dtype=dtype,
        attention=attention,
        gradient_checkpointing=gradient_checkpointing,
    )
    for package in ("torch", "transformers", "peft"):
        try:
            __import__(package)
        except ImportError:
            raise MissingExtraError("train", package) from None
    from mimicgen.train.loop import RunControl, run_finetune

    control = RunControl(device, save_every, stop_after, log_every, merge)
    summary = run_finetune(
        settings, out, control, resume=resume, overwrite=overwrite, echo=typer.echo
    )
    if not summary.losses:
        return
    state = "done" if summary.done else "stopped (resume with --resume)"
    typer.echo(
        f"steps {summary.first_step}-{summary.last_step} of {summary.total_steps} {state}: "
        f"loss {summary.losses[0]:.4f} -> {summary.losses[-1]:.4f}, "
        f"{summary.tokens_per_s:.0f} tokens/s -> {out}"
    )
