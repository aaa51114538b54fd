"""Settings of a ``mimicgen finetune`` run: what decides its losses and weights.

Pure Python (no torch): the settings and the ``--mask`` value validate before a model is loaded.
A resumed run must have the same settings as the run it continues (:func:`settings_diff`).
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mimicgen.errors import InputError, SpecError, first_problem
from mimicgen.probes.spec import MaskKind, MaskProbe, parse_probe

__all__ = [
    "DEFAULT_LORA_TARGETS",
    "AttentionBackend",
    "FinetuneSettings",
    "make_settings",
    "parse_mask",
    "settings_diff",
]

AttentionBackend = Literal["auto", "flex", "eager"]
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The decoder's attention and MLP projections (the LLaVA-NeXT LoRA recipes' targets)."""


def parse_mask(text: str) -> MaskProbe | None:
    """``blockdiag@12-23`` (the probe grammar without ``mask:``), or ``none`` for no mask."""
    text = text.strip()
    if text == "none":
        return None
    kind, at, layers = text.removeprefix("mask:").partition("@")
    if kind not in get_args(MaskKind) or not at:
        raise InputError(
            f"--mask {text!r}: use KIND@LAYERS (KIND {', '.join(get_args(MaskKind))}; LAYERS "
            "e.g. 12-23, 3, 0,2,5-7 or all), or none"
        )
    if not re.fullmatch(r"[\d,\- ]+|all", layers):
        raise InputError(
            f"--mask {text!r}: bad layer list {layers!r}; use e.g. 12-23, 3, 0,2,5-7 or all"
        )
    try:
        probe = parse_probe(f"mask:{kind}@{layers}")
    except SpecError as exc:
        raise InputError(f"--mask {text!r}: {exc}") from None
    assert isinstance(probe, MaskProbe)
    return probe


class FinetuneSettings(BaseModel):
    """One fine-tuning run; a resume must match every field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """Hub id or local folder of the base VLM (loaded with ``from_pretrained``)."""
    data: str
    """Training folder, conversation file or data-mixture YAML (absolute path)."""
    mask: str = "none"
    """``KIND@LAYERS`` in the probe grammar (``blockdiag@12-23``), or ``none``."""
    steps: int | None = Field(None, ge=1)
    """Optimizer steps; ``None``: ``epochs`` passes over the data."""
    epochs: float = Field(1.0, gt=0)
    """Passes over the data when ``steps`` is not given."""
    batch_size: int = Field(1, ge=1)
    """Conversations per forward pass."""
    grad_accum: int = Field(1, ge=1)
    """Forward passes per optimizer step (the loss is the mean over all their label tokens)."""
    pack: bool = False
    """Pack each forward pass's conversations into one row (segment-aware masks) instead of
    padding them."""
    lr: float = Field(2e-4, gt=0)
    """Peak learning rate (AdamW)."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    """Share of the steps with a linear warm-up from 0."""
    schedule: Literal["cosine", "constant"] = "cosine"
    """Learning rate after warm-up: cosine decay to 0, or constant."""
    max_grad_norm: float = Field(1.0, ge=0)
    """Gradient clipping norm (0: no clipping)."""
    lora_rank: int = Field(8, ge=1)
    """LoRA rank r."""
    lora_alpha: int = Field(16, ge=1)
    """LoRA scaling alpha (the update is scaled by alpha / r)."""
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    """Dropout on the LoRA input."""
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS
    """Projection names in the language model's decoder layers that get LoRA adapters (the
    vision tower and projector stay frozen)."""
    seed: int = 0
    """Seeds the data order (numpy) and the LoRA initialisation and dropout (torch)."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Weights of the base model."""
    attention: AttentionBackend = "auto"
    """``flex`` (block-sparse, compiled on CUDA), ``eager`` (float-mask reference), ``auto``
    (flex on CUDA, eager on CPU, where PyTorch has no FlexAttention backward)."""
    gradient_checkpointing: bool = False
    """Recompute decoder activations in the backward pass (less memory, more time)."""


def make_settings(**values: object) -> FinetuneSettings:
    """:class:`FinetuneSettings` with a one-line error naming the flag on bad values."""
    try:
        settings = FinetuneSettings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        key, msg, got = first_problem(exc)
        raise InputError(f"--{key.split('.')[0].replace('_', '-')} {got!r}: {msg}") from None
    parse_mask(settings.mask)  # a bad --mask fails here, before any model is loaded
    return settings


def settings_diff(old: dict[str, object], new: FinetuneSettings) -> list[str]:
    """Fields whose recorded value differs from ``new`` (JSON form)."""
    now = new.model_dump(mode="json")
    return sorted(k for k in set(now) | set(old) if old.get(k) != now.get(k))
