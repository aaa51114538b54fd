"""Several probe queries in one forward pass: left-padded prompts, per-sequence masks.

The decoding itself is the ``hf`` predict backend's (:func:`mimicgen.predict.hf.generate_batch`):
prompts left-padded to one width ``W``, each row's positions kept as its adapter computed them
(M-RoPE included), one KV cache, each row stopping at its own end token or budget. What the probes
add is the mask: every row's additive ``(L_i, L_i)`` mask goes into the bottom-right corner of a
``(rows, 1, W, W)`` mask whose padding rows and columns are masked, so a real token never sees a
pad and sees exactly the pairs it sees alone.

The ``attn`` probe is not batched (its recorder reduces one sequence's weights; per-row reduction
across padding is not worth it): :func:`batchable` says so and the runner falls back to batch 1.
"""

from __future__ import annotations

import numpy as np
import torch

from mimicgen.probes.adapters.base import PreparedInput, VLMAdapter
from mimicgen.probes.attention import ProbeState
from mimicgen.probes.spec import ProbeConfig

__all__ = ["batch_mask", "batchable", "generate_probe_batch"]


def batchable(config: ProbeConfig) -> bool:
    """Whether queries under ``config`` may share a forward pass (all but ``attn``)."""
    return config.get("attn") is None


def batch_mask(masks: list[np.ndarray], neg: float) -> np.ndarray:
    """``(rows, 1, W, W)`` additive mask of left-padded prompts from per-row ``(L_i, L_i)`` masks.

    Padding keys are ``neg`` for every query; a padding query attends only itself, so its output
    stays finite (it is never read, but a NaN there would reach real rows as ``0 * NaN``).
    """
    width = max(m.shape[0] for m in masks)
    out = np.full((len(masks), 1, width, width), np.float32(neg), dtype=np.float32)
    for i, m in enumerate(masks):
        pad = width - m.shape[0]
        out[i, 0, pad:, pad:] = m
        out[i, 0, np.arange(pad), np.arange(pad)] = 0.0
    return out


def generate_probe_batch(
    adapter: VLMAdapter,
    prepared: list[PreparedInput],
    budgets: list[int],
    masks: list[np.ndarray] | None = None,
    mask_layers: frozenset[int] = frozenset(),
) -> list[list[int]]:
    """Greedy answers of several prepared prompts; ``masks``: one additive ``(L_i, L_i)`` per row
    applied in ``mask_layers`` (the prompt forward only, as at batch 1)."""
    from mimicgen.predict.hf import generate_batch

    state = None
    if masks is not None:
        neg = torch.finfo(prepared[0].inputs_embeds.dtype).min
        mask = torch.from_numpy(batch_mask(masks, neg))
        state = ProbeState(
            layer_of=adapter.layer_of,
            prompt_len=mask.shape[-1],
            mask=mask,
            mask_layers=mask_layers,
        )
        if state.active:
            adapter.check_probe_attention()
    return generate_batch(adapter, prepared, budgets, state)
