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

__all__ = ["additive_mask", "allowed_pairs", "pair_rule"]


def pair_rule(kind, q_img, k_img, q_pos, k_pos, k_prefix_text):  # type: ignore[no-untyped-def]
    """Whether query ``q`` may attend key ``k``, element-wise: the one definition of every kind.

    Arguments are arrays that broadcast against each other (numpy arrays here; torch tensors in
    :mod:`mimicgen.train`, both as FlexAttention ``mask_mod`` scalars and as whole index grids
    for the float reference mask). Only operators are used, so the same code runs on both.
    ``q_img`` / ``k_img``: image index of each position (-1 for text); ``q_pos`` / ``k_pos``:
    sequence positions; ``k_prefix_text``: the key is text before its sequence's first image
    (read by ``invisible-strict`` only). ``kind=None`` is plain causal attention.
    """
    causal = k_pos <= q_pos
    if kind is None:
        return causal
    q_vis = q_img >= 0
    k_vis = k_img >= 0
    same = q_img == k_img
    if kind == "bidirectional":
        return causal | (q_vis & k_vis)
    if kind == "blockdiag":
        vision_row = causal & same
    elif kind == "invisible":
        vision_row = causal & (same | ~k_vis)
    elif kind == "invisible-strict":
        vision_row = causal & (same | k_prefix_text)
    else:
        raise ValueError(f"unknown mask kind {kind!r}")
    return (q_vis & vision_row) | (~q_vis & causal)


def allowed_pairs(tokens: TokenMap, kind: MaskKind) -> np.ndarray:
    """Boolean ``(L, L)`` matrix: ``[q, k]`` is True where query ``q`` may attend key ``k``."""
    n = len(tokens)
    img = tokens.image
    vis = img >= 0
    first = int(np.argmax(vis)) if vis.any() else n
    pos = np.arange(n)
    prefix_text = ~vis & (pos < first)
    out: np.ndarray = pair_rule(
        kind, img[:, None], img[None, :], pos[:, None], pos[None, :], prefix_text[None, :]
    )
    return out


def additive_mask(allowed: np.ndarray, neg: float) -> np.ndarray:
    """Float mask to *add* to scores: 0 where allowed, ``neg`` (a huge negative) elsewhere.

    Additive, not boolean: eager attention adds the mask to the scores, so a boolean mask would add
    0/1 and mask nothing.
    """
    return np.where(allowed, np.float32(0.0), np.float32(neg)).astype(np.float32)
