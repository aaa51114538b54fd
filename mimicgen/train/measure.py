"""Measured cost of one attention layer, dense vs block-diagonal (``mimicgen flops --measure``).

The FLOPs model (:mod:`mimicgen.probes.flops`) counts attended pairs; this module times them. One
decoder attention layer at the chosen shapes (``M`` images of ``V`` vision tokens followed by ``T``
text tokens, width ``d``, Qwen2-style grouped-query heads) runs:

* ``projections``: the q, k, v and o projections (the same under any mask);
* ``dense``: FlexAttention with the causal block mask (what a causal decoder computes);
* ``blockdiag``: FlexAttention with the block-diagonal block mask of :mod:`mimicgen.train.masks`
  (vision tokens see their own image, text sees everything before it): blocks with no allowed
  pair are skipped;
* ``sdpa``: PyTorch's fused causal attention, the usual dense kernel, for reference;
* ``split``: the same block-diagonal attention as two ``sdpa`` calls, one causal over each
  image (the images as a batch) and one for the text rows over everything; it stands in for
  FlexAttention in the backward pass on CPU, where PyTorch has none.

FlexAttention is compiled (uncompiled it evaluates every pair and skips nothing); each
variant is run once untimed first. Times are medians over ``repeats`` runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from mimicgen.train.masks import block_mask
from mimicgen.train.spans import BatchSpans, derive_spans

__all__ = ["LayerShapes", "Measurement", "default_heads", "measure_attention", "spans_of"]


def default_heads(hidden: int) -> tuple[int, int]:
    """``(heads, kv_heads)`` of the Qwen2 decoders behind LLaVA-OneVision: 0.5B (896: 14, 2),
    1.5B (1536: 12, 2); otherwise 64-wide heads and 2 key/value heads."""
    return {896: (14, 2), 1536: (12, 2)}.get(hidden, (max(1, hidden // 64), 2))


@dataclass(frozen=True)
class LayerShapes:
    """One sequence: ``n_images`` images, then ``text_tokens`` text tokens."""

    n_images: int
    vision_tokens: int
    """Vision tokens per image."""
    text_tokens: int
    hidden: int
    heads: int
    kv_heads: int

    @property
    def length(self) -> int:
        return self.n_images * self.vision_tokens + self.text_tokens

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@dataclass
class Measurement:
    """Median seconds per variant, forward only and forward + backward."""

    shapes: LayerShapes
    device: str
    dtype: str
    forward: dict[str, float] = field(default_factory=dict)
    """``projections``, ``dense``, ``blockdiag``, ``sdpa``, ``split``."""
    backward: dict[str, float] = field(default_factory=dict)
    """Forward + backward of the attention variants (on CPU ``sdpa`` and ``split`` only)."""
    blocks_computed: float = 0.0
    """Blocks the block-diagonal mask computes, as a share of those the causal mask computes."""

    def saving(
        self, masked: str, dense: str, with_backward: bool = False, layer: bool = True
    ) -> float | None:
        """Measured share of the dense time saved: of the whole layer (``layer``: projections
        included; forward only) or of the attention alone (always with ``with_backward``).
        ``None`` when a variant was not timed."""
        times = self.backward if with_backward else self.forward
        if masked not in times or dense not in times:
            return None
        proj = self.forward["projections"] if layer and not with_backward else 0.0
        return 1.0 - (proj + times[masked]) / (proj + times[dense])


def spans_of(shapes: LayerShapes, device: str | torch.device = "cpu") -> BatchSpans:
    """Span tables of the one-row layout: the images, then the text."""
    image_id = 1
    ids = torch.zeros((1, shapes.length), dtype=torch.long)
    ids[0, : shapes.n_images * shapes.vision_tokens] = image_id
    spans = derive_spans(ids, image_id, tokens_per_image=[[shapes.vision_tokens] * shapes.n_images])
    return BatchSpans(*(t.to(device) for t in (spans.image, spans.segment, spans.prefix_text)))


def _median_time(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up (and compilation)
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def split_blockdiag(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, shapes: LayerShapes
) -> torch.Tensor:
    """Block-diagonal attention of the images-then-text layout with two ``sdpa`` calls: each
    image causally over itself (images as a batch), the text rows causally over everything."""
    m, n_v, t = shapes.n_images, shapes.vision_tokens, shapes.text_tokens
    b, h, n, d = q.shape
    hk = k.shape[1]

    def images(x: torch.Tensor, heads: int) -> torch.Tensor:
        return x[:, :, : m * n_v].reshape(b, heads, m, n_v, d).transpose(1, 2).flatten(0, 1)

    vis = F.scaled_dot_product_attention(
        images(q, h), images(k, hk), images(v, hk), is_causal=True, enable_gqa=h != hk
    )
    vis = vis.reshape(b, m, h, n_v, d).transpose(1, 2).flatten(2, 3)
    if t == 0:
        return vis
    rows = torch.arange(n - t, n, device=q.device)[:, None] >= torch.arange(n, device=q.device)
    text = F.scaled_dot_product_attention(
        q[:, :, n - t :], k, v, attn_mask=rows, enable_gqa=h != hk
    )
    return torch.cat([vis, text], dim=2)


def measure_attention(
    shapes: LayerShapes,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    backward: bool = False,
    repeats: int = 3,
    compiled: bool = True,
    seed: int = 0,
) -> Measurement:
    """Time the variants of the module docstring at ``shapes`` on ``device``."""
    from torch.nn.attention.flex_attention import flex_attention

    dev = torch.device(device)
    cuda = dev.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    gen = torch.Generator(device="cpu").manual_seed(seed)
    n, d, h, hk, hd = (shapes.length, shapes.hidden, shapes.heads, shapes.kv_heads, shapes.head_dim)

    def rand(*size: int) -> torch.Tensor:
        return torch.randn(*size, generator=gen).to(dev, dtype)

    x = rand(1, n, d)
    w = {"q": rand(h * hd, d), "k": rand(hk * hd, d), "v": rand(hk * hd, d), "o": rand(d, h * hd)}
    w = {name: t / d**0.5 for name, t in w.items()}

    def qkv(requires_grad: bool) -> tuple[torch.Tensor, ...]:
        out = []
        for name, heads in (("q", h), ("k", hk), ("v", hk)):
            t = (x @ w[name].T).view(1, n, heads, hd).transpose(1, 2).contiguous()
            out.append(t.requires_grad_(requires_grad))
        return tuple(out)

    spans = spans_of(shapes, dev)
    causal_mask, bd_mask = block_mask(spans, None), block_mask(spans, "blockdiag")
    flex = torch.compile(flex_attention, dynamic=False) if compiled else flex_attention
    result = Measurement(shapes, str(dev), str(dtype).removeprefix("torch."))
    dense_blocks = 100.0 - causal_mask.sparsity()  # type: ignore[attr-defined]
    result.blocks_computed = (100.0 - bd_mask.sparsity()) / dense_blocks  # type: ignore[attr-defined]

    def run(attend: Callable[..., torch.Tensor], with_grad: bool) -> Callable[[], object]:
        q, k, v = qkv(with_grad)

        def go() -> object:
            out = attend(q, k, v)
            if with_grad:
                out.float().sum().backward()
            return out

        return go

    def project() -> object:
        q = qkv(False)[0]
        return q.transpose(1, 2).reshape(1, n, h * hd) @ w["o"].T

    def flex_with(mask: Any) -> Callable[..., torch.Tensor]:
        return lambda q, k, v: flex(q, k, v, block_mask=mask, enable_gqa=h != hk)

    def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=h != hk)

    def split(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return split_blockdiag(q, k, v, shapes)

    variants = {
        "dense": flex_with(causal_mask),
        "blockdiag": flex_with(bd_mask),
        "sdpa": sdpa,
        "split": split,
    }
    with torch.no_grad():
        result.forward["projections"] = _median_time(project, repeats, sync)
        for name, attend in variants.items():
            result.forward[name] = _median_time(run(attend, False), repeats, sync)
    if backward:
        # PyTorch has no FlexAttention backward on CPU: there the sdpa pair stands in.
        names = list(variants) if dev.type != "cpu" else ["sdpa", "split"]
        for name in names:
            result.backward[name] = _median_time(run(variants[name], True), repeats, sync)
    return result
