"""``mimicgen finetune``: LoRA fine-tuning of a VLM under per-image attention masks.

Output folder (``--out``)::

    finetune.json     settings (a resume must match them), model facts, total steps, status,
                      one ``runs`` entry per invocation (device, backend, steps, time)
    log.jsonl         one row per optimizer step: step, epoch, loss, lr, grad_norm, tokens,
                      label_tokens, seconds, tokens_per_s (and peak_memory_gb on CUDA)
    checkpoints/      step-NNNNNN/ every ``save_every`` steps, at a stop and at the end
                      (:mod:`mimicgen.train.checkpoint`)
    adapter/          the final LoRA adapter (PEFT format)
    model/            the final merged checkpoint with tokenizer and image processor (``merge``),
                      loadable by ``mimicgen predict`` / ``probe`` like any model folder

Determinism: the conversation order of each epoch is a seeded numpy permutation
(``SeedSequence([seed, epoch])``), so the batch of step ``s`` is a function of the seed and
``s``; torch's generator (LoRA initialisation, LoRA dropout) is seeded from the same seed and
saved in every checkpoint. The same settings on the same machine give the same losses, and a
resumed run continues the loss sequence of an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimicgen import __version__
from mimicgen.errors import InputError
from mimicgen.io import JsonlAppender, atomic_output_dir, atomic_write_text, read_jsonl_repaired
from mimicgen.outdir import check_out
from mimicgen.probes.spec import resolve_layers
from mimicgen.progress import counter
from mimicgen.train.checkpoint import (
    Checkpoint,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from mimicgen.train.data import Conversation, collate, encode_conversation
from mimicgen.train.data import load_conversations as _load
from mimicgen.train.settings import FinetuneSettings, parse_mask, settings_diff

__all__ = [
    "FinetuneSummary",
    "RunControl",
    "batch_indices",
    "learning_rate",
    "run_finetune",
    "total_steps",
]

MANIFEST = "finetune.json"
LOG = "log.jsonl"


@dataclass(frozen=True)
class RunControl:
    """How one invocation runs; none of it changes the losses (so a resume may change it)."""

    device: str | None = None
    """Torch device (default: ``cuda`` when available, else ``cpu``)."""
    save_every: int = 500
    """Checkpoint every N steps (and always at a stop and at the end)."""
    stop_after: int | None = None
    """Stop after this step (checkpointed), e.g. to fit a job's time limit; ``--resume`` goes on."""
    log_every: int = 10
    """Echo a line every N steps."""
    merge: bool = True
    """Write the merged model folder at the end."""


@dataclass(frozen=True)
class FinetuneSummary:
    first_step: int
    """First step this invocation ran (1-based)."""
    last_step: int
    """Steps done when it returned."""
    total_steps: int
    """Steps of the whole run."""
    losses: list[float]
    """Loss of each step this invocation ran."""
    tokens_per_s: float
    """Tokens per second over this invocation."""
    out: Path
    done: bool
    """Whether the run reached ``total_steps``."""


def total_steps(settings: FinetuneSettings, n_conversations: int) -> int:
    """``settings.steps``, or enough steps for ``epochs`` passes over the data."""
    if settings.steps is not None:
        return settings.steps
    per_step = settings.batch_size * settings.grad_accum
    return max(1, math.ceil(settings.epochs * n_conversations / per_step))


def batch_indices(settings: FinetuneSettings, n: int, step: int) -> list[list[int]]:
    """Conversation indices of each forward pass of ``step`` (1-based): positions
    ``(step - 1) * B * A ...`` of the concatenated per-epoch seeded permutations."""
    b, a = settings.batch_size, settings.grad_accum
    start = (step - 1) * b * a
    orders: dict[int, np.ndarray] = {}

    def at(i: int) -> int:
        epoch = i // n
        if epoch not in orders:
            rng = np.random.default_rng(np.random.SeedSequence([settings.seed, epoch]))
            orders[epoch] = rng.permutation(n)
        return int(orders[epoch][i % n])

    return [[at(start + m * b + j) for j in range(b)] for m in range(a)]


