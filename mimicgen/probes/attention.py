"""Per-layer attention masks and statistics through transformers' attention interface.

One attention function, registered as ``mimicgen_probe`` with ``AttentionInterface.register`` (and
its mask builder with ``AttentionMaskInterface.register``), replaces nothing in the model classes:
the model is loaded with ``attn_implementation="mimicgen_probe"`` for its language model and every
decoder attention call comes here. With no active probe state it behaves exactly like ``sdpa``.
Inside :func:`probe_state` it

* swaps the layer's causal mask for the probe's additive mask in the chosen layers (prompt
  forward only; generated tokens are text and see everything, which the default mask gives); the
  mask is moved to each layer's own device and dtype once (layers may sit on several GPUs under
  ``device_map``), and
* when a :class:`AttentionRecorder` is attached, computes eager attention (to read the weights)
  in chunks of query rows and reduces each chunk at once to statistics, so neither an L x L
  weight matrix nor its fp32 copy is ever held: peak extra memory is one chunk
  (:data:`CHUNK_BYTES`).

Every layer that applies the mask or feeds the recorder is noted in the state, so
:meth:`ProbeState.check_applied` can refuse a run where the model never called this function
(a model loaded with ``sdpa``/``eager``/flash would otherwise ignore every mask silently).
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

from mimicgen.errors import InputError
from mimicgen.probes.tokens import TokenMap

__all__ = [
    "ATTN_IMPLEMENTATION",
    "CHUNK_BYTES",
    "AttentionRecorder",
    "ProbeState",
    "chunk_rows",
    "eager_chunked",
    "probe_attention_forward",
    "probe_state",
    "register",
]

ATTN_IMPLEMENTATION = "mimicgen_probe"
"""Name under which the probe attention function is registered."""

CHUNK_BYTES = 256 * 2**20
"""Budget for one chunk of recorded attention (scores, fp32 weights and their head mean)."""


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
    chunk_bytes: int = CHUNK_BYTES
    """Memory budget of one recorded attention chunk."""
    applied: set[int] = field(default_factory=set)
    """Layers whose prompt forward went through this function with the mask or the recorder."""
    _masks: dict[tuple[torch.device, torch.dtype], torch.Tensor] = field(default_factory=dict)

    def mask_for(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The mask on ``device`` in ``dtype``, converted once per (device, dtype)."""
        assert self.mask is not None
        key = (device, dtype)
        if key not in self._masks:
            self._masks[key] = self.mask.to(device=device, dtype=dtype)
        return self._masks[key]

    @property
    def active(self) -> bool:
        """Whether this state changes anything (a mask in some layer, or a recorder)."""
        return (self.mask is not None and bool(self.mask_layers)) or self.recorder is not None

    def check_applied(self) -> None:
        """After a prompt forward: raise unless every layer that should have applied the mask or
        fed the recorder did (otherwise the model bypassed the probe attention function)."""
        need = set(self.layer_of.values()) if self.recorder is not None else set()
        if self.mask is not None:
            need |= set(self.mask_layers)
        missing = sorted(need - self.applied)
        if missing:
            raise InputError(
                f"decoder layers {missing[:5]}{'...' if len(missing) > 5 else ''} never called the "
                f"'{ATTN_IMPLEMENTATION}' attention function, so masks/attn would silently do "
                "nothing; load the model with mimicgen.probes.adapters.load_adapter (or "
                f"attn_implementation={{'text_config': '{ATTN_IMPLEMENTATION}'}})"
            )


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


def chunk_rows(heads: int, keys: int, budget: int = CHUNK_BYTES) -> int:
    """Query rows per chunk so that ~3 fp32 ``(heads, rows, keys)`` buffers fit in ``budget``."""
    return max(1, budget // (3 * 4 * max(heads, 1) * max(keys, 1)))


def eager_chunked(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    observe: Callable[[torch.Tensor, int], None],
    budget: int = CHUNK_BYTES,
) -> torch.Tensor:
    """Eager attention (as the models' ``eager_attention_forward``) over chunks of query rows.

    ``observe(weights, start)`` receives each chunk's fp32 weights ``(batch, heads, rows, keys)``
    for query rows ``start..start+rows``; they are dropped after it returns. Returns the attention
    output ``(batch, q, heads, head_dim)``.
    """
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    n_q, n_k = query.shape[2], key.shape[-2]
    step = chunk_rows(query.shape[1], n_k, budget)
    key_t = key.transpose(2, 3)
    outs = []
    for start in range(0, n_q, step):
        stop = min(start + step, n_q)
        scores = torch.matmul(query[:, :, start:stop], key_t) * scaling
        if attention_mask is not None:
            scores = scores + attention_mask[:, :, start:stop, :n_k]
        weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32)
        del scores
        outs.append(torch.matmul(weights.to(query.dtype), value))
        observe(weights, start)
        del weights
    return torch.cat(outs, dim=2).transpose(1, 2).contiguous()


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
        attention_mask = state.mask_for(query.device, query.dtype)
        state.applied.add(layer)
    recorder = state.recorder
    if recorder is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if square_prompt:
        state.applied.add(layer)
    scale = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])

    def observe(weights: torch.Tensor, start: int) -> None:
        recorder.observe(layer, weights, start, prompt=square_prompt)

    out = eager_chunked(
        module, query, key, value, attention_mask, scale, observe, budget=state.chunk_bytes
    )
    return out, None


