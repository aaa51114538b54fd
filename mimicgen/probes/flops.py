"""Attention cost model: dense vs masked attention (the MIMIC paper's Table 7).

Pure Python (no torch), so ``mimicgen flops`` works without the ``probes`` extra.

The paper's accounting, per decoder layer, in multiply-accumulates:

* projections: ``N * d**2`` for a sequence of ``N`` tokens of width ``d`` (the same under any mask);
* scores: ``S * d`` where ``S`` is the number of (query, key) pairs that attend.

Dense attention attends all ``N**2`` pairs. The block-diagonal mask lets each image's
``V`` vision tokens attend only their own image (``M * V**2`` pairs) while the ``T`` text tokens
attend the whole sequence (``T * N`` pairs). With ``M = 10.4``, ``T = 17.4``, ``V = 730``:
``d = 896`` gives 58.0B dense vs 11.2B masked, ``d = 1536`` gives 106.9B vs 26.7B (Table 7).
Summing over ``layers`` (default 1, the paper's per-layer figure) scales both; masking only some
layers mixes the two costs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AttentionCost", "attended_pairs", "attention_cost"]


@dataclass(frozen=True)
class AttentionCost:
    """Dense and masked attention cost for one configuration (multiply-accumulates)."""

    dense: float
    """Cost with full attention in every layer."""
    masked: float
    """Cost with the block-diagonal mask in the masked layers (dense elsewhere)."""

    @property
    def saving(self) -> float:
        """Fraction of the dense cost saved by masking (0.81 = 81 %)."""
        return 1.0 - self.masked / self.dense if self.dense else 0.0


def attended_pairs(
    n_images: float, text_tokens: float, vision_per_image: float, masked: bool
) -> float:
    """Number of (query, key) pairs that attend, dense or under the block-diagonal mask."""
    n = n_images * vision_per_image + text_tokens
    if not masked:
        return n * n
    # Vision tokens see only their own image; text tokens see everything.
    return n_images * vision_per_image**2 + text_tokens * n


def attention_cost(
    n_images: float,
    text_tokens: float,
    vision_per_image: float,
    hidden: int,
    layers: int = 1,
    masked_layers: int | None = None,
) -> AttentionCost:
    """Dense vs block-diagonal attention cost summed over ``layers`` decoder layers.

    ``masked_layers`` is how many of those layers carry the mask (default: all of them).
    Raises ``ValueError`` on negative inputs or more masked layers than layers.
    """
    if min(n_images, text_tokens, vision_per_image) < 0 or hidden <= 0 or layers <= 0:
        raise ValueError("token counts must be >= 0 and hidden size / layers > 0")
    k = layers if masked_layers is None else masked_layers
    if not 0 <= k <= layers:
        raise ValueError(f"masked_layers must be between 0 and layers ({layers}), got {k}")
    n = n_images * vision_per_image + text_tokens
    projections = n * hidden**2
    dense_layer = (
        projections + attended_pairs(n_images, text_tokens, vision_per_image, False) * hidden
    )
    masked_layer = (
        projections + attended_pairs(n_images, text_tokens, vision_per_image, True) * hidden
    )
    return AttentionCost(
        dense=dense_layer * layers,
        masked=masked_layer * k + dense_layer * (layers - k),
    )
