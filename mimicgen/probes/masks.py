"""Attention masks from a token map (numpy booleans; made additive where they are applied).

Each kind says which (query, key) pairs may attend over the whole prompt, causality included:

``blockdiag``         vision tokens see only their own image; text is causal over everything.
``invisible``         vision tokens see their own image and (earlier) text, never another image.
``invisible-strict``  as ``invisible``, but vision tokens see only the text *before the first
                      image*: text placed after an image carries that image, so it is cut too.
``bidirectional``     causal, plus every vision token sees every vision token of every image
                      (later images included), i.e. cross-image attention both ways.

Generated (answer) tokens are text and always attend the whole prompt.
"""

from __future__ import annotations

import numpy as np

from mimicgen.probes.spec import MaskKind
from mimicgen.probes.tokens import TokenMap

__all__ = ["additive_mask", "allowed_pairs"]


def allowed_pairs(tokens: TokenMap, kind: MaskKind) -> np.ndarray:
    """Boolean ``(L, L)`` matrix: ``[q, k]`` is True where query ``q`` may attend key ``k``."""
    n = len(tokens)
    img = tokens.image
    vis = img >= 0
    causal = np.tril(np.ones((n, n), dtype=bool))
    same = img[:, None] == img[None, :]
    vq = vis[:, None]
    if kind == "blockdiag":
        return np.where(vq, causal & same, causal)
    if kind == "invisible":
        return np.where(vq, causal & (same | ~vis[None, :]), causal)
    if kind == "invisible-strict":
        first = int(np.argmax(vis)) if vis.any() else n
        prefix_text = ~vis & (np.arange(n) < first)
        return np.where(vq, causal & (same | prefix_text[None, :]), causal)
    if kind == "bidirectional":
        return causal | (vq & vis[None, :])
    raise ValueError(f"unknown mask kind {kind!r}")


def additive_mask(allowed: np.ndarray, neg: float) -> np.ndarray:
    """Float mask to *add* to scores: 0 where allowed, ``neg`` (a huge negative) elsewhere.

    Additive, not boolean: eager attention adds the mask to the scores, so a boolean mask would add
    0/1 and mask nothing.
    """
    return np.where(allowed, np.float32(0.0), np.float32(neg)).astype(np.float32)
