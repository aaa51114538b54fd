"""Token map: which image (and which grid cell of it) every sequence position holds.

Pure numpy. Each adapter builds one per prompt; masks, pooling bookkeeping and attention statistics
all read it, so it is the single place where "token -> (image, row, col) or text" is decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TokenMap", "grid_cells", "pool_cells", "token_map_from_ids"]

TEXT = -1
"""Image index (and row/col) value of text tokens."""


@dataclass(frozen=True, eq=False)
class TokenMap:
    """Per-position arrays over one prompt of length ``L``.

    ``image[p]`` is the 0-based image index of position ``p`` or -1 for text; ``row``/``col`` its
    cell in that image's token grid, or -1 (text, or a vision token without a cell such as
    LLaVA-OneVision's per-image newline token). ``grids[i]`` is image ``i``'s ``(rows, cols)``.
    """

    image: np.ndarray
    row: np.ndarray
    col: np.ndarray
    grids: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return int(self.image.shape[0])

    @property
    def n_images(self) -> int:
        return len(self.grids)

    @property
    def is_vision(self) -> np.ndarray:
        return self.image >= 0

    def vision_counts(self) -> list[int]:
        """Vision tokens per image, in image order."""
        return np.bincount(self.image[self.is_vision], minlength=self.n_images).tolist()

    @property
    def n_vision(self) -> int:
        return int(self.is_vision.sum())

    @property
    def n_text(self) -> int:
        return len(self) - self.n_vision

    def positions(self, i: int) -> np.ndarray:
        """Sequence positions of image ``i``'s vision tokens (ascending)."""
        return np.flatnonzero(self.image == i)


def grid_cells(rows: int, cols: int, extra: int = 0) -> np.ndarray:
    """Row-major ``(row, col)`` cells of a ``rows x cols`` grid plus ``extra`` cell-less tokens."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    cells = np.stack([r, c], axis=1)
    return np.concatenate([cells, np.full((extra, 2), TEXT)]) if extra else cells


def pool_cells(cells: np.ndarray, factor: int) -> np.ndarray:
    """Cells after 1-D pooling by ``factor``: each pooled token keeps its window's first cell."""
    return cells[::factor]


def token_map_from_ids(
    input_ids: np.ndarray,
    image_token_id: int,
    cells: list[np.ndarray],
    grids: list[tuple[int, int]],
) -> TokenMap:
    """Assign the ``image_token_id`` placeholders of ``input_ids`` to images, in order.

    ``cells[i]`` holds one ``(row, col)`` per vision token of image ``i``; the placeholders are
    consumed left to right. Raises ``ValueError`` if the placeholder count does not match.
    """
    ids = np.asarray(input_ids).reshape(-1)
    where = np.flatnonzero(ids == image_token_id)
    counts = [len(c) for c in cells]
    if len(where) != sum(counts):
        raise ValueError(
            f"{len(where)} image placeholders in the prompt but the images need "
            f"{sum(counts)} ({counts})"
        )
    image = np.full(len(ids), TEXT, dtype=np.int32)
    row = np.full(len(ids), TEXT, dtype=np.int32)
    col = np.full(len(ids), TEXT, dtype=np.int32)
    if counts:
        image[where] = np.repeat(np.arange(len(cells), dtype=np.int32), counts)
        all_cells = np.concatenate(cells).astype(np.int32)
        row[where], col[where] = all_cells[:, 0], all_cells[:, 1]
    return TokenMap(image=image, row=row, col=col, grids=tuple(grids))
