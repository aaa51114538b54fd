"""Training masks from :class:`~mimicgen.train.spans.BatchSpans`: FlexAttention block masks (the
fast path: masked blocks are skipped) and additive float masks (the eager reference).

Both come from one ``mask_mod``, which applies the probe mask rule
:func:`mimicgen.probes.masks.pair_rule` and keeps attention inside each packed segment and off
padding keys. Every position may attend itself, so no row is empty (padding rows included) and
softmax stays finite on both paths.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mimicgen.probes.masks import pair_rule
from mimicgen.probes.spec import MaskKind
from mimicgen.train.spans import BatchSpans

__all__ = ["MaskMod", "allowed", "block_mask", "float_mask", "mask_mod"]

MaskMod = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""FlexAttention ``mask_mod(b, h, q_idx, kv_idx) -> bool``."""


def mask_mod(spans: BatchSpans, kind: MaskKind | None) -> MaskMod:
    """The ``mask_mod`` of ``kind`` (``None``: causal) over ``spans``."""
    img, seg, pre = spans.image, spans.segment, spans.prefix_text

    def mod(b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        rule = pair_rule(kind, img[b, q], img[b, k], q, k, pre[b, k])
        out: torch.Tensor = (rule & (seg[b, q] == seg[b, k]) & (seg[b, k] >= 0)) | (q == k)
        return out

    return mod


def allowed(spans: BatchSpans, kind: MaskKind | None) -> torch.Tensor:
    """Boolean ``(B, L, L)``: the ``mask_mod`` evaluated on the whole index grid."""
    b, n = spans.shape
    dev = spans.image.device
    bi = torch.arange(b, device=dev)[:, None, None]
    qi = torch.arange(n, device=dev)[None, :, None]
    ki = torch.arange(n, device=dev)[None, None, :]
    return mask_mod(spans, kind)(bi, torch.zeros((), dtype=torch.long, device=dev), qi, ki)


def float_mask(spans: BatchSpans, kind: MaskKind | None, dtype: torch.dtype) -> torch.Tensor:
    """Additive ``(B, 1, L, L)`` mask: 0 where allowed, the dtype's minimum elsewhere (additive,
    not boolean: eager attention adds the mask to the scores)."""
    ok = allowed(spans, kind)
    zero = torch.zeros((), dtype=dtype, device=ok.device)
    neg = torch.tensor(torch.finfo(dtype).min, dtype=dtype, device=ok.device)
    return torch.where(ok, zero, neg)[:, None]


def block_mask(spans: BatchSpans, kind: MaskKind | None, block_size: int = 128) -> object:
    """FlexAttention ``BlockMask`` of ``kind``: blocks with no allowed pair are never computed."""
    from torch.nn.attention.flex_attention import create_block_mask

    b, n = spans.shape
    return create_block_mask(
        mask_mod(spans, kind), b, None, n, n, device=spans.image.device, BLOCK_SIZE=block_size
    )
