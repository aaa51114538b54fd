"""Load a VLM for masked training and run its language model on a :class:`~mimicgen.train.data.Batch`.

The model is loaded through the probe adapters (one place for each family's prompt format, image
encoding and positions) with the training attention function for its language model. The vision
tower and projector stay frozen (their features are computed without gradients); the forward pass
scatters the features into the token embeddings and runs the decoder under the batch's masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from mimicgen.probes.adapters import adapter_for
from mimicgen.probes.adapters.base import VLMAdapter, resolve_dtype
from mimicgen.probes.spec import MaskKind
from mimicgen.train.attention import (
    TRAIN_ATTN,
    Backend,
    TrainMasks,
    build_masks,
    register,
    train_masks,
)
from mimicgen.train.data import IGNORE, Batch
from mimicgen.train.spans import BatchSpans, derive_spans

__all__ = [
    "MaskPlan",
    "TrainOutput",
    "batch_spans",
    "enable_checkpointing",
    "forward",
    "load_for_training",
]


def load_for_training(path: str, dtype: str = "float32", device: str | None = None) -> VLMAdapter:
    """Adapter whose language model calls the training attention function. ``random:NAME``
    builds a random-weight model at a published size (:mod:`mimicgen.probes.real_sizes`)
    directly on ``device``."""
    from transformers import AutoConfig, AutoTokenizer

    from mimicgen.errors import InputError
    from mimicgen.probes.real_sizes import build_random_model, is_random, real_size

    register()
    attn = {"text_config": TRAIN_ATTN, "vision_config": "sdpa"}
    if is_random(path):
        _, entry = real_size(path)
        net, tokenizer, processor = build_random_model(
            path, device=device or "cpu", dtype=resolve_dtype(dtype), attn=attn
        )
        return adapter_for(entry.family)(net, tokenizer, processor)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot load a model config from {path!r} ({exc.__class__.__name__}); "
            "pass a local model folder or a cached hub id"
        ) from None
    cls = adapter_for(config.model_type)
    model = cls.model_class().from_pretrained(
        path,
        dtype=resolve_dtype(dtype),
        attn_implementation=attn,
    )
    if device:
        model = model.to(device)
    adapter = cls(
        model,
        AutoTokenizer.from_pretrained(path),
        cls.image_processor_class().from_pretrained(path),
    )
    return adapter


def enable_checkpointing(adapter: VLMAdapter) -> None:
    """Gradient checkpointing of the decoder layers (recomputed in the backward pass: wrap
    ``backward()`` in :func:`~mimicgen.train.attention.train_masks`)."""
    # Non-reentrant: the frozen embeddings need no grad for the LoRA layers to get one.
    kwargs = {"use_reentrant": False}
    if hasattr(adapter.model, "activation_checkpointing_enable"):  # transformers >= 5 name
        adapter.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        adapter.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


@dataclass(frozen=True)
class MaskPlan:
    """Which mask, where, on which backend."""

    kind: MaskKind | None = None
    """Mask kind (``None``: causal everywhere)."""
    layers: frozenset[int] = frozenset()
    """Decoder layers carrying ``kind``."""
    backend: Backend = "eager"
    """``flex`` (block-sparse) or ``eager`` (float-mask reference)."""
    compiled: bool = False
    """Compile FlexAttention (the fast kernel; CUDA for training)."""


@dataclass
class TrainOutput:
    loss: torch.Tensor
    """Mean cross-entropy over the label tokens."""
    hidden_states: tuple[torch.Tensor, ...] | None
    """Embeddings and every decoder layer's output, when asked for."""
    n_label_tokens: int
    masks: TrainMasks
    """The masks used; wrap ``loss.backward()`` in ``train_masks(masks)`` when activations are
    recomputed (gradient checkpointing)."""


def batch_spans(adapter: VLMAdapter, batch: Batch) -> BatchSpans:
    """Span tables of ``batch`` (derived from its ids, padding and segments)."""
    return derive_spans(
        batch.input_ids,
        adapter.image_token_id,
        batch.attention_mask,
        batch.segment_ids,
        batch.tokens_per_image,
    )


def forward(
    adapter: VLMAdapter,
    batch: Batch,
    plan: MaskPlan,
    features: list[torch.Tensor] | None = None,
    hidden_states: bool = False,
) -> TrainOutput:
    """Loss of ``batch`` under ``plan``'s masks. ``features`` replaces the batch's vision
    features (e.g. leaves that require grad, for gradient checks)."""
    lm: Any = adapter.language_model
    feats = batch.features if features is None else features
    embeds = lm.embed_tokens(batch.input_ids)
    vision = batch.input_ids == adapter.image_token_id
    if feats:
        flat = torch.cat([f.to(embeds.device, embeds.dtype) for f in feats])
        embeds = embeds.masked_scatter(vision[..., None].expand_as(embeds), flat)
    masks = build_masks(
        batch_spans(adapter, batch),
        plan.kind,
        plan.layers,
        plan.backend,
        embeds.dtype,
        plan.compiled,
    ).build(adapter.num_layers)
    with train_masks(masks):
        out = lm(
            inputs_embeds=embeds,
            position_ids=batch.position_ids,
            use_cache=False,
            output_hidden_states=hidden_states,
        )
        logits = adapter.model.lm_head(out.last_hidden_state)
        labels = batch.labels[:, 1:]
        loss = F.cross_entropy(
            logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE
        )
    return TrainOutput(
        loss, out.hidden_states if hidden_states else None, batch.n_label_tokens, masks
    )
