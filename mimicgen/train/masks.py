"""Training masks from :class:`~mimicgen.train.spans.BatchSpans`: FlexAttention block masks (the
fast path: masked blocks are skipped) and additive float masks (the eager reference).

Both come from one ``mask_mod``, which applies the probe mask rule
:func:`mimicgen.probes.masks.pair_rule` and keeps attention inside each packed segment and off
padding keys. Every position may attend itself, so no row is empty (padding rows included) and
softmax stays finite on both paths.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

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


_COMPILED_BUILD: dict[str, Any] = {}


def _builder(device: torch.device) -> Callable[..., Any]:
    """``create_block_mask``, compiled on CUDA (eager it materialises the whole ``(B, L, L)``
    grid and its int64 intermediates: about 1 GB at 8k tokens; compiled it works block by
    block). Elsewhere, and once compiling has failed, the eager function."""
    from torch.nn.attention.flex_attention import create_block_mask

    if device.type != "cuda" or _COMPILED_BUILD.get("failed"):
        return create_block_mask
    if "build" not in _COMPILED_BUILD:
        # Dynamic shapes, as for the kernel: batch lengths vary from step to step.
        _COMPILED_BUILD["build"] = torch.compile(create_block_mask, dynamic=True)
    build: Callable[..., Any] = _COMPILED_BUILD["build"]
    return build


def block_mask(spans: BatchSpans, kind: MaskKind | None, block_size: int = 128) -> object:
    """FlexAttention ``BlockMask`` of ``kind``: blocks with no allowed pair are never computed."""
    from torch.nn.attention.flex_attention import create_block_mask

    b, n = spans.shape
    dev = spans.image.device
    args = (mask_mod(spans, kind), b, None, n, n)
    build = _builder(dev)
    if build is not create_block_mask:
        try:
            return build(*args, device=dev, BLOCK_SIZE=block_size)
        except Exception as err:  # noqa: BLE001 - any compile failure: the eager build is exact
            _COMPILED_BUILD["failed"] = True
            warnings.warn(
                f"compiled block-mask build failed ({type(err).__name__}); building eagerly",
                stacklevel=2,
            )
    return create_block_mask(*args, device=dev, BLOCK_SIZE=block_size)
