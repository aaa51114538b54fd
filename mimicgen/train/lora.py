"""LoRA adapters (PEFT) on the language model of a VLM loaded for training.

Only the decoder layers' projections get adapters; the vision tower and projector stay frozen.
Adapters are saved in PEFT's own format (``adapter_config.json`` + ``adapter_model.safetensors``),
which ``PeftModel.from_pretrained`` and :func:`load_finetuned` read back.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch

from mimicgen.errors import InputError, MissingExtraError
from mimicgen.probes.adapters.base import VLMAdapter
from mimicgen.train.settings import FinetuneSettings

__all__ = [
    "apply_lora",
    "load_adapter_weights",
    "load_finetuned",
    "need_peft",
    "target_pattern",
    "trainable",
]


def need_peft() -> None:
    """Raise :class:`MissingExtraError` unless peft is importable."""
    try:
        import peft  # noqa: F401
    except ImportError:
        raise MissingExtraError("train", "peft") from None


def target_pattern(targets: tuple[str, ...]) -> str:
    """PEFT ``target_modules`` regex: the named projections inside the decoder layers only
    (the vision towers have ``q_proj`` etc. too, and stay frozen)."""
    names = "|".join(re.escape(t) for t in targets)
    return rf".*language_model\.layers\.\d+\.(?:[^.]+\.)*(?:{names})"


def apply_lora(adapter: VLMAdapter, settings: FinetuneSettings) -> Any:
    """Wrap ``adapter.model`` in a ``PeftModel`` (the layers are replaced in place, so the
    adapter's own references see the LoRA layers). LoRA weights are drawn from torch's generator:
    seed it first."""
    need_peft()
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.lora_rank,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=target_pattern(settings.lora_targets),
        bias="none",
    )
    try:
        with warnings.catch_warnings():
            # peft asks transformers' deprecated ``is_gradient_checkpointing``; not ours to fix.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            peft_model = get_peft_model(adapter.model, config)
    except ValueError as exc:
        if "not found in the base model" not in str(exc) and "Target modules" not in str(exc):
            raise
        raise InputError(
            f"--lora-targets {','.join(settings.lora_targets)}: no such projection in the "
            "model's decoder layers; use names such as q_proj,k_proj,v_proj,o_proj"
        ) from None
    return peft_model


def load_adapter_weights(peft_model: Any, folder: Path) -> None:
    """Load saved LoRA weights (a PEFT adapter folder) into ``peft_model``."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(folder / "adapter_model.safetensors"), device="cpu")
    result = set_peft_model_state_dict(peft_model, weights)
    unexpected = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    if unexpected:
        raise InputError(f"{folder}: adapter weights do not fit this model ({unexpected[0]}, ...)")


def load_finetuned(
    model: str, adapter_folder: str | Path, dtype: str = "float32", device: str | None = None
) -> VLMAdapter:
    """The base ``model`` loaded for training with a saved LoRA adapter applied (evaluation
    mode; call ``adapter.model.train()`` to continue training)."""
    need_peft()
    from peft import PeftModel

    from mimicgen.train.model import load_for_training

    adapter = load_for_training(model, dtype=dtype, device=device)
    folder = Path(adapter_folder)
    if not (folder / "adapter_config.json").exists():
        raise InputError(f"{folder} holds no adapter_config.json; pass a finetune adapter folder")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        PeftModel.from_pretrained(adapter.model, str(folder))
    adapter.model.eval()
    return adapter


def trainable(peft_model: Any) -> list[torch.nn.Parameter]:
    """The LoRA parameters, in module order (the optimizer's parameter order)."""
    return [p for p in peft_model.parameters() if p.requires_grad]
