"""Adapters on tiny random models: token maps, masks in chosen layers, pooling."""

from __future__ import annotations

import numpy as np
import pytest

from tests.probes.conftest import FAMILIES, noise_image

torch = pytest.importorskip("torch")

from mimicgen.probes.masks import additive_mask, allowed_pairs
from mimicgen.probes.pooling import avg_pool_tokens

QUESTION = "how many dog are there ?"


def _rope_cells(position_ids, input_ids, image_token_id):
    """(row, col) of each image token as M-RoPE encodes it: the height and width positions
    minus the image's start position (which the temporal position holds for a still image)."""
    pos = position_ids[:, 0].cpu().numpy()
    where = np.flatnonzero(input_ids[0].cpu().numpy() == image_token_id)
    return np.stack([pos[1, where] - pos[0, where], pos[2, where] - pos[0, where]], axis=1)


def _outputs(adapter, images, kind=None, layers=frozenset()):
    prepared = adapter.prepare(images, QUESTION)
    state = None
    if kind is not None:
        mask = additive_mask(allowed_pairs(prepared.tokens, kind), torch.finfo(torch.float32).min)
        state = adapter.state(prepared, mask=mask, mask_layers=frozenset(layers))
    return prepared.tokens, adapter.layer_outputs(prepared, state)


@pytest.mark.parametrize("family", FAMILIES)
def test_token_map_matches_placeholders(adapters, family):
    adapter = adapters[family]
    images = [noise_image(i, size) for i, size in enumerate([(56, 56), (28, 56), (56, 28)])]
    prepared = adapter.prepare(images, QUESTION)
    ids = prepared.input_ids[0].numpy()
    tokens = prepared.tokens
    placeholder = np.flatnonzero(ids == adapter.image_token_id)
    np.testing.assert_array_equal(np.flatnonzero(tokens.is_vision), placeholder)
    # Images appear in order, each a contiguous run.
    assert list(tokens.image[placeholder]) == sorted(tokens.image[placeholder])
    for i in range(3):
        pos = tokens.positions(i)
        assert np.all(np.diff(pos) == 1)
    assert tokens.n_text == len(ids) - len(placeholder)
    assert (tokens.row[~tokens.is_vision] == -1).all()


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_qwen_token_cells_agree_with_mrope(adapters, family):
    adapter = adapters[family]
    images = [noise_image(0, (56, 56)), noise_image(1, (28, 56))]
    prepared = adapter.prepare(images, QUESTION)
    rope = _rope_cells(prepared.position_ids, prepared.input_ids, adapter.image_token_id)
    vis = prepared.tokens.is_vision
    np.testing.assert_array_equal(rope[:, 0], prepared.tokens.row[vis])
    np.testing.assert_array_equal(rope[:, 1], prepared.tokens.col[vis])
    # The processor's grid (patches of 14 px merged 2x2): 56x56 -> 2x2, 28 wide x 56 high -> 2x1.
    assert prepared.tokens.grids == ((2, 2), (2, 1))


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_mrope_from_cells_is_qwens_rule(adapters, family):
    """Our M-RoPE from token cells equals the model's own get_rope_index on unpooled prompts."""
    from mimicgen.probes.adapters.qwen2_vl import mrope_from_cells

    adapter = adapters[family]
    images = [noise_image(0, (56, 84)), noise_image(1, (28, 56)), noise_image(2, (84, 28))]
    prepared = adapter.prepare(images, QUESTION)
    cells = [
        np.stack([prepared.tokens.row[p], prepared.tokens.col[p]], axis=1)
        for p in (prepared.tokens.positions(i) for i in range(3))
    ]
    pos, nxt = mrope_from_cells(prepared.input_ids, adapter.image_token_id, cells)
    torch.testing.assert_close(pos, prepared.position_ids, rtol=0, atol=0)
    assert nxt == prepared.next_position


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_pooled_qwen_positions_keep_the_2d_extent_or_one_row(adapters, family):
    adapter = adapters[family]
    # 84 wide x 56 high -> 2 rows x 3 cols of merged tokens; 112x112 -> 4x4.
    images = [noise_image(0, (84, 56)), noise_image(1, (112, 112))]
    full = adapter.prepare(images, QUESTION)
    grid = adapter.prepare(images, QUESTION, pool=2)
    row = adapter.prepare(images, QUESTION, pool=2, pool_layout="row")
    # grid: windows (0,0)(0,1) | (0,2)(1,0) | (1,1)(1,2) sit at their first cells; the 4x4
    # image's windows are pairs along each row.
    rope = _rope_cells(grid.position_ids, grid.input_ids, adapter.image_token_id)
    second = [[r, c] for r in range(4) for c in (0, 2)]
    np.testing.assert_array_equal(rope, [[0, 0], [0, 2], [1, 1], *second])
    # ... so the text keeps the positions it has without pooling (same extent per image).
    text_full = full.position_ids[:, 0, ~full.tokens.is_vision]
    text_grid = grid.position_ids[:, 0, ~grid.tokens.is_vision]
    torch.testing.assert_close(text_grid, text_full, rtol=0, atol=0)
    assert grid.next_position == full.next_position
    # row: one row of consecutive width positions per image, so the 4x4 image (extent 4)
    # becomes 1 x 8 (extent 8) and the text after it moves 4 positions on.
    rope = _rope_cells(row.position_ids, row.input_ids, adapter.image_token_id)
    np.testing.assert_array_equal(rope, [[0, c] for c in range(3)] + [[0, c] for c in range(8)])
    assert row.next_position == full.next_position + 4
    assert torch.equal(row.inputs_embeds, grid.inputs_embeds)


