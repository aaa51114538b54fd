"""Checkpoints of a fine-tuning run: everything a resumed run needs to continue bit for bit.

::

    checkpoints/step-000040/
        adapter/          LoRA weights in PEFT's format (PeftModel.from_pretrained reads it)
        optimizer.pt      AdamW state
        rng.pt            torch's CPU (and CUDA) generator states (LoRA dropout)
        state.json        {"step": 40, "tokens": ..., "seconds": ...}

The data order is a function of the seed and the step, so it needs no state. A checkpoint is
written under a temporary name and renamed into place: a run killed while saving leaves the
previous checkpoint as the latest one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mimicgen.io import atomic_write_text
from mimicgen.train.lora import load_adapter_weights

__all__ = ["Checkpoint", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

_NAME = re.compile(r"step-(\d{6,})")


@dataclass(frozen=True)
class Checkpoint:
    """What :func:`load_checkpoint` restores besides the weights and optimizer."""

    step: int
    """Optimizer steps done."""
    tokens: int
    """Tokens trained on so far."""
    seconds: float
    """Training time so far (all runs)."""


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def save_checkpoint(
    folder: Path, peft_model: Any, optimizer: torch.optim.Optimizer, ck: Checkpoint
) -> Path:
    """Write ``folder/checkpoints/step-NNNNNN`` (atomically: staged, then renamed)."""
    root = folder / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{ck.step:06d}"
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=root))
    try:
        peft_model.save_pretrained(str(staging / "adapter"))
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(_rng_state(), staging / "rng.pt")
        atomic_write_text(
            staging / "state.json",
            json.dumps({"step": ck.step, "tokens": ck.tokens, "seconds": ck.seconds}) + "\n",
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the most steps under ``folder/checkpoints`` (None if there is none)."""
    root = folder / "checkpoints"
    found = [
        (int(m[1]), p)
        for p in (root.iterdir() if root.is_dir() else ())
        if (m := _NAME.fullmatch(p.name)) and (p / "state.json").exists()
    ]
    return max(found)[1] if found else None


def load_checkpoint(path: Path, peft_model: Any, optimizer: torch.optim.Optimizer) -> Checkpoint:
    """Restore the LoRA weights, optimizer state and generator states saved at ``path``."""
    load_adapter_weights(peft_model, path / "adapter")
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    rng = torch.load(path / "rng.pt", weights_only=True)
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    return Checkpoint(int(state["step"]), int(state["tokens"]), float(state["seconds"]))
