"""Mask kinds and the token map, on a hand-written 8-token prompt."""

from __future__ import annotations

import numpy as np
import pytest

from mimicgen.probes.masks import additive_mask, allowed_pairs
from mimicgen.probes.tokens import grid_cells, pool_cells, token_map_from_ids

IMG = 9
# t0 [img0 img0] t3 [img1 img1] t6 t7 : text, image 0, text, image 1, two text tokens.
IDS = np.array([1, IMG, IMG, 2, IMG, IMG, 3, 4])


def _tokens():
    return token_map_from_ids(IDS, IMG, [grid_cells(1, 2), grid_cells(1, 2)], [(1, 2), (1, 2)])


def _rows(allowed, q):
    return np.flatnonzero(allowed[q]).tolist()


def test_token_map_from_ids():
    t = _tokens()
    assert t.image.tolist() == [-1, 0, 0, -1, 1, 1, -1, -1]
    assert t.col.tolist() == [-1, 0, 1, -1, 0, 1, -1, -1]
    assert t.vision_counts() == [2, 2] and t.n_text == 4
    with pytest.raises(ValueError, match="placeholders"):
        token_map_from_ids(IDS, IMG, [grid_cells(1, 3)], [(1, 3)])


def test_grid_and_pool_cells():
    cells = grid_cells(2, 3, extra=1)
    assert cells.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [-1, -1]]
    assert pool_cells(cells, 4).tolist() == [[0, 0], [1, 1]]


def test_blockdiag():
    a = allowed_pairs(_tokens(), "blockdiag")
    assert _rows(a, 1) == [1] and _rows(a, 2) == [1, 2]
    assert _rows(a, 5) == [4, 5]  # image 1 sees neither image 0 nor text
    assert _rows(a, 7) == list(range(8))  # text is causal over everything


def test_invisible_and_strict():
    a = allowed_pairs(_tokens(), "invisible")
    assert _rows(a, 5) == [0, 3, 4, 5]  # text, own image; not image 0
    s = allowed_pairs(_tokens(), "invisible-strict")
    assert _rows(s, 5) == [0, 4, 5]  # t3 follows image 0, so it is cut as well
    assert _rows(s, 6) == list(range(7))


def test_bidirectional():
    a = allowed_pairs(_tokens(), "bidirectional")
    assert _rows(a, 1) == [0, 1, 2, 4, 5]  # image 0 sees the later image 1
    assert _rows(a, 3) == [0, 1, 2, 3]  # text stays causal


def test_additive_mask_values():
    m = additive_mask(allowed_pairs(_tokens(), "blockdiag"), -1e9)
    assert m.dtype == np.float32
    assert m[5, 4] == 0 and m[5, 1] == np.float32(-1e9) and m[0, 1] == np.float32(-1e9)