@pytest.mark.parametrize("family", FAMILIES)
def test_blockdiag_isolates_images_and_text_sees_all(adapters, family):
    adapter = adapters[family]
    layer = adapter.num_layers - 2
    base = [noise_image(10), noise_image(11), noise_image(12)]
    changed = [base[0], noise_image(99), base[2]]  # change image j = 1
    masked = frozenset(range(layer + 1))  # mask layers 0..L so no earlier layer mixes images
    tokens, a = _outputs(adapter, base, "blockdiag", masked)
    _, b = _outputs(adapter, changed, "blockdiag", masked)
    _, a0 = _outputs(adapter, base)
    _, b0 = _outputs(adapter, changed)
    before, after = tokens.positions(0), tokens.positions(2)
    last = len(tokens) - 1  # a text token after all images
    # Under the mask: images before and after j are untouched by j's pixels.
    torch.testing.assert_close(a[layer][before], b[layer][before], rtol=0, atol=1e-6)
    torch.testing.assert_close(a[layer][after], b[layer][after], rtol=0, atol=1e-6)
    # Without it, the later image sees j (causal attention: the earlier one cannot).
    assert (a0[layer][after] - b0[layer][after]).abs().max() > 1e-4
    # Text still sees every image under the mask.
    assert (a[layer][last] - b[layer][last]).abs().max() > 1e-4
    # And cross-image attention both ways makes even the earlier image depend on j.
    _, c = _outputs(adapter, base, "bidirectional", masked)
    _, d = _outputs(adapter, changed, "bidirectional", masked)
    assert (c[layer][before] - d[layer][before]).abs().max() > 1e-4


@pytest.mark.parametrize("family", FAMILIES)
def test_mask_only_in_chosen_layers(adapters, family):
    adapter = adapters[family]
    images = [noise_image(20), noise_image(21)]
    top = adapter.num_layers - 1
    _, dense = _outputs(adapter, images)
    _, late = _outputs(adapter, images, "blockdiag", {top})
    # Layers below the masked one are bit-identical to the dense run; the masked one differs.
    for layer in range(top):
        torch.testing.assert_close(dense[layer], late[layer], rtol=0, atol=0)
    assert (dense[top] - late[top]).abs().max() > 1e-5


def _hand_pool(x: np.ndarray, f: int) -> np.ndarray:
    return np.stack([x[i : i + f].mean(0) for i in range(0, len(x), f)])


@pytest.mark.parametrize("family", FAMILIES)
def test_pool_divides_tokens_and_averages(adapters, family):
    adapter = adapters[family]
    images = [noise_image(30, (56, 56)), noise_image(31, (56, 56))]
    full = adapter.prepare(images, QUESTION)
    pooled = adapter.prepare(images, QUESTION, pool=2)
    n_full, n_pooled = full.tokens.vision_counts(), pooled.tokens.vision_counts()
    assert n_pooled == [-(-n // 2) for n in n_full]
    assert full.tokens.n_text == pooled.tokens.n_text
    feats = adapter.encode_images(images).features
    for i, f in enumerate(feats):
        got = pooled.inputs_embeds[0, pooled.tokens.positions(i)].numpy()
        np.testing.assert_allclose(got, _hand_pool(f.numpy(), 2), rtol=1e-5, atol=1e-6)
    ids = adapter.generate(pooled, 3)
    assert len(ids) <= 3


def test_avg_pool_tokens_hand_written():
    x = torch.arange(14, dtype=torch.float32).reshape(7, 2)
    out = avg_pool_tokens(x, 3)
    np.testing.assert_allclose(out.numpy(), [[2, 3], [8, 9], [12, 13]])
    assert avg_pool_tokens(x, 1) is x


@pytest.mark.parametrize("family", FAMILIES)
def test_prepared_inputs_reproduce_the_models_own_forward(adapters, family):
    """Our embeddings/positions give the same last-token logits as the model's forward()."""
    adapter = adapters[family]
    images = [noise_image(40), noise_image(41), noise_image(42)]
    prepared = adapter.prepare(images, QUESTION)
    batch = adapter.image_processor(images=images, return_tensors="pt")
    kwargs = {"input_ids": prepared.input_ids, "pixel_values": batch["pixel_values"]}
    if family == "llava_onevision":
        kwargs |= {"image_sizes": batch["image_sizes"], "batch_num_images": torch.tensor([3])}
    elif family != "internvl":
        kwargs |= {
            "image_grid_thw": batch["image_grid_thw"],
            "mm_token_type_ids": (prepared.input_ids == adapter.image_token_id).int(),
        }
    with torch.no_grad():
        ref = adapter.model(**kwargs).logits[0, -1]
    hidden = adapter.layer_outputs(prepared)[-1]
    mine = adapter.model.lm_head(adapter.language_model.norm(hidden[-1:]))[0]
    torch.testing.assert_close(mine, ref, rtol=1e-4, atol=1e-5)