def register() -> str:
    """Register the attention function and its (additive, eager-style) mask builder; idempotent."""
    AttentionInterface.register(ATTN_IMPLEMENTATION, probe_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTN_IMPLEMENTATION, eager_mask)
    return ATTN_IMPLEMENTATION


@dataclass
class _Layer:
    """One layer's running sums, kept on that layer's device (no host sync per chunk)."""

    intra: torch.Tensor
    vision: torch.Tensor
    answer: torch.Tensor
    answer_n: int = 0


@dataclass
class AttentionRecorder:
    """Reduces attention weights to the ``attn`` probe's statistics as they are computed.

    * shares: per layer, of the attention paid by vision-token queries (prompt forward), the
      mean fraction going to the same image (intra), other images (inter) and text;
    * answer attention: per layer, the mean (over heads and answer tokens) attention row of the
      answer tokens over the prompt; answer tokens are the last prompt position (it emits the
      first answer token) and every generated token.

    Weights arrive in row chunks on whatever device the layer runs on; the token-map tensors are
    copied to each device once and the sums stay there until a statistic is read.
    """

    tokens: TokenMap
    num_layers: int
    _layers: dict[int, _Layer] = field(init=False, default_factory=dict)
    _dev: dict[torch.device, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._n_vision = int(self.tokens.is_vision.sum())

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(image index, is-vision, one-hot key -> image (L, M))`` on ``device``."""
        if device not in self._dev:
            img = torch.from_numpy(self.tokens.image.astype(np.int64)).to(device)
            vis = img >= 0
            m = max(self.tokens.n_images, 1)
            onehot = torch.nn.functional.one_hot(img.clamp(min=0), m).float()
            onehot = onehot * vis[:, None].float()
            self._dev[device] = (img, vis, onehot)
        return self._dev[device]

    def _layer(self, layer: int, device: torch.device) -> _Layer:
        if layer not in self._layers:
            acc = torch.float32 if device.type == "mps" else torch.float64
            zero = torch.zeros((), dtype=acc, device=device)
            n = len(self.tokens)
            self._layers[layer] = _Layer(
                zero.clone(), zero.clone(), torch.zeros(n, dtype=acc, device=device)
            )
        return self._layers[layer]

    def observe(
        self, layer: int, weights: torch.Tensor, start: int = 0, prompt: bool = True
    ) -> None:
        """Fold rows ``start..`` of one layer's weights ``(1, heads, rows, keys)`` into the
        statistics; ``prompt`` says they come from the square prompt forward."""
        n = len(self.tokens)
        acc = self._layer(layer, weights.device)
        w = weights[0].float().mean(0)  # (rows, keys), heads averaged
        if prompt:
            img, vis, onehot = self._on(weights.device)
            stop = start + w.shape[0]
            # Every row, weighted by "is a vision query": no boolean indexing, which would need
            # a device -> host sync (and is undefined on the meta device).
            is_vis = vis[start:stop].to(w.dtype)
            per_image = w @ onehot  # (rows, images)
            own = img[start:stop].clamp(min=0)[:, None]
            intra = per_image.gather(1, own).squeeze(1)
            acc.intra += (intra * is_vis).sum().to(acc.intra.dtype)
            acc.vision += (per_image.sum(1) * is_vis).sum().to(acc.vision.dtype)
            if stop < n:
                return
            last = w[-1:]  # the last prompt position emits the first answer token
        else:
            last = w[:, :n]
        acc.answer += last.sum(0).to(acc.answer.dtype)
        acc.answer_n += last.shape[0]

    @property
    def shares(self) -> np.ndarray:
        """``(layers, 3)`` mean intra / inter / text shares of vision queries (NaN: no data)."""
        out = np.full((self.num_layers, 3), np.nan)
        if not self._n_vision:
            return out
        for layer, acc in self._layers.items():
            intra = float(acc.intra.cpu()) / self._n_vision
            vision = float(acc.vision.cpu()) / self._n_vision
            out[layer] = [intra, vision - intra, 1.0 - vision]
        return out

    def answer_attention(self) -> np.ndarray:
        """``(layers, L)`` mean answer-token attention over the prompt positions."""
        out = np.zeros((self.num_layers, len(self.tokens)))
        for layer, acc in self._layers.items():
            out[layer] = acc.answer.cpu().double().numpy() / max(acc.answer_n, 1)
        return out

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
