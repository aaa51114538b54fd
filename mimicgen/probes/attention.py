"""Per-layer attention masks and statistics through transformers' attention interface.

One attention function, registered as ``mimicgen_probe`` with ``AttentionInterface.register`` (and
its mask builder with ``AttentionMaskInterface.register``), replaces nothing in the model classes:
the model is loaded with ``attn_implementation="mimicgen_probe"`` for its language model and every
decoder attention call comes here. With no active probe state it behaves exactly like ``sdpa``.
Inside :func:`probe_state` it

* swaps the layer's causal mask for the probe's additive mask in the chosen layers (prompt
  forward only; generated tokens are text and see everything, which the default mask gives), and
* when a :class:`AttentionRecorder` is attached, computes eager attention (to read the weights)
  and reduces them at once to statistics, so no L x L matrix is kept.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

from mimicgen.probes.tokens import TokenMap

__all__ = [
    "ATTN_IMPLEMENTATION",
    "AttentionRecorder",
    "ProbeState",
    "eager_attention",
    "probe_attention_forward",
    "probe_state",
    "register",
]

ATTN_IMPLEMENTATION = "mimicgen_probe"
"""Name under which the probe attention function is registered."""


@dataclass
class ProbeState:
    """What the attention function applies during one forward pass or generation."""

    layer_of: dict[int, int]
    """``id(attention module) -> decoder layer index`` for the language model's layers."""
    prompt_len: int
    """Length of the prompt (the mask applies to the square prompt forward only)."""
    mask: torch.Tensor | None = None
    """Additive ``(1, 1, L, L)`` mask replacing the causal mask in ``mask_layers``."""
    mask_layers: frozenset[int] = frozenset()
    """Decoder layers that use ``mask``."""
    recorder: AttentionRecorder | None = None
    """Collects attention statistics when set (forces eager attention)."""


_STATE: contextvars.ContextVar[ProbeState | None] = contextvars.ContextVar(
    "mimicgen_probe", default=None
)


@contextmanager
def probe_state(state: ProbeState) -> Iterator[ProbeState]:
    """Activate ``state`` for the attention calls made inside the block."""
    token = _STATE.set(state)
    try:
        yield state
    finally:
        _STATE.reset(token)


def eager_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention (as in the models' ``eager_attention_forward``), returning the weights."""
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key.shape[-2]]
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    out = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return out, weights


def probe_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The registered attention function (signature of transformers' attention interface)."""
    state = _STATE.get()
    layer = state.layer_of.get(id(module)) if state is not None else None
    if state is None or layer is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    square_prompt = query.shape[2] == key.shape[2] == state.prompt_len
    if square_prompt and layer in state.mask_layers and state.mask is not None:
        attention_mask = state.mask.to(query.dtype)
    if state.recorder is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    scale = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])
    out, weights = eager_attention(module, query, key, value, attention_mask, scale)
    state.recorder.observe(layer, weights)
    return out, None


def register() -> str:
    """Register the attention function and its (additive, eager-style) mask builder; idempotent."""
    AttentionInterface.register(ATTN_IMPLEMENTATION, probe_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTN_IMPLEMENTATION, eager_mask)
    return ATTN_IMPLEMENTATION


@dataclass
class AttentionRecorder:
    """Reduces attention weights to the ``attn`` probe's statistics as they are computed.

    * shares: per layer, of the attention paid by vision-token queries (prompt forward), the
      mean fraction going to the same image (intra), other images (inter) and text;
    * answer attention: per layer, the mean (over heads and answer tokens) attention row of the
      answer tokens over the prompt; answer tokens are the last prompt position (it emits the
      first answer token) and every generated token.
    """

    tokens: TokenMap
    num_layers: int
    shares: np.ndarray = field(init=False)
    _answer_sum: np.ndarray = field(init=False)
    _answer_n: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.tokens)
        self.shares = np.full((self.num_layers, 3), np.nan)
        self._answer_sum = np.zeros((self.num_layers, n))
        self._answer_n = np.zeros(self.num_layers)
        img = torch.from_numpy(self.tokens.image.astype(np.int64))
        self._img = img
        self._vis = img >= 0
        # One-hot key -> image membership (L, M) for per-image sums by a matmul.
        self._onehot = torch.zeros((n, max(self.tokens.n_images, 1)), dtype=torch.float32)
        if self.tokens.n_images:
            self._onehot[self._vis, img[self._vis]] = 1.0

    def observe(self, layer: int, weights: torch.Tensor) -> None:
        """Fold one layer's weights ``(1, heads, q, k)`` into the statistics."""
        n = len(self.tokens)
        w = weights[0].float().mean(0)  # (q, k), heads averaged
        if w.shape[0] == w.shape[1] == n:
            if self._vis.any():
                rows = w[self._vis]  # vision queries
                per_image = rows @ self._onehot
                intra = per_image.gather(1, self._img[self._vis][:, None]).squeeze(1)
                vision = per_image.sum(1)
                self.shares[layer] = [
                    intra.mean().item(),
                    (vision - intra).mean().item(),
                    (1.0 - vision).mean().item(),
                ]
            last = w[-1:]
        else:
            last = w[:, :n]
        self._answer_sum[layer] += last.sum(0).double().numpy()
        self._answer_n[layer] += last.shape[0]

    def answer_attention(self) -> np.ndarray:
        """``(layers, L)`` mean answer-token attention over the prompt positions."""
        return self._answer_sum / np.maximum(self._answer_n, 1)[:, None]

    def image_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per layer and image: attention mass, and normalised entropy within the image."""
        att = self.answer_attention()
        n_img = self.tokens.n_images
        mass = np.zeros((self.num_layers, n_img))
        entropy = np.zeros((self.num_layers, n_img))
        for i in range(n_img):
            a = att[:, self.tokens.positions(i)]
            m = a.sum(1)
            mass[:, i] = m
            p = a / np.maximum(m, 1e-30)[:, None]
            h = -(p * np.log(np.where(p > 0, p, 1.0))).sum(1)
            entropy[:, i] = h / math.log(a.shape[1]) if a.shape[1] > 1 else 0.0
        return mass, entropy

    def maps(self) -> dict[str, np.ndarray]:
        """Answer-to-image attention maps: ``image{i}`` -> ``(layers, rows, cols)`` float32."""
        att = self.answer_attention()
        out: dict[str, np.ndarray] = {}
        for i, (rows, cols) in enumerate(self.tokens.grids):
            grid = np.zeros((self.num_layers, rows, cols), dtype=np.float32)
            pos = self.tokens.positions(i)
            r, c = self.tokens.row[pos], self.tokens.col[pos]
            keep = (r >= 0) & (c >= 0)
            # Cells are unique within an image (a pooled token keeps its window's first cell).
            grid[:, r[keep], c[keep]] = att[:, pos[keep]]
            out[f"image{i}"] = grid
        return out
