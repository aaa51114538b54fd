"""Per-token span tables of a training batch: which image, which packed sequence, which prefix.

A batch row may hold one conversation followed by padding, or several conversations packed end to
end. Masks need, for every position, the image it belongs to (unique within the row, -1 for text),
the sequence (segment) it belongs to (-1 for padding) and whether it is text before its segment's
first image (the ``invisible-strict`` kind cuts everything after it). All three are derived here
from the batch tensors alone, with numpy over whole rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["BatchSpans", "derive_spans"]


@dataclass(frozen=True, eq=False)
class BatchSpans:
    """``(B, L)`` tables over a batch (torch tensors on the batch's device)."""

    image: torch.Tensor
    """int32 image index of each position, unique within a row; -1 for text and padding."""
    segment: torch.Tensor
    """int32 packed-sequence index of each position within its row; -1 for padding."""
    prefix_text: torch.Tensor
    """bool: text before the first image of its own segment."""

    @property
    def shape(self) -> tuple[int, int]:
        b, n = self.image.shape
        return int(b), int(n)


def _row_images(
    ids: np.ndarray, seg: np.ndarray, image_token_id: int, counts: Sequence[int] | None
) -> np.ndarray:
    """Image index per position of one row: from per-image token ``counts`` in row order, or,
    without counts, one image per contiguous placeholder run (a run also ends at a segment
    boundary)."""
    vis = (ids == image_token_id) & (seg >= 0)
    where = np.flatnonzero(vis)
    image = np.full(ids.shape[0], -1, dtype=np.int32)
    if counts is None:
        if where.size:
            starts = np.ones(where.size, dtype=bool)
            starts[1:] = (np.diff(where) > 1) | (np.diff(seg[where]) != 0)
            image[where] = np.cumsum(starts) - 1
        return image
    if where.size != int(sum(counts)):
        raise ValueError(
            f"{where.size} image placeholders in a batch row but its images need "
            f"{int(sum(counts))} tokens ({list(counts)}); the batch and its images disagree"
        )
    image[where] = np.repeat(np.arange(len(counts), dtype=np.int32), np.asarray(counts, int))
    return image


def derive_spans(
    input_ids: torch.Tensor,
    image_token_id: int,
    attention_mask: torch.Tensor | None = None,
    segment_ids: torch.Tensor | None = None,
    tokens_per_image: Sequence[Sequence[int]] | None = None,
) -> BatchSpans:
    """Span tables of a ``(B, L)`` batch.

    ``segment_ids`` (``(B, L)``, -1 for padding) describes packed rows; without it each row is one
    segment and ``attention_mask`` (1 = token, 0 = padding, left or right) marks the padding.
    ``tokens_per_image[b]`` lists the vision-token count of each image of row ``b`` in order
    (needed when images follow each other with no text between them).
    """
    ids = input_ids.detach().cpu().numpy()
    if segment_ids is not None:
        seg = segment_ids.detach().cpu().numpy().astype(np.int32)
    elif attention_mask is not None:
        seg = np.where(attention_mask.detach().cpu().numpy() > 0, 0, -1).astype(np.int32)
    else:
        seg = np.zeros(ids.shape, dtype=np.int32)
    b, n = ids.shape
    image = (
        np.stack(
            [
                _row_images(
                    ids[r],
                    seg[r],
                    image_token_id,
                    None if tokens_per_image is None else tokens_per_image[r],
                )
                for r in range(b)
            ]
        )
        if b
        else np.zeros((0, n), np.int32)
    )
    # First image position of every (row, segment); segments without images get n.
    n_seg = int(seg.max()) + 1 if seg.size and seg.max() >= 0 else 1
    first = np.full((b, n_seg), n, dtype=np.int64)
    rows, cols = np.nonzero(image >= 0)
    np.minimum.at(first, (rows, seg[rows, cols]), cols)
    pos = np.broadcast_to(np.arange(n), (b, n))
    own_first = np.take_along_axis(first, np.maximum(seg, 0).astype(np.int64), axis=1)
    prefix = (image < 0) & (seg >= 0) & (pos < own_first)
    dev = input_ids.device
    return BatchSpans(
        image=torch.from_numpy(image).to(dev),
        segment=torch.from_numpy(seg).to(dev),
        prefix_text=torch.from_numpy(prefix).to(dev),
    )