def learning_rate(settings: FinetuneSettings, step: int, total: int) -> float:
    """Learning rate of ``step`` (1-based): linear warm-up, then cosine to 0 or constant (the
    schedule of transformers' ``get_cosine_schedule_with_warmup``)."""
    warmup = math.ceil(settings.warmup_ratio * total)
    i = step - 1
    if i < warmup:
        return settings.lr * i / max(1, warmup)
    if settings.schedule == "constant":
        return settings.lr
    progress = (i - warmup) / max(1, total - warmup)
    return settings.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def _local(path: str) -> Path | None:
    p = Path(path)
    return p if p.exists() else None


def _prepare_out(
    out: Path, settings: FinetuneSettings, n_conv: int, resume: bool, overwrite: bool
) -> tuple[Path, dict[str, Any] | None]:
    """Resolve ``out`` and read the manifest a resume continues (checks only; writes nothing)."""
    target = check_out(out, [Path(settings.data), _local(settings.model)])
    manifest = target / MANIFEST
    if resume:
        if not manifest.exists():
            raise InputError(f"--resume: {out} holds no {MANIFEST}; start the run without --resume")
        old = json.loads(manifest.read_text(encoding="utf-8"))
        diff = settings_diff(old.get("settings", {}), settings)
        if old.get("n_conversations") != n_conv:
            diff.append("data (number of conversations)")
        if diff:
            raise InputError(
                f"--resume: {out} was trained with other settings ({', '.join(diff)}); "
                "resume with the same options, or use another --out"
            )
        return target, old
    if target.exists() and not target.is_dir():
        raise InputError(f"--out {out} is a file; choose a folder")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise InputError(
            f"{out} already exists and is not empty; pass --resume to continue its run or "
            "--overwrite to replace it"
        )
    return target, None


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def _keep_log(folder: Path, upto: int) -> None:
    """Drop log rows after step ``upto`` (written after the last checkpoint of a killed run)."""
    rows = [r for r in read_jsonl_repaired(folder / LOG) if r["step"] <= upto]
    atomic_write_text(folder / LOG, "".join(json.dumps(r) + "\n" for r in rows))


def _save_final(folder: Path, adapter: Any, peft_model: Any, model: str, merge: bool) -> None:
    with atomic_output_dir(folder / "adapter", overwrite=True) as staging:
        peft_model.save_pretrained(str(staging))
    if not merge:
        return
    merged = peft_model.merge_and_unload()
    with atomic_output_dir(folder / "model", overwrite=True) as staging:
        merged.save_pretrained(str(staging))
        adapter.tokenizer.save_pretrained(str(staging))
        adapter.image_processor.save_pretrained(str(staging))
        src = _local(model)
        for name in ("chat_template.json", "chat_template.jinja"):
            if src is not None and (src / name).exists():
                shutil.copy2(src / name, staging / name)


