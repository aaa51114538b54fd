"""The training attention function, registered through transformers' attention interface.

Models are loaded with ``attn_implementation={"text_config": "mimicgen_train", ...}``; every
decoder attention call of the language model comes to :func:`train_attention_forward`. Inside
:func:`train_masks` it replaces the model's own mask with the batch's masks (the chosen kind in
the chosen layers, causal elsewhere; packed segments and padding respected everywhere):

* ``flex`` backend: FlexAttention with a ``BlockMask`` (the fast path; compiled when asked, as
  a block-sparse kernel only does when compiled). PyTorch has no FlexAttention backward on CPU,
  so training on CPU uses the ``eager`` backend.
* ``eager`` backend: eager attention with the additive float mask (the reference).

Outside :func:`train_masks` it is plain ``sdpa`` with the model's mask (inference, generation).
"""

from __future__ import annotations

import contextvars
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

from mimicgen.probes.attention import eager_chunked
from mimicgen.probes.spec import MaskKind
from mimicgen.train.masks import block_mask, float_mask
from mimicgen.train.spans import BatchSpans

__all__ = [
    "TRAIN_ATTN",
    "Backend",
    "TrainMasks",
    "build_masks",
    "choose_backend",
    "register",
    "train_attention_forward",
    "train_masks",
]

TRAIN_ATTN = "mimicgen_train"
"""Name under which the training attention function is registered."""

Backend = Literal["flex", "eager"]


@dataclass(frozen=True)
class TrainMasks:
    """The masks one forward (and backward) pass uses, each built on first use and then reused
    by every layer that applies it, in the forward and in the recomputed forward (gradient
    checkpointing): one build per distinct kind per batch, none for a kind no layer applies."""

    backend: Backend
    """``flex`` (BlockMask) or ``eager`` (float mask)."""
    layers: frozenset[int]
    """Decoder layers (``layer_idx``) that use ``kind``; the others use causal."""
    spans: BatchSpans
    """The batch's span tables (the masks' only input)."""
    kind: MaskKind | None
    """Mask kind of ``layers`` (``None``: causal everywhere)."""
    dtype: torch.dtype = torch.float32
    """Float masks' dtype (eager backend)."""
    compiled: bool = False
    """Run FlexAttention through ``torch.compile`` (the block-sparse kernel)."""
    cache: dict[MaskKind | None, Any] = field(default_factory=dict, repr=False, compare=False)
    """Masks built so far, by kind (``None``: causal); :meth:`clear` frees them."""

    def mask(self, kind: MaskKind | None) -> Any:
        """Mask of ``kind`` (a ``BlockMask`` or a ``(B, 1, L, L)`` float tensor), built once."""
        if kind not in self.cache:
            self.cache[kind] = (
                block_mask(self.spans, kind)
                if self.backend == "flex"
                else float_mask(self.spans, kind, self.dtype)
            )
        return self.cache[kind]

    def for_layer(self, layer: int) -> Any:
        """The mask decoder layer ``layer`` applies."""
        return self.mask(self.kind if layer in self.layers else None)

    def build(self, num_layers: int) -> TrainMasks:
        """Build now the masks of layers ``0..num_layers-1`` (before the model runs: outside any
        checkpointed region, and before activations take memory); returns ``self``."""
        for layer in range(num_layers):
            self.for_layer(layer)
        return self

    @property
    def masked(self) -> Any:
        """Mask of the chosen kind (causal when there is none)."""
        return self.mask(self.kind if self.layers else None)

    @property
    def plain(self) -> Any:
        """Causal mask with the same segments and padding."""
        return self.mask(None)

    def clear(self) -> None:
        """Drop the built masks (after the batch's backward: the next batch builds its own)."""
        self.cache.clear()


def choose_backend(
    attention: Literal["auto", "flex", "eager"], device: str
) -> tuple[Backend, bool]:
    """``(backend, compiled)`` for training on ``device``: ``auto`` is compiled FlexAttention on
    CUDA (uncompiled it evaluates every pair, block-sparse only in name) and eager elsewhere;
    ``flex`` off CUDA is a one-line error (PyTorch has no FlexAttention backward on CPU)."""
    from mimicgen.errors import InputError

    try:
        cuda = torch.device(device).type == "cuda"
    except RuntimeError:
        raise InputError(
            f"--device {device!r}: not a torch device; use cpu, cuda or cuda:N"
        ) from None
    backend: Backend = ("flex" if cuda else "eager") if attention == "auto" else attention
    if backend == "flex" and not cuda:
        raise InputError(
            "--attention flex trains on CUDA only (PyTorch has no FlexAttention backward on "
            "CPU); use --attention eager or auto"
        )
    return backend, backend == "flex"


_STATE: contextvars.ContextVar[TrainMasks | None] = contextvars.ContextVar(
    "mimicgen_train", default=None
)


def build_masks(
    spans: BatchSpans,
    kind: MaskKind | None,
    layers: frozenset[int],
    backend: Backend,
    dtype: torch.dtype = torch.float32,
    compiled: bool = False,
) -> TrainMasks:
    """Masks for one batch: ``kind`` in ``layers`` (``None`` or no layers: causal everywhere),
    built when a layer first applies them."""
    return TrainMasks(backend, layers, spans, kind if layers else None, dtype, compiled)


@contextmanager
def train_masks(masks: TrainMasks) -> Iterator[TrainMasks]:
    """Apply ``masks`` to the attention calls inside the block (forward and backward: wrap the
    backward too when activations are recomputed)."""
    token = _STATE.set(masks)
    try:
        yield masks
    finally:
        _STATE.reset(token)


_COMPILED: dict[str, Any] = {}


def _flex(compiled: bool) -> Any:
    from torch.nn.attention.flex_attention import flex_attention

    if not compiled:
        return flex_attention
    if "flex" not in _COMPILED:
        # Dynamic shapes: training batches vary in length, and a static compile specialises
        # on every new length (a recompile per step, then an unfused fallback past dynamo's
        # recompile limit).
        _COMPILED["flex"] = torch.compile(flex_attention, dynamic=True)
    return _COMPILED["flex"]


def train_attention_forward(
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
    layer = getattr(module, "layer_idx", None)
    if state is None or layer is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    mask = state.for_layer(layer)
    scale = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])
    if state.backend == "flex":
        with warnings.catch_warnings():
            # Uncompiled FlexAttention (the CPU check path) warns that it is not the fast kernel.
            warnings.filterwarnings(
                "ignore", message=".*flex_attention called without torch.compile"
            )
            out = _flex(state.compiled)(
                query,
                key,
                value,
                block_mask=mask,
                scale=scale,
                enable_gqa=query.shape[1] != key.shape[1],
            )
        return out.transpose(1, 2).contiguous(), None
    # The reference path: the probes' eager attention, weights discarded.
    out = eager_chunked(
        module, query, key, value, mask.to(query.dtype), scale, lambda _w, _start: None
    )
    return out, None


def register() -> str:
    """Register the attention function (and ``sdpa``'s mask builder for use outside
    :func:`train_masks`); idempotent."""
    AttentionInterface.register(TRAIN_ATTN, train_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(TRAIN_ATTN, sdpa_mask)
    return TRAIN_ATTN
