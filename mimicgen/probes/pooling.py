"""1-D average pooling of an image's vision tokens (the ``pool:F`` probe)."""

from __future__ import annotations

import torch

__all__ = ["avg_pool_tokens", "pooled_length"]


def pooled_length(n: int, factor: int) -> int:
    """Tokens left after pooling ``n`` tokens by ``factor`` (a last partial window is kept)."""
    return -(-n // factor)


def avg_pool_tokens(features: torch.Tensor, factor: int) -> torch.Tensor:
    """Average consecutive windows of ``factor`` tokens of ``features`` ``(n, d)``, in order.

    Returns ``(ceil(n / factor), d)``; the last window averages only the tokens it has.
    """
    if factor < 1:
        raise ValueError(f"pool factor must be >= 1, got {factor}")
    if factor == 1:
        return features
    n = features.shape[0]
    window = torch.arange(n, device=features.device) // factor
    n_out = pooled_length(n, factor)
    sums = torch.zeros((n_out, features.shape[1]), dtype=torch.float32, device=features.device)
    sums.index_add_(0, window, features.float())
    counts = torch.bincount(window, minlength=n_out).clamp(min=1).to(sums)
    return (sums / counts[:, None]).to(features.dtype)
