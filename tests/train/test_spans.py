"""Span tables of padded and packed batches, against hand-written rows."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mimicgen.probes.masks import allowed_pairs
from mimicgen.probes.tokens import grid_cells, token_map_from_ids
from mimicgen.train.masks import allowed
from mimicgen.train.spans import derive_spans

IMG = 9
P = 0  # pad


def test_padding_rows_left_and_right():
    ids = torch.tensor(
        [
            [1, IMG, IMG, 2, IMG, 3, P, P],  # right padding
            [P, P, 1, IMG, 2, IMG, IMG, 3],  # left padding
        ]
    )
    att = (ids != P).long()
    s = derive_spans(ids, IMG, attention_mask=att)
    assert s.image.tolist() == [[-1, 0, 0, -1, 1, -1, -1, -1], [-1, -1, -1, 0, -1, 1, 1, -1]]
    assert s.segment.tolist() == [[0, 0, 0, 0, 0, 0, -1, -1], [-1, -1, 0, 0, 0, 0, 0, 0]]
    # Only text before the first image of its own segment is prefix text; padding never is.
    assert s.prefix_text.tolist() == [
        [True, False, False, False, False, False, False, False],
        [False, False, True, False, False, False, False, False],
    ]


def test_packed_row_and_counts():
    # Two sequences in one row; the second starts with two adjacent images of 1 and 2 tokens.
    ids = torch.tensor([[1, IMG, IMG, 2, 1, IMG, IMG, IMG, 2, P]])
    seg = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1, 1, -1]])
    s = derive_spans(ids, IMG, segment_ids=seg, tokens_per_image=[[2, 1, 2]])
    assert s.image.tolist() == [[-1, 0, 0, -1, -1, 1, 2, 2, -1, -1]]
    assert s.prefix_text.tolist() == [[True, False, False, False, True] + [False] * 5]
    # Without counts, adjacent images are one run: image 1 and 2 merge.
    runs = derive_spans(ids, IMG, segment_ids=seg)
    assert runs.image.tolist() == [[-1, 0, 0, -1, -1, 1, 1, 1, -1, -1]]
    with pytest.raises(ValueError, match="5 image placeholders"):
        derive_spans(ids, IMG, segment_ids=seg, tokens_per_image=[[2, 2]])


@pytest.mark.parametrize("kind", ["blockdiag", "invisible", "invisible-strict", "bidirectional"])
def test_packed_mask_is_each_sequence_mask(kind):
    """A packed row's mask is the probe mask of each sequence on the diagonal, nothing across
    sequences, and padding attends only itself."""
    a_ids = np.array([1, IMG, IMG, 2, IMG, IMG, 3])
    b_ids = np.array([4, IMG, 5, IMG, IMG, 6])
    ta = token_map_from_ids(a_ids, IMG, [grid_cells(1, 2)] * 2, [(1, 2)] * 2)
    tb = token_map_from_ids(b_ids, IMG, [grid_cells(1, 1), grid_cells(1, 2)], [(1, 1), (1, 2)])
    ids = torch.from_numpy(np.concatenate([a_ids, b_ids, [P, P]]))[None]
    seg = torch.tensor([[0] * 7 + [1] * 6 + [-1, -1]])
    got = allowed(derive_spans(ids, IMG, segment_ids=seg, tokens_per_image=[[2, 2, 1, 2]]), kind)[
        0
    ].numpy()
    want = np.zeros((15, 15), dtype=bool)
    want[:7, :7] = allowed_pairs(ta, kind)
    want[7:13, 7:13] = allowed_pairs(tb, kind)
    want[13, 13] = want[14, 14] = True
    np.testing.assert_array_equal(got, want)