def run_finetune(
    settings: FinetuneSettings,
    out: str | Path,
    control: RunControl = RunControl(),
    resume: bool = False,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
) -> FinetuneSummary:
    """Fine-tune ``settings.model`` on ``settings.data`` into ``out`` (see the module doc)."""
    from mimicgen.train.attention import choose_backend, train_masks
    from mimicgen.train.lora import apply_lora, need_peft, trainable
    from mimicgen.train.model import MaskPlan, enable_checkpointing, forward, load_for_training

    mask = parse_mask(settings.mask)
    convs: list[Conversation] = _load(settings.data, settings.seed)
    if not convs:
        raise InputError(f"{settings.data}: no conversations to train on")
    folder, old = _prepare_out(Path(out), settings, len(convs), resume, overwrite)
    need_peft()
    device = control.device or ("cuda" if torch.cuda.is_available() else "cpu")
    backend, compiled = choose_backend(settings.attention, device)
    adapter = load_for_training(settings.model, dtype=settings.dtype, device=device)
    layers = resolve_layers(mask, adapter.num_layers) if mask is not None else frozenset()
    plan = MaskPlan(mask.mask if mask is not None else None, layers, backend, compiled)
    torch.manual_seed(settings.seed)
    if device.startswith("cuda"):
        torch.cuda.manual_seed_all(settings.seed)
    peft_model = apply_lora(adapter, settings)
    if settings.gradient_checkpointing:
        enable_checkpointing(adapter)
    params = trainable(peft_model)
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    total = total_steps(settings, len(convs))

    # Everything is checked and loaded: only now is --out written.
    if old is None:
        if folder.exists():
            shutil.rmtree(folder)  # --overwrite (refused above without it)
        folder.mkdir(parents=True)
        n_params = sum(p.numel() for p in adapter.model.parameters())
        old = {
            "mimicgen_version": __version__,
            "settings": settings.model_dump(mode="json"),
            "n_conversations": len(convs),
            "total_steps": total,
            "model_info": {
                "family": adapter.model.config.model_type,
                "num_layers": adapter.num_layers,
                "mask_layers": sorted(layers),
                "trainable_parameters": sum(p.numel() for p in params),
                "parameters": n_params,
            },
            "status": "running",
            "step": 0,
            "runs": [],
        }
        ck = Checkpoint(0, 0, 0.0)
        (folder / LOG).write_text("")
    else:
        path = latest_checkpoint(folder)
        ck = load_checkpoint(path, peft_model, optimizer) if path else Checkpoint(0, 0, 0.0)
        _keep_log(folder, ck.step)
        if ck.step >= total:
            missing = not (folder / "adapter").exists() or (
                control.merge and not (folder / "model").exists()
            )
            if missing:  # killed while writing the final folders: write them from the checkpoint
                _save_final(folder, adapter, peft_model, settings.model, control.merge)
            echo(f"{out}: already trained ({ck.step}/{total} steps)")
            return FinetuneSummary(ck.step + 1, ck.step, total, [], 0.0, folder, True)
    run = {"device": device, "backend": backend, "from_step": ck.step, "started": time.time()}
    old["runs"].append(run)
    _write_manifest(folder, old)

    adapter.model.train()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    log = JsonlAppender(folder / LOG)
    losses: list[float] = []
    step, tokens, seconds = ck.step, ck.tokens, ck.seconds
    run_tokens, run_seconds = 0, 0.0
    last = min(total, control.stop_after) if control.stop_after else total
    try:
        with counter("finetune", max(0, last - ck.step), unit="step") as advance:
            while step < last:
                step += 1
                t0 = time.perf_counter()
                lr = learning_rate(settings, step, total)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                batches = [
                    collate(
                        adapter,
                        [encode_conversation(adapter, convs[i]) for i in idx],
                        pack=settings.pack,
                    )
                    for idx in batch_indices(settings, len(convs), step)
                ]
                n_label = sum(b.n_label_tokens for b in batches)
                n_tok = sum(b.n_tokens for b in batches)
                loss_sum = torch.zeros((), device=adapter.device)
                for batch in batches:
                    res = forward(adapter, batch, plan)
                    if res.n_label_tokens == 0:
                        continue
                    part = res.loss * (res.n_label_tokens / n_label)
                    # Recomputed activations (gradient checkpointing) need the masks again.
                    with train_masks(res.masks):
                        part.backward()
                    res.masks.clear()  # this batch's masks are done: free them before the next
                    loss_sum += part.detach()
                norm = torch.nn.utils.clip_grad_norm_(
                    params, settings.max_grad_norm if settings.max_grad_norm > 0 else math.inf
                )
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                loss = float(loss_sum)  # synchronises the device: the time below is real
                dt = time.perf_counter() - t0
                tokens += n_tok
                seconds += dt
                run_tokens += n_tok
                run_seconds += dt
                losses.append(loss)
                row: dict[str, Any] = {
                    "step": step,
                    "epoch": step * settings.batch_size * settings.grad_accum / len(convs),
                    "loss": loss,
                    "lr": lr,
                    "grad_norm": float(norm),
                    "tokens": n_tok,
                    "label_tokens": n_label,
                    "seconds": dt,
                    "tokens_per_s": n_tok / dt if dt > 0 else None,
                }
                if cuda:
                    row["peak_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
                log.write(row)
                advance(1)
                if control.log_every and (step % control.log_every == 0 or step == last):
                    echo(
                        f"step {step}/{total} loss {loss:.4f} lr {lr:.2e} {n_tok / dt:.0f} tokens/s"
                    )
                if step % control.save_every == 0 or step == last:
                    save_checkpoint(
                        folder, peft_model, optimizer, Checkpoint(step, tokens, seconds)
                    )
    finally:
        log.close()
    done = step >= total
    if done:
        _save_final(folder, adapter, peft_model, settings.model, control.merge)
    run.update({"to_step": step, "seconds": run_seconds, "tokens": run_tokens})
    old.update({"status": "done" if done else "stopped", "step": step})
    _write_manifest(folder, old)
    rate = run_tokens / run_seconds if run_seconds else 0.0
    return FinetuneSummary(ck.step + 1, step, total, losses, rate, folder, done)
